"""PHI patterns, context cues and dictionaries for Chinese notes.

* 身份证号: 18 characters (or the old 15 digits) with a valid birth date and, for 18, the
  GB 11643 check character;
* 手机号 / 座机: 11-digit mobiles ``1[3-9]…`` (``+86`` optional), landlines with an area code;
* 住院号/门诊号/病案号/… : the number after its label;
* 日期: ``2023年5月3日``, ``5月3日``, ``2023-05-03``, ``2023/5/3``, ``2023.5.3``, ``23.5.3``,
  Chinese numerals (``二〇二三年五月三日``), year + month;
* 年龄 over 89 (``92岁``, ``年龄：95``);
* 地址: after 住址/地址/现住/家住/户籍… up to the next punctuation, and any run of
  administrative units (省/市/区/县/镇/乡/街道/路/街/巷/号/栋/单元/室);
* 医院/卫生院/诊所… names with an attached 科室;
* 姓名: a surname from the dictionary plus one or two given-name characters after a cue
  (患者、姓名：、医师、护士、家属、之妻…) or before one (先生、女士、医生…), ``某``/``某某``
  masked names, and every other occurrence of a name found.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterator

from medai.privacy.gazetteer import gazetteer
from medai.privacy.phi import Span

__all__ = ["find_chinese", "valid_id_card"]

_CN_DIGITS = {"〇": 0, "零": 0, "○": 0, "Ｏ": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4,
              "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}  # fmt: skip
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def valid_id_card(text: str) -> bool:
    """True for a resident identity number with a real birth date and, if 18 long, checksum."""
    s = text.upper()
    if re.fullmatch(r"\d{17}[\dX]", s):
        birth = s[6:14]
        total = sum(int(c) * w for c, w in zip(s[:17], _ID_WEIGHTS, strict=True))
        if _ID_CHECK[total % 11] != s[17]:
            return False
    elif re.fullmatch(r"\d{15}", s):
        birth = "19" + s[6:12]
    else:
        return False
    try:
        born = dt.date(int(birth[:4]), int(birth[4:6]), int(birth[6:8]))
    except ValueError:
        return False
    return dt.date(1880, 1, 1) <= born <= dt.date.today()


_ID_CARD = re.compile(r"(?<![\dA-Za-z])(\d{17}[\dXx]|\d{15})(?![\dA-Za-z])")
_MOBILE = re.compile(r"(?<![\d])(?:\+?86[-\s]?)?1[3-9]\d(?:[-\s]?\d{4}){2}(?!\d)")
_LANDLINE = re.compile(r"(?<![\d-])(?:[(（]0\d{2,3}[)）]\s?|0\d{2,3}[-\s－]?)(?:\d{7,8}|\d{3,4}-\d{4})"
                       r"(?:[-－转]\d{1,5})?(?!\d)|(?<!\d)400[-\s]?\d{3}[-\s]?\d{4}(?!\d)")  # fmt: skip
_PHONE_CUE = re.compile(r"(?:电话|手机|联系方式|联系电话|座机|传真|Tel|TEL|tel|分机)[号码]*"
                        r"\s*[:：]?\s*(\d[\d\s-]{6,14}\d)")  # fmt: skip
_ID_LABELS = (r"微信号|微信|QQ号|QQ|支付宝|银行卡号|账号|账户|尾号|编号|证件号|证号|报案号|赔案号|住院号|门诊号|病案号|病历号|ID号|登记号|医保卡号|医保号|医保编号|社保卡号|社保号|"
              r"就诊卡号|就诊号|诊疗卡号|卡号|检查号|影像号|放射号|超声号|标本号|条码号|条形码|"
              r"保单号|保险单号|病理号|申请单号|流水号|档案号|健康卡号|患者ID|患者编号|"
              r"病人ID|住院流水号|床旁设备序列号|设备序列号|序列号|执业证号|执业证书编号|"
              r"资格证号|医师编号|工号|护照号|军官证号|驾驶证号|报告编号|会员号|订单号|"
              r"挂号单号|处方号|结算单号|发票号")  # fmt: skip
_ZIP = re.compile(r"(?:邮编|邮政编码|邮码)\s*[:：]?\s*(\d{6})(?!\d)")
_ID_CUE = re.compile(
    rf"(?:{_ID_LABELS})\s*[:：]?\s*(?:NO\.?|No\.?|#)?\s*([A-Za-z]{{0,4}}-?\d[\dA-Za-z-]{{2,}})"
)
_ID_SHAPE = re.compile(r"(?<![\dA-Za-z])(?:[A-Z]{1,4}-?\d{6,}|\d{8,})(?![\dA-Za-z])")
_DATE_PATTERNS = (
    re.compile(r"(?<!\d)(?:19|20)\d{2}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*[日号]?"),
    re.compile(r"(?<!\d)(?:19|20)\d{2}\s*年\s*\d{1,2}\s*月(?!\s*\d)(?:份|初|中旬|下旬|底|末)?"),
    re.compile(r"(?<![\d年])\d{1,2}\s*月\s*\d{1,2}\s*[日号]"),
    re.compile(
        r"(?<![\d.])(?:19|20)\d{2}[-/.年](?:0?[1-9]|1[0-2])[-/.月](?:0?[1-9]|[12]\d|3[01])"
        r"(?![\d.])(?:日)?"
    ),
    re.compile(r"(?<![\d.])\d{2}\.(?:0?[1-9]|1[0-2])\.(?:0?[1-9]|[12]\d|3[01])(?![\d.])"),
    re.compile(
        r"[〇零○一二两三四五六七八九]{2,4}年[一二三四五六七八九十]{1,3}月"
        r"(?:[一二三四五六七八九十]{1,3}[日号])?"
    ),
    re.compile(r"(?<!\d)(?:0?[1-9]|1[0-2])[/](?:0?[1-9]|[12]\d|3[01])(?![\d/])"),
)
_MMDD = re.compile(r"(?<![\d\-./])(?:0?[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])(?![\d\-])")
_MD_NOT = re.compile(r"(?:肌力|评分|分|级|视力|比值|血压|GCS|NRS|VAS)\s*[:：]?\s*$")
_AGE = re.compile(r"(?<![\d.])(9\d|1[0-2]\d)\s*(?:岁|周岁|歲)")
_AGE_CUE = re.compile(r"年龄\s*[:：]?\s*(9\d|1[0-2]\d)(?!\d)")
_ADDR_CUE = re.compile(r"(?:住址|地址|现住址|现住|家住|户籍地址|户籍地|户口所在地|居住地|通讯地址|"
                       r"联系地址|家庭住址|工作单位地址|单位地址|籍贯地址|出生地)\s*[:：]?\s*"
                       r"([^\s，,。;；:：\n|]{4,40})")  # fmt: skip
_ADMIN = (r"(?:[\u4e00-\u9fff]{2,8}?(?:省|自治区|特别行政区))?(?:[\u4e00-\u9fff]{1,8}?(?:市|自治州|州|盟|地区))?"
          r"(?:[\u4e00-\u9fff]{1,8}?(?:区|县|旗|市))?(?:[\u4e00-\u9fff]{1,8}?(?:镇|乡|街道|街办))?")  # fmt: skip
_STREET = re.compile(
    rf"{_ADMIN}[\u4e00-\u9fff\dA-Za-z]{{1,12}}?(?:路|街|大道|大街|巷|弄|胡同|村|社区|小区|花园|"
    rf"公寓|新村|苑|里|屯|组)(?:[\d一二三四五六七八九十百甲乙丙-]+(?:号院|号楼|号|弄|巷|组))?"
    rf"(?:[\d一二三四五六七八九十A-Za-z-]+(?:栋|幢|座|号楼|单元|楼|层|室|户|号))*"
)
_INSTITUTION = re.compile(
    r"[\u4e00-\u9fff（）()]{2,24}?(?:医院|卫生院|卫生服务中心|卫生服务站|卫生室|诊所|门诊部|保健院|"
    r"疗养院|医疗中心|医学中心|急救中心|体检中心|血站|疾病预防控制中心|疾控中心|养老院|敬老院|"
    r"福利院|护理院|康复中心|大学|学院|中学|小学|幼儿园|公司|集团|药房|药店)"
    r"(?:[\u4e00-\u9fff]{1,8}?(?:院区|分院))?(?:[\u4e00-\u9fff]{1,8}?(?:科|病区|中心|门诊|病房))?"
)
_INST_TRIM = re.compile(r"^.*(?:于|在|至|到|往|赴|入|从|由|和|与|转|送|经|去|来|住|日|、|，|经|为|"
                        r"行|及|就诊|前往|返回|收入|转入|转至|就读|工作|就职|任职|我院|本院|外院|"
                        r"上级|当地|附近|某)")  # fmt: skip
_GENERIC_INST = re.compile(r"^(?:[\u4e00-\u9fff]{0,2}(?:就诊|出险|定点|治疗|转诊|转出|转入|首诊|接诊|"
                           r"收治|签约|合作|互联网|网上|线上|指定|住院|原|贵|上述|上一|下级|"
                           r"医联体|协作)医院|我院|本院|外院|上级医院|当地医院|附近医院|该院|医院|社区医院|"
                           r"基层医院|专科医院|综合医院|三甲医院|二甲医院|私立医院|公立医院|"
                           r"大学|学院|中学|小学|公司|药店|药房|诊所|卫生院)$")  # fmt: skip
_NAME_CUES = (r"患者|病人|患儿|姓名|病员|家属|联系人|监护人|委托人|代理人|签名|签字|医师|医生|"
              r"大夫|主任|主治|住院医师|主治医师|主任医师|副主任医师|上级医师|经治医师|"
              r"管床医师|值班医师|值班医生|记录者|记录人|记录医师|记录|报告医师|审核医师|审核者|审核|"
              r"报告者|报告人|检查医师|诊断医师|操作者|术者|主刀|一助|二助|助手|麻醉师|麻醉医师|"
              r"护士|护士长|责任护士|主管护士|护师|药师|审核药师|调配|核对|发药|复核|技师|检验|"
              r"检验者|送检医生|送检医师|随访医生|随访人|随访者|理赔员|上门人员|参加人员|人员|用户|"
              r"被保险人|投保人|受益人|申请人|家长|陪诊|陪护|陪同|签收|收件人|介绍人|转诊医师|"
              r"之妻|之夫|之子|之女|其妻|其夫|其子|其女|其母|其父|妻子|丈夫|儿子|女儿|母亲|父亲|"
              r"爱人|配偶|孙子|孙女|外孙|外孙女|哥哥|姐姐|弟弟|妹妹|老伴|亲属|邻居|朋友|同事|保姆|"
              r"告知|通知|联系|Pt|pt")  # fmt: skip
_NAME_AFTER = (r"(?:先生|女士|小姐|老师|主任医师|副主任医师|主治医师|住院医师|医师|医生|大夫|主任|"
               r"护士长|护士|药师|技师|教授|同志|师傅|老人|阿姨|大爷|奶奶|爷爷|之妻|之子|之女|"
               r"家属|本人|签名|代签|同意|签字)")  # fmt: skip
#: What may follow a name: punctuation, space, a title or a verb of the note.
_AFTER_NAME = re.compile(r"(?:$|[\s\u3000，,。；;：:、（()）/|\-—…！!？?\]】》”\"'0-9]|"
                         r"先生|女士|小姐|老师|主任|医师|医生|大夫|护士|教授|药师|技师|同意|签字|"
                         r"诉|称|来|在|为|等|及|和|与|电话|手机|男|女|患|，|自|于|因|今|昨|近|入|出|"
                         r"突|述|无|有|病|已|现|既|家|经|行|拒|要|同|接|表示|签|陪|再|未|不|能|"
                         r"可|回|到|去|住|系|是|的|意见|查房|会诊|主诉|说|讲|问|答|反映|确认)")  # fmt: skip
_ROLE_COLON = re.compile(
    r"(?:[\u4e00-\u9fff]{0,4}(?:人|者|员|医师|医生|护士|护士长|药师|技师|主任|主检|翻译|陪同|交班|接班|"
    r"参加|主持)|姓名|交|接)[ \t\u3000]*[:：][ \t\u3000]*([\u4e00-\u9fff]{2,4})"
    r"(?=[ \t\u3000]*(?:$|[\n，,。；;、（(）)/]|[ \t\u3000]{2}))",
    re.M,
)
_ROLE_SURNAME = re.compile(r"(?:人|者|员|医师|医生|护士长|护士|药师|主任|主检|交|接|核对|发药|诊|—|－)"
                           r"[ \t\u3000]*[:：]?[ \t\u3000]*([\u4e00-\u9fff])(?=[ \t\u3000]*$|[ \t\u3000]{2})",
                           re.M)  # fmt: skip
_ROLE_WORDS = re.compile(r"查房|记录|父亲|母亲|女儿|儿子|丈夫|妻子|爱人|小名|本人|同意|签字|家属|患者|"
                         r"病人|医师|医生|护士|之[妻夫子女]|其[妻夫子女母父]|孙[子女]|哥哥|姐姐|弟弟|"
                         r"妹妹|朋友|邻居|同事|陪护|保姆|监护人|代理人|委托人|配偶|老伴|亲属|外[孙婆公]|"
                         r"无|未|已|不详|同上|见上|签名")  # fmt: skip
_NOT_SURNAME = set("主治值管床该此男女老医护各诸副原前后经由向班查")
_NOT_GIVEN = set("的了是在有和与及或等年月日时分岁男女性患者病人医师院科室床号住门诊入出"
                 "术后前中诉述示见予给行查体温度心肺腹部双侧左右上下无未不否可较"
                 "二三四五六七八九十各每次天周个位名例因于诊治疗痛咳热房记录镜"
                 "班查检验术后示主")  # fmt: skip


def _dates(text: str) -> Iterator[Span]:
    for m in _MMDD.finditer(text):
        before, after = text[max(0, m.start() - 4) : m.start()], text[m.end() : m.end() + 7]
        if re.match(r"[ \t\u3000]+\d{1,2}:\d{2}", after) or re.search(
            r"(?:时间|日期|至|到|~|～|—|\n|^)[:：]?[ \t\u3000]*$", before
        ):
            yield Span(m.start(), m.end(), "DATE", m.group(), "pattern", 0.8)
    for i, rx in enumerate(_DATE_PATTERNS):
        for m in rx.finditer(text):
            value = m.group().strip()
            if i == 6:  # 5/3 only with a date context
                before = text[max(0, m.start() - 8) : m.start()]
                after = text[m.end() : m.end() + 7]
                if _MD_NOT.search(before) or not (
                    re.search(
                        r"(?:于|在|至|到|日期|时间|复诊|随访|下次|预约|~|～|—|-|\n|^)[:：]?"
                        r"[ \t\u3000]*$",
                        before,
                    )
                    or re.match(r"[ \t\u3000]*(?:\d{1,2}:\d{2}|[日号]|上午|下午|晚)", after)
                ):
                    continue
                score = 0.7
            else:
                score = 1.0
            if i == 5 and not all(c in _CN_DIGITS for c in value.split("年")[0]):
                continue
            yield Span(m.start(), m.start() + len(value), "DATE", value, "pattern", score)


def _numbers(text: str) -> Iterator[Span]:
    for m in _ID_CARD.finditer(text):
        if valid_id_card(m.group(1)):
            yield Span(m.start(1), m.end(1), "ID_CARD", m.group(1))
    for m in _MOBILE.finditer(text):
        yield Span(m.start(), m.end(), "PHONE", m.group())
    for m in _LANDLINE.finditer(text):
        yield Span(m.start(), m.end(), "PHONE", m.group())
    for m in _PHONE_CUE.finditer(text):
        yield Span(m.start(1), m.end(1), "PHONE", m.group(1), "context", 0.9)
    for m in _ZIP.finditer(text):
        yield Span(m.start(1), m.end(1), "ZIP", m.group(1))
    for m in _ID_CUE.finditer(text):
        yield Span(m.start(1), m.end(1), "ID", m.group(1), "context", 0.95)
    for m in _ID_SHAPE.finditer(text):
        yield Span(m.start(), m.end(), "ID", m.group(), "pattern", 0.6)
    for rx in (_AGE, _AGE_CUE):
        for m in rx.finditer(text):
            yield Span(m.start(1), m.end(1), "AGE", m.group(1))


_PLACE_CUE = re.compile(r"(?:来自|返回|回到|居住|住在|长期居住|留居|移居|前往|赴|去往)"
                        r"([\u4e00-\u9fff]{2,8}?(?:市|县|州|旗|区|镇|乡|村))")  # fmt: skip
_CITY_CUE = re.compile(r"(?:在|居|来自|赴|去|到|回|住|往|于|籍贯|户籍|出生地|老家|来|从|"
                       r"[:：\t\s\u3000，,、])$")  # fmt: skip
_CITY_SUFFIX = re.compile(r"(?:市|县|区|人|籍|州|[，,。；;、\s\u3000）)（(]|$)")
_CITY_STRONG = re.compile(r"(?:赴|去|到|来自|前往|返回|回到|住在|来|户籍[:：]?|籍贯[:：]?)$")


@functools.lru_cache(maxsize=1)
def _city_index() -> dict[str, tuple[str, ...]]:
    """Chinese place names by first character, longest first."""
    index: dict[str, list[str]] = {}
    for c in gazetteer().cities_zh:
        index.setdefault(c[0], []).append(c)
    return {k: tuple(sorted(v, key=len, reverse=True)) for k, v in index.items()}


def _city_matches(text: str) -> Iterator[tuple[str, int]]:
    """(place, start) for the longest dictionary place starting at each position."""
    index = _city_index()
    for i, ch in enumerate(text):
        for city in index.get(ch, ()):
            if text.startswith(city, i):
                yield city, i
                break


def _places(text: str) -> Iterator[Span]:
    for m in _ADDR_CUE.finditer(text):
        yield Span(m.start(1), m.end(1), "ADDRESS", m.group(1), "context", 0.9)
    for m in _STREET.finditer(text):
        value = m.group()
        # a street needs an administrative unit or a house number to be an address
        if len(value) >= 5 and (re.search(r"(?:省|市|区|县|镇|乡)", value[:-1])
                                 or re.search(r"\d+号|[栋单元室]", value)):  # fmt: skip
            start = m.start()
            trim = _INST_TRIM.match(value)
            if trim and trim.end() < len(value) - 3:
                start += trim.end()
            yield Span(start, m.end(), "ADDRESS", text[start : m.end()], "pattern", 0.85)
    for m in _INSTITUTION.finditer(text):
        value = m.group()
        trim = _INST_TRIM.match(value)
        start = m.start() + (trim.end() if trim else 0)
        value = text[start : m.end()]
        if len(value) < 4 or _GENERIC_INST.match(value):
            continue
        yield Span(start, m.end(), "INSTITUTION", value, "pattern", 0.85)
    for m in _PLACE_CUE.finditer(text):
        yield Span(m.start(1), m.end(1), "CITY", m.group(1), "context", 0.75)
    for city, start in _city_matches(text):
        end = start + len(city)
        before, after = text[max(0, start - 4) : start], text[end : end + 2]
        cue = _CITY_CUE.search(before)
        suffix = _CITY_SUFFIX.match(after)
        strong = _CITY_STRONG.search(before)
        if len(city) >= 3 or (cue and suffix) or strong or after[:1] in ("市", "县", "区"):
            yield Span(start, end, "CITY", city, "dictionary", 0.7)


@functools.lru_cache(maxsize=1)
def _medical_terms() -> frozenset[str]:
    """Chinese clinical terms (the text pillar's bundled lexicons): never a name."""
    from importlib import resources

    terms: set[str] = set()
    for name in ("concepts_zh.tsv", "drugs_zh.tsv"):
        text = (resources.files("medai.text") / "rules" / name).read_text(encoding="utf-8")
        terms.update(line.split("\t")[0] for line in text.splitlines()[1:] if line)
    return frozenset(t for t in terms if len(t) >= 2)


def _medical(cand: str) -> bool:
    """``cand`` is, or starts, a clinical term."""
    terms = _medical_terms()
    return any(cand[:n] in terms for n in range(2, len(cand) + 1))


def _common(word: str, threshold: int = 100) -> bool:
    """``word`` is an ordinary word: jieba's dictionary (with the medical terms) counts it at
    least ``threshold`` times. Names that are also words (夏天, 白云) are lost; that is the
    price of not tagging 麻醉 or 时间 as names."""
    from medai.text.segment import _jieba

    freq = _jieba().FREQ.get(word, 0)
    return bool(freq and freq >= threshold) or _medical(word)


def _is_given(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" and ch not in _NOT_GIVEN


@functools.lru_cache(maxsize=1)
def _surname_sets() -> tuple[frozenset[str], frozenset[str]]:
    g = gazetteer()
    return (frozenset(s for s in g.zh_surnames if len(s) == 2),
            frozenset(s for s in g.zh_surnames if len(s) == 1))  # fmt: skip


def _surname_at(text: str, pos: int) -> str | None:
    double, single = _surname_sets()
    if text[pos : pos + 2] in double:
        return text[pos : pos + 2]
    return text[pos] if pos < len(text) and text[pos] in single else None


def _valid_name(cand: str) -> bool:
    """``cand`` is a surname followed by one or two given-name characters."""
    sur = _surname_at(cand, 0)
    if sur is None:
        return False
    rest = cand[len(sur) :]
    return 1 <= len(rest) <= 2 and all(_is_given(c) for c in rest)


def _name_at(text: str, pos: int) -> str | None:
    """A surname + 1-2 given characters starting at ``pos``, or a 某/某某 masked name."""
    sur = _surname_at(text, pos)
    if sur is None:
        return None
    rest = text[pos + len(sur) : pos + len(sur) + 2]
    if rest[:2] in ("某某", "XX", "xx", "**", "××"):
        return sur + rest[:2]
    if rest[:1] in ("某", "X", "x", "*", "×"):
        return sur + rest[:1]
    given = ""
    for ch in rest:
        if "\u4e00" <= ch <= "\u9fff" and ch not in _NOT_GIVEN:
            given += ch
        else:
            break
    if given:
        return sur + given
    return None


def _bounded_name(text: str, pos: int) -> str | None:
    """A name at ``pos`` that is followed by a boundary (punctuation, a title, a verb)."""
    name = _name_at(text, pos)
    while name:
        end = pos + len(name)
        if _AFTER_NAME.match(text, end):
            return None if _common(name, 1000) else name
        if name.endswith("某") or len(name) <= 2:
            return None
        name = name[:-1]
    return None


def _names(text: str) -> list[Span]:
    out: list[Span] = []
    for m in re.finditer(rf"(?:{_NAME_CUES})[ \t\u3000]*[:：]?[ \t\u3000]*", text):
        name = _bounded_name(text, m.end())
        if name:
            out.append(Span(m.end(), m.end() + len(name), "NAME", name, "context", 0.85))
        elif text[m.end() : m.end() + 1] in gazetteer().zh_surnames and \
                not re.match(r"[\u4e00-\u9fff]", text[m.end() + 1 : m.end() + 2]) and \
                re.search(r"(?:医师|医生|护士|药师|技师|检验|记录|审核|签名|随访医生)[:：]\s*$",
                          m.group()):  # fmt: skip
            out.append(Span(m.end(), m.end() + 1, "NAME", text[m.end()], "context", 0.75))
    # a name, then its sex or age: "付晨，男，41岁", "顾晓芸　女　37岁", "汤秀凤，95岁"
    for m in re.finditer(
        r"(?:^|(?<=[\s\u3000，,。：:；;、（(）)—\]】床]))([\u4e00-\u9fff]{2,4})"
        r"(?=[ \t\u3000]*[，,（(]?[ \t\u3000]*(?:男|女|\d{1,3}\s*岁|[MF]\b|[MF]/\d))",
        text,
    ):
        name = _bounded_name(text, m.start(1))
        if name and m.start(1) + len(name) <= m.end(1):
            out.append(Span(m.start(1), m.start(1) + len(name), "NAME", name, "context", 0.8))
        elif (
            not _ROLE_WORDS.search(m.group(1))
            and not _common(m.group(1))
            and not re.search(r"[科室院区床号岁性别年龄]", m.group(1))
        ):
            out.append(Span(m.start(1), m.end(1), "NAME", m.group(1), "context", 0.7))
    # a name at the start of a line, then a comma: "刘大海，入院第3天"
    for m in re.finditer(r"(?m)^[ \t\u3000]*([\u4e00-\u9fff]{2,4})(?=[，,])", text):
        if _valid_name(m.group(1)) and not _common(m.group(1)):
            out.append(Span(m.start(1), m.end(1), "NAME", m.group(1), "context", 0.7))
    # lists of people: "胸外科马骏、肿瘤内科邢晓光", "上门人员：鲁静、徐明", "殷/钮晓东"
    for m in re.finditer(
        r"(?<=[内外儿妇产眼骨疗射像理醉诊验养复剂声电学腔肤经心胸瘤化吸肾液泌湿染医"
        r"喉尿腺入症全])科([\u4e00-\u9fff]{2,4})(?=[、，,。：:\s\u3000/]|$)",
        text,
    ):
        name = _bounded_name(text, m.start(1))
        if name:
            out.append(Span(m.start(1), m.start(1) + len(name), "NAME", name, "context", 0.7))
    for _ in range(3):  # names listed after a name
        ends = {s.end for s in out}
        for end in sorted(ends):
            if text[end : end + 1] in ("、", "/", "，") and end + 1 not in {s.start for s in out}:
                name = _bounded_name(text, end + 1)
                if name and (
                    text[end] != "，"
                    or (
                        _AFTER_NAME.match(text, end + 1 + len(name))
                        and text[end + 1 + len(name) : end + 2 + len(name)] in "、，,。"
                    )
                ):
                    out.append(Span(end + 1, end + 1 + len(name), "NAME", name, "context", 0.7))
    # signatures: a name alone at the end of a line ("…来院探视。邝敏", "——于")
    for m in re.finditer(r"(?m)(?:^|[。；;！!\u3000]|——|--|—)[ \t\u3000]*([\u4e00-\u9fff]{2,3})[ \t\u3000]*$",
                         text):  # fmt: skip
        if _valid_name(m.group(1)) and not _common(m.group(1)):
            out.append(Span(m.start(1), m.end(1), "NAME", m.group(1), "context", 0.7))
    for m in re.finditer(r"(?m)(?:——|--|—)[ \t\u3000]*([\u4e00-\u9fff])[ \t\u3000]*$", text):
        if m.group(1) in gazetteer().zh_surnames:
            out.append(Span(m.start(1), m.end(1), "NAME", m.group(1), "context", 0.7))
    for m in re.finditer(_NAME_AFTER, text):
        for length in (3, 2, 4):
            start = m.start() - length
            if start < 0:
                continue
            cand = text[start : m.start()]
            if (
                _valid_name(cand)
                and not _common(cand)
                and (start == 0 or not _is_given(text[start - 1]) or length == 3)
            ):
                out.append(Span(start, m.start(), "NAME", cand, "context", 0.8))
                break
    g = gazetteer()
    for m in re.finditer(
        r"(?:先生|女士|小姐|老师|师傅|阿姨|大爷|奶奶|爷爷|医生|大夫|主任|护士)", text
    ):
        sur = text[m.start() - 1 : m.start()]
        prev = text[m.start() - 2 : m.start() - 1]
        if (
            re.match(r"[\u4e00-\u9fff]", prev)
            and prev not in "请由找问向和与及、老小告知系给经医转"
        ):
            continue
        if sur and sur in g.zh_surnames and sur not in _NOT_SURNAME and \
                not any(s.end == m.start() for s in out):  # fmt: skip
            out.append(Span(m.start() - 1, m.start(), "NAME", sur, "context", 0.7))
    for m in re.finditer(r"[\u4e00-\u9fff]{1,2}(?:某某|某)", text):
        name = _name_at(text, m.start())
        if name and name.endswith("某"):
            out.append(Span(m.start(), m.start() + len(name), "NAME", name, "context", 0.9))
    # "<role>人/者/员/师/护士…：" then any 2-4 characters up to a boundary (次仁旺堆, 乌日娜)
    for m in _ROLE_COLON.finditer(text):
        cand = m.group(1)
        if not _ROLE_WORDS.search(cand) and not _common(cand):
            out.append(Span(m.start(1), m.end(1), "NAME", cand, "context", 0.75))
    for m in _ROLE_SURNAME.finditer(text):  # "复核人：罗", "护士长 汪", "交：兰"
        if m.group(1) in gazetteer().zh_surnames:
            out.append(Span(m.start(1), m.end(1), "NAME", m.group(1), "context", 0.7))
    # strong "role：" cues take any 2-4 characters up to a boundary (艾合买提, 古丽娜尔)
    for m in re.finditer(
        r"(?:(?:医师|医生|护士|药师|技师|记录者?|审核者?|签名|签字|报告医师|审核医师|家属|联系人)"
        r"[ \t\u3000]*[:：]|(?:儿子|女儿|丈夫|妻子|父亲|母亲)[（(]?[ \t\u3000]*[:：，,]?)[ \t\u3000]*"
        r"([\u4e00-\u9fff]{2,4})(?=[ \t\u3000]*(?:$|[\n，,。；;、（(）)]))",
        text,
    ):
        if (
            not any(s.start <= m.start(1) < s.end for s in out)
            and not re.search(r"[病症炎癌术科室院药片针剂]", m.group(1))
            and not _ROLE_WORDS.search(m.group(1))
        ):
            out.append(Span(m.start(1), m.end(1), "NAME", m.group(1), "context", 0.7))
    # transliterated names with a middle dot: 阿卜杜拉·艾则孜
    for m in re.finditer(r"[\u4e00-\u9fff]{2,6}[·•・][\u4e00-\u9fff]{2,6}", text):
        out.append(Span(m.start(), m.end(), "NAME", m.group(), "pattern", 0.85))
    # pinyin names in Chinese notes ("Zhang Wei")
    for m in re.finditer(r"\b([A-Z][a-z]+)\s+([A-Z][a-z]+(?:\s?[A-Z][a-z]+)?)\b", text):
        first, second = m.group(1).lower(), m.group(2).lower()
        if (first in g.last_names or second in g.last_names) and (
            first in g.first_names or first in g.last_names
        ):
            out.append(Span(m.start(), m.end(), "NAME", m.group(), "dictionary", 0.7))
    # a second form of a name in brackets right after it: "Sarah Kim（金秀妍）", "钱阿婆（钱桂珍）"
    for m in re.finditer(r"[（(]([\u4e00-\u9fff]{2,4}|[A-Z][a-z]+ [A-Z][a-z]+)[）)]", text):
        before = text[max(0, m.start() - 12) : m.start()]
        after_name = any(s.end == m.start() for s in out)
        if (
            (after_name or re.search(r"[阿老小][婆伯公叔姨]$", before))
            and not _ROLE_WORDS.search(m.group(1))
            and not _common(m.group(1))
            and (_valid_name(m.group(1)) or not re.search(r"[病症炎癌术科室院]", m.group(1)))
        ):
            out.append(Span(m.start(1), m.end(1), "NAME", m.group(1), "context", 0.75))
    names = {s.text for s in out
             if len(s.text) >= 2 and not s.text.endswith("某") and not _common(s.text)}  # fmt: skip
    for name in names:
        for m in re.finditer(re.escape(name), text):
            out.append(Span(m.start(), m.end(), "NAME", name, "propagated", 0.75))
    return out


def find_chinese(text: str) -> list[Span]:
    """Candidate PHI spans of a Chinese note (overlapping; resolve with :func:`resolve`)."""
    from medai.privacy.english import _DATE_TEXT, _internet, _latin_names

    english_dates = [Span(m.start(), m.end(), "DATE", m.group()) for m in _DATE_TEXT.finditer(text)]
    return [*_dates(text), *english_dates, *_numbers(text), *_internet(text), *_places(text),
            *_names(text), *_latin_names(text)]  # fmt: skip
