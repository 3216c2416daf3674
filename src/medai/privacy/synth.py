"""Synthetic clinical notes with injected PHI (English and Chinese), with their gold spans.

Notes are put together from sentence templates with slots that Faker (``en_US``, ``zh_CN``)
fills with realistic names, dates in many formats, phone numbers, identifiers, addresses and
institutions, plus look-alikes that are NOT PHI (ages under 90, doses, scores, years alone,
eponyms). They train the sequence tagger (:mod:`medai.privacy.tagger`) and feed the throughput
benchmark; they are never used to measure accuracy (the hand-written gold notes in
``tests/data/deid`` are).

>>> notes = synthetic_notes(3, "en", seed=0)
>>> all(n.text[s.start:s.end] == s.text for n in notes for s in n.spans)
True
"""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Callable
from typing import Any

from medai.core.errors import InvalidInputError, require
from medai.privacy.evaluate import GoldNote
from medai.privacy.phi import Span

__all__ = ["synthetic_notes"]

_EN_SENTENCES = [
    "{NAME} is a {AGE}-year-old {SEX} admitted on {DATE} with chest pain.",
    "Patient: {NAME}   MRN: {MRN}   DOB: {DATE}",
    "Seen today with Dr. {DRLAST} in {HOSP} clinic.",
    "{NAME}, {AGE90} y/o, lives at {ADDRESS}, {CITY}, {STATE} {ZIP}.",
    "Wife {REL} can be reached at {PHONE}.",
    "Discussed plan with daughter {RELFULL} ({PHONE}).",
    "Pt {NAMELOWER} c/o sob since {DATE}, denies fever.",
    "Discharged to {HOSP} on {DATE}; follow up with Dr. {DRFULL} in 2 weeks.",
    "Referred by {DRFULL}, MD. Fax {PHONE}.",
    "Portal message from {EMAIL}: requests refill of lisinopril 10 mg daily.",
    "Insurance member ID {MRN}; SSN {SSN} on file.",
    "Telemetry unit IP {IP} paged RN {RNNAME} at 03:10.",
    "{LASTUPPER}, {FIRSTUPPER}  Acct #{MRN}  Visit {DATE}",
    "Per {DRLAST} note of {DATE}, continue metoprolol 25 mg BID.",
    "Her son {REL} drove her from {CITY}.",
    "{AGE90} yo {SEX} with dementia, resident of {HOSP}.",
    "Signed: {DRFULL}, MD {DATE}",
    "Lab accession {MRN} collected {DATE} 07:45.",
    "Mr. {LAST} works at {EMPLOYER} as a mechanic.",
    "Spoke with {RELFULL} (husband) who agrees with DNR.",
    "Next appointment {DATE} at {HOSP}, {ADDRESS}.",
    "See {URL} for the after-visit summary.",
    "{INITIALS} RN",
    "Dictated by {DRFULL} on {DATE}. Transcribed by {RNNAME}.",
    "CC: Dr. {DRLAST}, {HOSP}, {CITY}, {STATE}",
    "Family history: mother with Parkinson disease, father with MI at {AGE}.",
    "Strength 5/5 bilaterally, pain 3/10, BP 128/76, HR 72.",
    "Started warfarin in 2019; INR goal 2-3.",
    "Received Foley catheter; Glasgow Coma Scale 15.",
    "Ambulating with walker; PT eval in {STATE}.",
    "Apgar 8/9, weight 3.2 kg, Babinski negative.",
    "Will continue current regimen and recheck labs in 4 weeks.",
    "Hope to transition to oral antibiotics tomorrow.",
    "Patient {FIRST} prefers to be called {NICK}.",
    "Emergency contact: {RELFULL}, {PHONE}, {EMAIL}.",
    "Seen by {DRFULL} and {RNFULL}, RN.",
    "— {DRINIT}",
]
_ZH_SENTENCES = [
    "患者{NAME}，{SEX}，{AGE}岁，因胸痛{DAYS}天于{DATE}入院。",
    "姓名：{NAME}  性别：{SEX}  年龄：{AGE90}岁  住院号：{MRN}",
    "身份证号：{IDCARD}，联系电话：{PHONE}。",
    "现住址：{ADDRESS}。",
    "家属：其{REL}{RELNAME}，电话{PHONE}。",
    "{DATE}在{HOSP}行冠脉造影。",
    "主治医师：{DOC}  记录：{DOC2}",
    "{DOC}主任医师查房：同意目前诊断，继续抗感染治疗。",
    "门诊号{MRN}，{DATE}复诊。",
    "患者来自{CITY}，既往2018年诊断高血压。",
    "{NAME}，{SEX}，{AGE90}岁，于{DATE}因跌倒入院。",
    "转诊至{HOSP}，联系电话{LANDLINE}。",
    "邮箱：{EMAIL}，互联网医院网址{URL}。",
    "签名：{NAME}    日期：{DATE}",
    "{RELNAME}（{REL}）代签知情同意书。",
    "责任护士：{DOC2}。",
    "肌力5/5级，NRS评分3分，血压128/76mmHg。",
    "既往帕金森病史，桥本甲状腺炎。",
    "予阿司匹林100mg qd，阿托伐他汀20mg qn。",
    "病案号：{MRN}  医保卡号：{MRN2}",
    "出院后于{HOSP}随访，{DATE}复查。",
    "患者{NAME}诉头痛3天，伴恶心。",
    "{NAME}先生诉夜间咳嗽。",
    "随访电话{PHONE}，患者本人接听。",
    "检查号：{MRN}  报告医师：{DOC}  审核医师：{DOC2}",
    "——{DOC2}",
    "床号：12床，体温36.8℃。",
]


