"""Medication orders: drug, strength, dose, route, frequency, duration, as-needed, indication.

English ("metoprolol 25 mg PO BID", "amoxicillin 500mg tid x 7 days", "albuterol 2 puffs q4-6h
prn SOB") and Chinese ("阿莫西林胶囊 0.5g 口服 每日三次", "生理盐水 100ml 静滴 qd"). Routes map to a
fixed vocabulary and frequencies to doses per day (``rules/medications.yaml``; "q4-6h" counts
the most frequent, 6 a day).

An order starts at a drug mention (from the concept lexicon) and runs to the next drug, a line
break or ``;``/``；``/``。``; a strength with no known drug before it also starts an order, its
drug being the words just before the strength. A drug with no strength, dose, route or
frequency after it is a concept, not an order.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import cache
from typing import Any

from medai.core.errors import require
from medai.text.lexicon import Match, rules_text
from medai.text.segment import is_cjk

__all__ = ["Medication", "parse_medications"]


@dataclass
class Medication:
    """One order; offsets into the note (``end`` exclusive)."""

    start: int
    end: int
    text: str
    drug: str
    code: str | None = None
    strength: float | None = None
    unit: str | None = None
    dose: float | None = None
    dose_unit: str | None = None
    form: str | None = None
    route: str | None = None
    frequency: str | None = None
    per_day: float | None = None
    duration: str | None = None
    duration_days: float | None = None
    as_needed: bool = False
    indication: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_ZH_NUM = {"半": 0.5, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7}
_ZH_NUM |= {"八": 8, "九": 9, "十": 10}
_EN_NUM = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "half": 0.5}
_EN_NUM |= {"1/2": 0.5, "once": 1, "twice": 2, "thrice": 3}
_NUM = r"(?:\d+(?:,\d{3})*(?:\.\d+)?|\.\d+|one|two|three|four|five|six|half|1/2|[半一二两三四五六七八九十]+)"


def _number(s: str) -> float:
    s = s.strip().lower().replace(",", "")
    if s in _EN_NUM:
        return float(_EN_NUM[s])
    try:
        return float(s)
    except ValueError:
        pass
    if s.startswith("十"):  # 十, 十二
        return 10 + (_ZH_NUM.get(s[1:], 0) if len(s) > 1 else 0)
    if len(s) == 2 and s[1] == "十":  # 二十
        return _ZH_NUM.get(s[0], 0) * 10
    if len(s) == 3 and s[1] == "十":  # 二十一
        return _ZH_NUM.get(s[0], 0) * 10 + _ZH_NUM.get(s[2], 0)
    return float(_ZH_NUM.get(s, 0))


def _alt(literals: Sequence[str]) -> str:
    """A regex alternation of literals, longest first, with word boundaries on Latin edges."""
    parts = []
    for lit in sorted(set(literals), key=len, reverse=True):
        p = re.escape(lit)
        if re.match(r"[A-Za-z0-9]", lit):
            p = r"(?<![A-Za-z0-9])" + p
        if re.search(r"[A-Za-z0-9.]$", lit):
            p = p + r"(?![A-Za-z0-9])"
        parts.append(p)
    return "|".join(parts)


@dataclass(frozen=True)
class _Vocab:
    route: re.Pattern[str]
    route_of: dict[str, str]
    freq: re.Pattern[str]
    per_day_of: dict[str, float | None]
    strength: re.Pattern[str]
    unit_of: dict[str, str]
    dose: re.Pattern[str]
    dose_unit_of: dict[str, str]
    form_en: re.Pattern[str]
    form_zh: re.Pattern[str]
    forms_en: frozenset[str]


@cache
def _vocab() -> _Vocab:
    yaml = require("yaml", "text")
    data = yaml.safe_load(rules_text("medications.yaml"))
    route_of = {s.lower(): r for r, forms in data["routes"].items() for s in forms}
    per_day_of: dict[str, float | None] = {
        s.lower(): (None if k is None else float(k))
        for k, forms in data["frequencies"].items()
        for s in forms
    }
    unit_of = {s.lower(): u for u, forms in data["units"].items() for s in forms}
    dose_unit_of = {s.lower(): u for u, forms in data["dose_units"].items() for s in forms}
    unit_alt = "|".join(
        re.escape(u) for u in sorted(unit_of, key=len, reverse=True)
    )  # units follow a number, so only their end needs a boundary
    dose_alt = "|".join(re.escape(u) for u in sorted(dose_unit_of, key=len, reverse=True))
    return _Vocab(
        route=re.compile(_alt(list(route_of)), re.IGNORECASE),
        route_of=route_of,
        freq=re.compile(_alt(list(per_day_of)), re.IGNORECASE),
        per_day_of=per_day_of,
        strength=re.compile(
            r"(?<![A-Za-z0-9.])(?P<num>\d+(?:,\d{3})*(?:\.\d+)?|\.\d+)(?P<wan>万)?\s*"
            r"(?P<unit>" + unit_alt + r")(?![A-Za-z])",
            re.IGNORECASE,
        ),
        unit_of=unit_of,
        dose=re.compile(
            r"(?<![A-Za-z0-9.])(?P<num>" + _NUM + r")(?:-\d+)?\s*(?:(?:ds|ss|er|xr|xl|sr)\s+)?"
            r"(?P<unit>" + dose_alt + r")"
            r"(?![A-Za-z])",
            re.IGNORECASE,
        ),
        dose_unit_of=dose_unit_of,
        form_en=re.compile(r"(?:\s+(?:" + _alt(data["forms_en"]) + r"))+$", re.IGNORECASE),
        form_zh=re.compile("(?:" + "|".join(map(re.escape, data["forms_zh"])) + ")+$"),
        forms_en=frozenset(f.lower() for f in data["forms_en"]),
    )


_QH = re.compile(
    r"(?<![A-Za-z0-9])(?:q|every)\s*(?P<a>\d+)(?:\s*(?:-|to)\s*(?P<b>\d+))?\s*"
    r"(?:h|hr|hrs|hours?)(?![A-Za-z0-9])",
    re.IGNORECASE,
)
_TIMES = re.compile(
    r"(?<![A-Za-z0-9])(?P<n>\d+|one|two|three|four|five|six)\s*(?:x|times)\s*"
    r"(?:a|per|/|each)?\s*(?:day|daily|d)(?![A-Za-z])",
    re.IGNORECASE,
)
_ZH_EVERY_H = re.compile(
    r"每\s*(?P<a>\d+)\s*(?:-|~|至)?\s*(?P<b>\d+)?\s*(?:小时|h)\s*(?:一次|1次)?"
)
_ZH_TIMES = re.compile(r"(?:每日|每天|一日|1日)\s*(?P<n>\d+|[一二两三四五六])\s*次")
_ZH_WEEK = re.compile(r"每周\s*(?P<n>\d+|[一二两三四五六七])\s*次")
_DURATION = re.compile(
    r"(?:(?<![A-Za-z])(?:x|×|for|for a total of|total of|times|over)\s*"
    r"|(?:共|连用|连续|疗程|用|服用|持续)\s*)"
    r"(?P<n>\d+(?:\.\d+)?|[一二两三四五六七八九十]+)\s*"
    r"(?P<u>days?|d|weeks?|wks?|w|months?|mos?|天|日|周|星期|个月|月)(?![A-Za-z])",
    re.IGNORECASE,
)
_DAYS = {"d": 1, "day": 1, "days": 1, "天": 1, "日": 1, "w": 7, "wk": 7, "wks": 7, "week": 7}
_DAYS |= {"weeks": 7, "周": 7, "星期": 7, "month": 30, "months": 30, "mo": 30, "mos": 30}
_DAYS |= {"个月": 30, "月": 30}
_PRN = re.compile(
    r"(?<![A-Za-z])(?:prn|p\.r\.n\.?|as needed|when needed|if needed|as required)(?![A-Za-z])"
    r"|必要时|需要时|按需",
    re.IGNORECASE,
)
_INDICATION_EN = re.compile(
    r"^\s*(?:for|to treat)?\s*(?P<what>(?!for\b)[A-Za-z][A-Za-z/' -]{0,40}?)\s*(?=$|[,;.(]|\s+(?:x|for|max|not|until|q\d|every)\b)",
    re.IGNORECASE,
)
_FOR_INDICATION = re.compile(
    r"(?<![A-Za-z])for\s+(?P<what>(?!\d)[A-Za-z][A-Za-z/' -]{0,40}?)\s*(?=$|[,;.(])",
    re.IGNORECASE,
)
_INDICATION_ZH = re.compile(r"^\s*(?:[，,]\s*)?(?P<what>[\u4e00-\u9fff]{1,8}?)时")
_VERBS_EN = re.compile(
    r"^(?:start|started|starting|begin|continue|continued|resume|resumed|restart|give|given|"
    r"take|takes|taking|on|increase|decrease|change|changed|switch|add|added|use|inject|apply|"
    r"administer|rx|sig|then|and|with|plus)\s+",
    re.IGNORECASE,
)
_VERBS_ZH = re.compile(
    r"^(?:予以|予|给予|给|加用|改用|停用|继续|使用|应用|口服|服用|联合|及|和|并)"
)
_SALTS = re.compile(
    r"^\s+(?:tartrate|succinate|sodium|potassium|calcium|hydrochloride|hcl|hyclate|sulfate|"
    r"maleate|besylate|mesylate|citrate|acetate|phosphate|bromide|chloride|fumarate|magnesium|"
    r"monohydrate|dihydrate|er|xl|sr|cr|la|dr|xr)(?![A-Za-z])",
    re.IGNORECASE,
)
_ZH_SALTS = "盐酸|硫酸|枸橼酸|马来酸|酒石酸|琥珀酸|磷酸|醋酸|富马酸|甲磺酸|苯磺酸|门冬氨酸|乳酸|葡萄糖酸|氢溴酸"
_ZH_SALT_BEFORE = re.compile("(?:" + _ZH_SALTS + ")$")
_ZH_SALT_AFTER = re.compile(
    "(?:琥珀酸钠|磷酸钠|磷酸酯钠|"
    + _ZH_SALTS
    + "|钠|钾|钙|镁|盐)(?=[^\u4e00-\u9fff]|注射|片|胶囊|颗粒|缓释|肠溶|$)"
)
_STOP = re.compile(r"[;；。\n]")
_MIX = re.compile(r"\s*(?:\+|＋|加入|加于|溶于|入|in)\s*(?:\d+(?:\.\d+)?\s*%)?\s*", re.IGNORECASE)


def _first(pattern: re.Pattern[str], text: str) -> re.Match[str] | None:
    return pattern.search(text)


def _frequency(window: str) -> tuple[str, float | None, int, int] | None:
    """The first frequency in a window: (text as written, doses per day, start, end)."""
    v = _vocab()
    cands: list[tuple[int, int, str, float | None]] = []
    m = v.freq.search(window)
    if m:
        cands.append((m.start(), -len(m.group()), m.group(), v.per_day_of[m.group().lower()]))
    m2 = _QH.search(window)
    if m2:
        hours = float(m2.group("a"))
        per = 24.0 / hours if hours else None
        cands.append((m2.start(), -len(m2.group()), m2.group(), per))
    m3 = _TIMES.search(window)
    if m3:
        cands.append((m3.start(), -len(m3.group()), m3.group(), _number(m3.group("n"))))
    m4 = _ZH_EVERY_H.search(window)
    if m4:
        hours = float(m4.group("a"))
        cands.append((m4.start(), -len(m4.group()), m4.group(), 24.0 / hours if hours else None))
    m5 = _ZH_TIMES.search(window)
    if m5:
        cands.append((m5.start(), -len(m5.group()), m5.group(), _number(m5.group("n"))))
    m6 = _ZH_WEEK.search(window)
    if m6:
        per_week = _number(m6.group("n"))
        cands.append((m6.start(), -len(m6.group()), m6.group(), round(per_week / 7, 6)))
    if not cands:
        return None
    start, neg_len, text, per = min(cands, key=lambda c: (c[0], c[1]))
    return text, (round(per, 6) if per is not None else None), start, start - neg_len


def _clean_drug(name: str, lang_zh: bool) -> tuple[str, str | None]:
    """Drug name without leading verbs or trailing dosage forms; returns (name, form)."""
    v = _vocab()
    name = name.strip(" \t:：,，-–*•.()（）")
    name = re.sub(r"^\d{1,2}[.)、]\s*", "", name)
    form = None
    if lang_zh:
        name = _VERBS_ZH.sub("", name)
        m = v.form_zh.search(name)
        if m and m.start() > 0:
            form, name = m.group(), name[: m.start()]
        for prefix in ("注射用", "吸入用", "口服用", "外用"):
            if name.startswith(prefix) and len(name) > len(prefix):
                form, name = form or prefix, name[len(prefix) :]
        name = re.sub(r"^\d+(?:\.\d+)?%", "", name)
    else:
        name = _VERBS_EN.sub("", name)
        m = v.form_en.search(name)
        if m and m.start() > 0:
            form, name = m.group().strip(), name[: m.start()]
        name = name.lower()
    return name.strip(), form


def _preceding_name(text: str, pos: int, floor: int) -> tuple[int, str]:
    """The words just before ``pos`` that name an unknown drug: (start, name)."""
    seg = re.sub(r"\d+(?:\.\d+)?\s*%\s*$", "", text[floor:pos])
    m = re.search(r"([\u4e00-\u9fff][\u4e00-\u9fffA-Za-z0-9\-]*)\s*$", seg)
    if m and is_cjk(m.group(1)[0]):
        return floor + m.start(1), m.group(1)
    m = re.search(r"((?:[A-Za-z][A-Za-z\-]*\s+){0,2}[A-Za-z][A-Za-z\-]*)\s*$", seg)
    if not m:
        return pos, ""
    words = m.group(1).split()
    v = _vocab()
    while words and (words[-1].lower() in v.forms_en):
        words.pop()
    keep: list[str] = []
    for w in reversed(words):
        if _VERBS_EN.match(w + " ") or w.lower() in {"of", "the", "a", "an", "mg"}:
            break
        keep.insert(0, w)
    if not keep:
        return pos, ""
    name = " ".join(keep)
    return floor + seg.rfind(keep[0], m.start()), name


def parse_medications(
    text: str, drugs: Sequence[Match] = (), *, lang: str = "en"
) -> list[Medication]:
    """Find medication orders in a note.

    Parameters
    ----------
    text : str
        The note.
    drugs : sequence of Match
        Drug mentions already found by the concept lexicon (label ``drug``), in order.
    lang : {"en", "zh"}
        Language of the note (decides how unknown drug names are read).

    Returns
    -------
    list of Medication
        Orders in text order.
    """
    v = _vocab()
    zh = lang == "zh"
    starts: list[tuple[int, int, str, str | None]] = []
    for m in drugs:
        low = m.text.lower()
        if low in v.forms_en or low in v.route_of:
            continue  # "nasal spray", "inhaler": a form, not a drug
        a, b = m.start, m.end
        if zh:  # salts written around a Chinese drug name: 盐酸吗啡, 甲泼尼龙琥珀酸钠
            pm = _ZH_SALT_BEFORE.search(text, 0, a)
            a = pm.start() if pm else a
            sm_ = _ZH_SALT_AFTER.match(text, b)
            b = sm_.end() if sm_ else b
        prev = starts[-1] if starts else None
        joiner = r"\s*[-/]?\s*" if zh else r"\s*[-/]\s*"
        if prev and re.fullmatch(joiner, text[prev[1] : a]):
            # a combination product: "piperacillin-tazobactam", "ipratropium/albuterol"
            starts[-1] = (prev[0], b, text[prev[0] : b], prev[3])
            continue
        starts.append((a, b, text[a:b], m.term.code or m.term.preferred))
    # A strength or dose with no drug before it in its clause, or after a window that already
    # has its strength, starts an order of its own, named by the words just before it.
    anchors = [(x.start(), x.end(), x.group("unit")) for x in v.strength.finditer(text)]
    anchors += [(x.start(), x.end(), "dose") for x in v.dose.finditer(text)]
    if zh:
        anchors += [(x.start(), x.end(), "route") for x in v.route.finditer(text)]
    for pos, _, unit in sorted(anchors):
        if unit == "%":
            continue  # a concentration ("0.9%", "dextrose 50%") belongs to the drug named next to it
        clause_start = max((x.end() for x in _STOP.finditer(text, 0, pos)), default=0)
        before = [s for s in starts if s[1] <= pos]
        if before and before[-1][1] >= clause_start:
            owner = before[-1]
            prior = [
                x
                for x in anchors
                if owner[1] <= x[0] and x[1] <= pos and x[2] not in ("%", "route", "dose")
            ]
            if unit in ("dose", "route") or not prior:
                continue
            clause_start = max(clause_start, prior[-1][1])
        a, name = _preceding_name(text, pos, clause_start)
        if name and not (unit == "route" and not v.form_zh.search(name)):
            starts.append((a, a + len(name), name, None))
            starts.sort()
    starts.sort()
    # a drug named inside another order without fields of its own ("prn opioid overdose",
    # "lisinopril 10 mg daily, aspirin") does not cut that order short
    meds = _orders(text, starts, zh)
    while any(m is None for m in meds[1:]):
        i = next(i for i, m in enumerate(meds) if i > 0 and m is None)
        del starts[i]
        meds = _orders(text, starts, zh)
    found = [m for m in meds if m is not None]
    # drugs mixed into one infusion share its route and frequency: "5%葡萄糖 250ml + 胰岛素 4u 静滴 qd"
    for i in range(len(found) - 2, -1, -1):
        first, second = found[i], found[i + 1]
        if _MIX.fullmatch(text[first.end : second.start]):
            for f in ("route", "frequency", "per_day", "duration", "duration_days"):
                if getattr(first, f) is None:
                    setattr(first, f, getattr(second, f))
    return found


def _orders(
    text: str, starts: Sequence[tuple[int, int, str, str | None]], zh: bool
) -> list[Medication | None]:
    out: list[Medication | None] = []
    for i, (a, b, _name, code) in enumerate(starts):
        limit = starts[i + 1][0] if i + 1 < len(starts) else len(text)
        stop = _STOP.search(text, b, limit)
        end = stop.start() if stop else limit
        # a drug name extended by salt words and a dosage form ("metoprolol tartrate ER")
        while not zh:
            sm2 = _SALTS.match(text, b, end)
            if not sm2:
                break
            b = sm2.end()
        out.append(_parse_window(text, a, b, text[b:end], code, zh))
    return out


def _parse_window(
    text: str, a: int, b: int, window: str, code: str | None, zh: bool
) -> Medication | None:
    v = _vocab()
    name, form = _clean_drug(text[a:b] + _form_prefix(window, zh), zh)
    fields_end = 0
    med = Medication(a, b, "", name, code, form=form)
    strengths = list(v.strength.finditer(window))
    sm = next((x for x in strengths if x.group("unit") != "%"), strengths[0] if strengths else None)
    if sm:
        med.strength = _number(sm.group("num")) * (10000 if sm.group("wan") else 1)
        med.unit = v.unit_of.get(sm.group("unit").lower(), sm.group("unit").lower())
        fields_end = max(fields_end, sm.end())
    dm = v.dose.search(window)
    if dm and not (sm and dm.start() < sm.end() and dm.end() > sm.start()):
        med.dose = _number(dm.group("num"))
        med.dose_unit = v.dose_unit_of[dm.group("unit").lower()]
        fields_end = max(fields_end, dm.end())
    rm = v.route.search(window)
    if rm:
        med.route = v.route_of[rm.group().lower()]
        fields_end = max(fields_end, rm.end())
    fq = _frequency(window)
    if fq:
        med.frequency, med.per_day = fq[0], fq[1]
        fields_end = max(fields_end, fq[3])
    du = _DURATION.search(window)
    if du:
        med.duration = du.group().strip()
        med.duration_days = _number(du.group("n")) * _DAYS[du.group("u").lower()]
        fields_end = max(fields_end, du.end())
    pm = _PRN.search(window)
    if pm:
        med.as_needed = True
        fields_end = max(fields_end, pm.end())
        rest = window[pm.end() :]
        im = _INDICATION_ZH.search(rest) if zh else _INDICATION_EN.search(rest)
        if im and not _is_field(im.group("what"), zh):
            med.indication = im.group("what").strip().lower()
            fields_end = max(fields_end, pm.end() + im.end("what"))
    if med.indication is None and not zh:
        fm = _FOR_INDICATION.search(window, fields_end if fields_end else 0)
        if fm and not _is_field(fm.group("what"), zh):
            med.indication = fm.group("what").strip().lower()
            fields_end = max(fields_end, fm.end("what"))
    if not (sm or dm or rm or fq):
        return None
    med.end = b + fields_end
    med.text = text[med.start : med.end]
    return med


def _form_prefix(window: str, zh: bool) -> str:
    """A dosage form written right after the drug name ("胶囊 0.5g", "tablet 25 mg")."""
    v = _vocab()
    if zh:
        m = re.match(r"[\u4e00-\u9fff]+", window)
        if m and v.form_zh.fullmatch(m.group()):
            return m.group()
        return ""
    m = re.match(r"(\s+[A-Za-z]+)+", window)
    if m:
        words = m.group().split()
        kept = []
        for w in words:
            if w.lower() in v.forms_en:
                kept.append(w)
            else:
                break
        if kept:
            return " " + " ".join(kept)
    return ""


def _is_field(what: str, zh: bool) -> bool:
    """Whether a would-be indication is really another order field (a route, frequency)."""
    v = _vocab()
    w = what.strip().lower()
    return bool(
        not w
        or w in v.route_of
        or w in v.per_day_of
        or _QH.fullmatch(w)
        or re.fullmatch(r"\d.*", w)
    )