_EN_FILLER = [
    "HPI: {DX} for {N} days, worse with exertion.", "ASSESSMENT/PLAN:", "# {DX}",
    "- continue {DRUG} {DOSE} {FREQ}.", "Labs: Na 138, K 4.1, Cr 1.2, WBC 11.4, Hgb 9.8.",
    "CXR: no acute process.", "Denies {DX} or {DX}.", "PMH: {DX}, {DX}, {DX}.",
    "Meds: {DRUG} {DOSE} PO {FREQ}; {DRUG} {DOSE} {FREQ}.", "ROS negative except as above.",
    "Vitals: T 37.2 HR {N} BP 1{N}/7{N} RR 16 SpO2 9{N}% RA.",
    "Plan: {DRUG}, IV fluids, recheck BMP in AM.", "EKG: NSR, no ST changes.",
    "Echo: EF 55%, mild MR.", "ALLERGIES: NKDA", "PHYSICAL EXAM:",
    "CT head without contrast: no acute intracranial hemorrhage.", "Consult {SERVICE} for {DX}.",
    "Diet: cardiac. Activity: as tolerated.", "Code status: Full code.",
    "Wound clean, dry and intact.", "A&Ox3, no focal deficits.", "Abd soft, NT/ND, +BS.",
    "Lungs clear bilaterally.", "Pain controlled on {DRUG}.", "Will obtain {TEST} and {PROC}.",
    "Return precautions reviewed.", "{SERVICE} recommends {DRUG} and outpatient follow-up.",
    "Findings consistent with {DX}; {FINDING} noted.", "s/p {PROC} without complications.",
    "{TEST} pending.", "IMPRESSION: {DX}.", "Reports {SYMPTOM}; no {SYMPTOM}.",
    "Tolerating diet, ambulating in hall, voiding without difficulty.",
    "DISCHARGE DIAGNOSES: {DX}; {DX}.", "Counseled on smoking cessation for 5 minutes.",
]  # fmt: skip
_ZH_FILLER = [
    "现病史：患者{N}天前无明显诱因出现{SYMPTOM}。", "既往史：{DX}病史{N}年，口服{DRUG}控制。",
    "查体：T 36.8℃，P 8{N}次/分，R 18次/分，BP 13{N}/78mmHg。",
    "辅助检查：血常规WBC 11.2×10^9/L，Hb 102g/L。", "诊断：1.{DX} 2.{DX}",
    "诊疗计划：予{DRUG}治疗，完善{TEST}。", "心肺听诊未闻及明显异常。", "腹软，无压痛反跳痛。",
    "神志清，精神可，饮食睡眠可，二便正常。", "否认{DX}病史。", "请{SERVICE}会诊。",
    "{TEST}示：{FINDING}。", "遵医嘱予{DRUG}{N}mg静滴。", "今日患者诉{SYMPTOM}较前好转。",
    "嘱低盐低脂饮食，注意休息。", "行{PROC}，术程顺利。", "主诉：{SYMPTOM}{N}天。",
    "出院诊断：{DX}。", "继续目前治疗，密切观察病情变化。", "患者病情平稳，无特殊不适。",
]  # fmt: skip


@functools.lru_cache(maxsize=2)
def _vocabulary(lang: str) -> dict[str, list[str]]:
    """Clinical terms for filler sentences, from the text pillar's bundled lexicons."""
    from importlib import resources

    vocab: dict[str, list[str]] = {"DX": [], "DRUG": [], "TEST": [], "PROC": [], "FINDING": [],
                                   "SYMPTOM": []}  # fmt: skip
    kinds = {"diagnosis": "DX", "drug": "DRUG", "test": "TEST", "procedure": "PROC",
             "finding": "FINDING", "symptom": "SYMPTOM"}  # fmt: skip
    files = ["concepts_zh.tsv", "drugs_zh.tsv"] if lang == "zh" else ["concepts_en.tsv"]
    for name in files:
        text = (resources.files("medai.text") / "rules" / name).read_text(encoding="utf-8")
        for line in text.splitlines()[1:]:
            parts = line.split("\t")
            if len(parts) >= 2 and parts[1] in kinds:
                vocab[kinds[parts[1]]].append(parts[0])
    if lang == "en":
        vocab["DRUG"] += ["metoprolol", "lisinopril", "atorvastatin", "furosemide", "heparin",
                          "ceftriaxone", "insulin glargine", "acetaminophen", "oxycodone",
                          "apixaban", "prednisone", "albuterol", "pantoprazole", "metformin"]  # fmt: skip
    vocab["SERVICE"] = (["心内科", "神经内科", "呼吸科", "骨科", "营养科", "麻醉科"] if lang == "zh"
                        else ["cardiology", "GI", "nephrology", "ID", "PT", "social work"])  # fmt: skip
    vocab["DOSE"] = ["5 mg", "10 mg", "25 mg", "40 mg", "500 mg", "1 g", "2 puffs"]
    vocab["FREQ"] = ["daily", "BID", "TID", "q6h PRN", "nightly", "weekly"]
    vocab["N"] = [str(i) for i in range(1, 10)]
    return {k: v for k, v in vocab.items() if v}


def _fakers(lang: str, seed: int) -> tuple[Any, random.Random]:
    faker = require("faker", "privacy")
    f = faker.Faker("zh_CN" if lang == "zh" else "en_US")
    f.seed_instance(seed)
    return f, random.Random(seed)


def _en_date(f: Any, rng: random.Random) -> str:
    d = f.date_between(start_date="-30y", end_date="+1y")
    fmt = rng.choice(["%m/%d/%Y", "%m/%d/%y", "%-m/%-d/%Y", "%Y-%m-%d", "%B %-d, %Y", "%b %-d",
                      "%-d %b %Y", "%d-%b-%y", "%-m/%-d", "%B %Y", "%b. %-d, %Y"])  # fmt: skip
    text = d.strftime(fmt)
    return text.upper() if fmt == "%d-%b-%y" and rng.random() < 0.5 else text


def _zh_date(f: Any, rng: random.Random) -> str:
    d = f.date_between(start_date="-30y", end_date="+1y")
    return rng.choice([f"{d.year}年{d.month}月{d.day}日", f"{d.year}-{d.month:02d}-{d.day:02d}",
                       f"{d.year}/{d.month}/{d.day}", f"{d.month}月{d.day}日",
                       f"{d.year}.{d.month:02d}.{d.day:02d}", f"{d.year}年{d.month}月",
                       f"{d.year % 100}.{d.month}.{d.day}"])  # fmt: skip


def _en_slots(f: Any, rng: random.Random) -> dict[str, Callable[[], tuple[str, str | None]]]:
    first, last = f.first_name(), f.last_name()
    dr_first, dr_last = f.first_name(), f.last_name()
    rn_first, rn_last = f.first_name(), f.last_name()

    def hosp() -> str:
        return rng.choice([f"{f.last_name()} Memorial Hospital", f"{f.city()} Medical Center",
                           f"St. {f.first_name()}'s Hospital", f"{f.last_name()} Family Clinic",
                           f"{f.city()} Nursing Home", f"{f.last_name()} Pharmacy",
                           f"{f.city()} Regional Hospital"])  # fmt: skip

    return {
        "NAME": lambda: (
            rng.choice(
                [
                    f"{first} {last}",
                    f"{first} {f.random_uppercase_letter()}. {last}",
                    f"{last}, {first}",
                ]
            ),
            "NAME",
        ),
        "FIRST": lambda: (first, "NAME"),
        "LAST": lambda: (last, "NAME"),
        "NICK": lambda: (f.first_name(), "NAME"),
        "NAMELOWER": lambda: (f"{first} {last}".lower(), "NAME"),
        "LASTUPPER": lambda: (last.upper(), "NAME"),
        "FIRSTUPPER": lambda: (first.upper(), "NAME"),
        "DRLAST": lambda: (dr_last, "NAME"),
        "DRFULL": lambda: (f"{dr_first} {dr_last}", "NAME"),
        "DRINIT": lambda: (f"{dr_first[0]}. {dr_last}", "NAME"),
        "RNNAME": lambda: (rn_first, "NAME"),
        "RNFULL": lambda: (f"{rn_first} {rn_last}", "NAME"),
        "INITIALS": lambda: (f"{rn_first[0]}{rn_last[0]}", "NAME"),
        "REL": lambda: (f.first_name(), "NAME"),
        "RELFULL": lambda: (f"{f.first_name()} {last}", "NAME"),
        "DATE": lambda: (_en_date(f, rng), "DATE"),
        "AGE": lambda: (str(rng.randint(18, 89)), None),
        "AGE90": lambda: (str(rng.randint(90, 104)), "AGE"),
        "SEX": lambda: (rng.choice(["male", "female", "man", "woman"]), None),
        "PHONE": lambda: (
            rng.choice(
                [
                    f.phone_number(),
                    f"({f.numerify('###')}) {f.numerify('###-####')}",
                    f.numerify("###.###.####"),
                ]
            ),
            "PHONE",
        ),
        "EMAIL": lambda: (f.email(), "EMAIL"),
        "URL": lambda: (f.url() + rng.choice(["", "portal", "visit/123"]), "URL"),
        "IP": lambda: (f.ipv4_private() if rng.random() < 0.8 else f.ipv6(), "IP"),
        "SSN": lambda: (f.ssn(), "SSN"),
        "MRN": lambda: (
            rng.choice(
                [f.numerify("########"), f.bothify("MR#######"), f.bothify("??-######").upper()]
            ),
            "ID",
        ),
        "ADDRESS": lambda: (f.street_address(), "ADDRESS"),
        "CITY": lambda: (f.city(), "CITY"),
        "STATE": lambda: (f.state_abbr(), None),
        "ZIP": lambda: (f.zipcode(), "ZIP"),
        "HOSP": lambda: (hosp(), "INSTITUTION"),
        "EMPLOYER": lambda: (f.company(), "INSTITUTION"),
    }


def _zh_slots(f: Any, rng: random.Random) -> dict[str, Callable[[], tuple[str, str | None]]]:
    name, doc, doc2 = f.name(), f.name(), f.name()

    def hosp() -> str:
        return rng.choice([f"{f.city_name()}市人民医院", f"{f.city_name()}市第{rng.randint(1, 9)}医院",
                           f"{f.province()}人民医院{rng.choice(['心内科', '神经内科', '骨科', ''])}",
                           f"{f.city_name()}中医院", f"{f.last_name()}氏诊所",
                           f"{f.city_name()}{f.district()}社区卫生服务中心"])  # fmt: skip

    def address() -> str:
        return re.sub(r"\s*\d{6}$", "", f.address())

    return {
        "NAME": lambda: (name, "NAME"),
        "DOC": lambda: (doc, "NAME"),
        "DOC2": lambda: (doc2, "NAME"),
        "RELNAME": lambda: (f.name(), "NAME"),
        "REL": lambda: (rng.choice(["妻", "夫", "子", "女", "母", "父"]), None),
        "SEX": lambda: (rng.choice(["男", "女"]), None),
        "AGE": lambda: (str(rng.randint(18, 89)), None),
        "AGE90": lambda: (str(rng.randint(90, 104)), "AGE"),
        "DAYS": lambda: (str(rng.randint(1, 30)), None),
        "DATE": lambda: (_zh_date(f, rng), "DATE"),
        "IDCARD": lambda: (f.ssn(), "ID_CARD"),
        "PHONE": lambda: (f.phone_number(), "PHONE"),
        "LANDLINE": lambda: (f"0{rng.randint(10, 999)}-{f.numerify('########')}", "PHONE"),
        "MRN": lambda: (rng.choice([f.numerify("########"), f.bothify("ZY########")]), "ID"),
        "MRN2": lambda: (f.numerify("##########"), "ID"),
        "ADDRESS": lambda: (address(), "ADDRESS"),
        "CITY": lambda: (f.city_name(), "CITY"),
        "HOSP": lambda: (hosp(), "INSTITUTION"),
        "EMAIL": lambda: (f.email(), "EMAIL"),
        "URL": lambda: (f.url(), "URL"),
    }


def synthetic_notes(n: int, lang: str = "en", seed: int = 0) -> list[GoldNote]:
    """``n`` synthetic notes in ``lang`` ("en" or "zh") with their PHI spans; reproducible."""
    if lang not in ("en", "zh"):
        raise InvalidInputError(f"lang must be 'en' or 'zh', got {lang!r}")
    if n < 0:
        raise InvalidInputError(f"n must be >= 0, got {n}")
    f, rng = _fakers(lang, seed)
    sentences = _ZH_SENTENCES if lang == "zh" else _EN_SENTENCES
    notes = []
    for i in range(n):
        slots = (_zh_slots if lang == "zh" else _en_slots)(f, rng)
        vocab = _vocabulary(lang)
        filler = _ZH_FILLER if lang == "zh" else _EN_FILLER
        chosen = rng.sample(sentences, rng.randint(3, 7)) + rng.sample(filler, rng.randint(3, 10))
        rng.shuffle(chosen)
        text, spans = "", []
        for template in chosen:
            pos = 0
            for m in re.finditer(r"\{([A-Z0-9]+)\}", template):
                text += template[pos : m.start()]
                if m.group(1) in vocab and m.group(1) not in slots:
                    value, kind = rng.choice(vocab[m.group(1)]), None
                else:
                    value, kind = slots[m.group(1)]()
                if kind is not None:
                    spans.append(Span(len(text), len(text) + len(value), kind, value, "gold"))
                text += value
                pos = m.end()
            text += template[pos:]
            text += rng.choice(["\n", " ", "\n", "  "]) if lang == "en" else rng.choice(["\n", ""])
        if lang == "en" and rng.random() < 0.15:  # telegraphic, lower-case notes
            text = text.lower()
            spans = [Span(s.start, s.end, s.type, s.text.lower(), "gold") for s in spans]
        notes.append(GoldNote(f"synth-{lang}-{seed}-{i}", text.rstrip() + "\n", spans,
                              f"S{i // 3}", lang))  # fmt: skip
    return notes
