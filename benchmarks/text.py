"""Text pillar benchmark: extraction throughput, ConText and medication accuracy, medspaCy.

Usage::

    .venv/bin/python benchmarks/text.py                 # throughput + accuracy + medspaCy
    .venv/bin/python benchmarks/text.py --notes 2000    # a quicker throughput run
    .venv/bin/python benchmarks/text.py --no-medspacy

Throughput runs the whole pipeline (sections, ICD-10-CM/drug/bundled lexicons, ConText,
medication orders) on generated notes, one process. Accuracy uses the hand-annotated sentences
in ``tests/data/text``: the rules were tuned looking only at the even-numbered lines ("dev");
the odd-numbered lines ("held out") were never inspected, so their figures are the honest ones.
The CMeEE NER and note-classifier benchmarks are separate scripts (``text_cmeee.py``,
``text_classify.py``); their results are merged into the summary when present.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import resource
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
GOLD = ROOT / "tests" / "data" / "text"
sys.path.insert(0, str(ROOT / "benchmarks"))

EN_FINDINGS = [
    "chest pain", "shortness of breath", "fever", "cough", "nausea", "vomiting", "headache",
    "abdominal pain", "dizziness", "palpitations", "syncope", "diarrhea", "hematuria",
    "pneumonia", "atrial fibrillation", "pulmonary embolism", "heart failure", "hypertension",
    "type 2 diabetes mellitus", "asthma", "stroke", "deep vein thrombosis", "anemia",
]  # fmt: skip
EN_TEMPLATES = [
    "Patient denies {a}, {b}, or {c}.", "Reports {a} for 3 days but no {b}.",
    "Possible {a}.", "History of {a}.", "No evidence of {a}.", "{a} was ruled out.",
    "Mother with {a}.", "Return if {a} develops.", "Complains of {a} and {b}.",
    "{a} cannot be excluded.", "Positive for {a}; negative for {b}.",
]  # fmt: skip
EN_MEDS = [
    "Metoprolol tartrate 25 mg PO BID", "Lisinopril 10 mg PO daily",
    "Amoxicillin 500mg tid x 7 days", "Albuterol 2 puffs q4-6h prn SOB",
    "Insulin glargine 20 units SC qhs", "Heparin 5000 units SC q8h",
    "Acetaminophen 650 mg PO q6h prn pain", "Furosemide 40 mg IV BID",
]  # fmt: skip
ZH_FINDINGS = [
    "发热", "咳嗽", "咳痰", "胸痛", "胸闷", "心悸", "头痛", "头晕", "腹痛", "腹泻", "恶心", "呕吐",
    "高血压", "糖尿病", "冠心病", "肺炎", "心房颤动", "脑梗死", "慢性阻塞性肺疾病", "贫血",
]  # fmt: skip
ZH_TEMPLATES = [
    "患者无{a}、{b}、{c}。", "{a}3天，无{b}。", "考虑{a}可能。", "既往有{a}病史。",
    "否认{a}、{b}病史。", "父亲患{a}。", "如出现{a}，及时就诊。", "伴{a}，未见{b}。",
    "{a}待排。", "患者无明显诱因出现{a}。",
]  # fmt: skip
ZH_MEDS = [
    "阿莫西林胶囊 0.5g 口服 每日三次", "生理盐水 100ml 静滴 qd", "硝苯地平控释片 30mg po qd",
    "低分子肝素 4000IU 皮下注射 q12h", "头孢曲松钠 2g ivgtt qd", "阿司匹林肠溶片 100mg 口服 每晚一次",
]  # fmt: skip


def generate_notes(n: int, lang: str, seed: int = 0) -> list[str]:
    """Seeded synthetic notes (about 0.8-1.5 KB each) with sections, findings and orders."""
    rng = random.Random(seed)
    findings, templates, meds = (
        (EN_FINDINGS, EN_TEMPLATES, EN_MEDS) if lang == "en" else
        (ZH_FINDINGS, ZH_TEMPLATES, ZH_MEDS)
    )  # fmt: skip
    heads = (
        ("CHIEF COMPLAINT:", "HISTORY OF PRESENT ILLNESS:", "PAST MEDICAL HISTORY:",
         "FAMILY HISTORY:", "MEDICATIONS:", "ASSESSMENT AND PLAN:")
        if lang == "en" else ("主诉：", "现病史：", "既往史：", "家族史：", "医嘱：", "诊疗计划：")
    )  # fmt: skip
    sep = " " if lang == "en" else ""
    notes = []
    for _ in range(n):
        parts = []
        for h in heads:
            if h in ("MEDICATIONS:", "医嘱："):
                body = "\n".join(rng.sample(meds, rng.randint(1, 4)))
                parts.append(f"{h}\n{body}")
                continue
            k = rng.randint(2, 5)
            sents = [
                rng.choice(templates).format(
                    a=rng.choice(findings), b=rng.choice(findings), c=rng.choice(findings)
                )
                for _ in range(k)
            ]
            parts.append(f"{h} {sep.join(sents)}")
        notes.append("\n".join(parts))
    return notes


def throughput(n: int, lang: str) -> dict[str, Any]:
    from medai.text.extract import Extractor

    notes = generate_notes(n, lang, seed=1)
    t0 = time.perf_counter()
    ex = Extractor()
    ex.extract(notes[0])  # compiles the automaton
    load_s = time.perf_counter() - t0
    mb = sum(len(x.encode("utf-8")) for x in notes) / 1e6
    t0 = time.perf_counter()
    concepts = meds = 0
    for note in notes:
        ann = ex.extract(note)
        concepts += len(ann["concepts"])
        meds += len(ann["medications"])
    s = time.perf_counter() - t0
    return {
        "lang": lang,
        "notes": n,
        "megabytes": round(mb, 2),
        "seconds": round(s, 2),
        "notes_per_second": round(n / s, 1),
        "mb_per_second": round(mb / s, 3),
        "concepts": concepts,
        "medications": meds,
        "load_seconds": round(load_s, 2),
    }


def accuracy() -> dict[str, Any]:
    from medai.text.extract import Extractor
    from medai.text.scoring import read_gold, score_context, score_medications

    out: dict[str, Any] = {}
    ex = Extractor()

    def f(d: dict[str, Any]) -> dict[str, Any]:
        keep = ("negated", "uncertain", "historical", "hypothetical", "family")
        return {k: {m: round(d[k][m], 3) for m in ("precision", "recall", "f1")} for k in keep}

    for lang in ("en", "zh"):
        rows = read_gold(GOLD / f"context_{lang}.jsonl")
        meds = read_gold(GOLD / f"medications_{lang}.jsonl")
        entry: dict[str, Any] = {"sentences": len(rows), "orders": 0}
        for part, sel in (("all", slice(None)), ("dev", slice(0, None, 2)),
                          ("held_out", slice(1, None, 2))):  # fmt: skip
            ctx = score_context(rows[sel])
            med = score_medications(meds[sel], ex)
            entry[part] = {
                "targets": ctx["targets"],
                "context": f(ctx),
                "medication_orders": med["orders"],
                "medication_field_accuracy": round(med["field_accuracy"], 3),
                "medication_per_field": {k: round(v, 3) for k, v in med["per_field"].items()},
                "extra_orders": med["extra"],
            }
        entry["orders"] = entry["all"]["medication_orders"]
        out[lang] = entry
    return out


def medspacy_side_by_side(repeat: int) -> dict[str, Any]:
    """medai and medspaCy ConText on the same English gold targets: speed and agreement."""
    import text_medspacy as tm

    from medai.text.scoring import read_gold

    rows = read_gold(GOLD / "context_en.jsonl")
    ours = tm.run_medai(GOLD / "context_en.jsonl", repeat=repeat)
    theirs = tm.run_medspacy(GOLD / "context_en.jsonl", repeat=repeat)
    first = [0]
    for r in rows:
        first.append(first[-1] + len(r["targets"]))

    def part(idx: list[int]) -> dict[str, Any]:
        sel_rows = [rows[i] for i in idx]
        pick = [j for i in idx for j in range(first[i], first[i + 1])]
        cmp = tm.compare(
            sel_rows,
            [ours["predictions"][j] for j in pick],
            [theirs["predictions"][j] for j in pick],
        )
        cmp["negation_disagreements"] = len(cmp["negation_disagreements"])
        return cmp

    return {
        "medai_timing": ours["timing"],
        "medspacy_timings": theirs.get("timings") or theirs.get("timing"),
        "versions": {"medai": ours["versions"], "medspacy": theirs.get("versions")},
        "all": part(list(range(len(rows)))),
        "held_out": part(list(range(1, len(rows), 2))),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--notes", type=int, default=10_000)
    ap.add_argument("--no-medspacy", action="store_true")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    result: dict[str, Any] = {
        "command": "python benchmarks/text.py " + " ".join(sys.argv[1:]),
        "date": dt.date.today().isoformat(),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
    }
    result["throughput"] = [throughput(args.notes, "en"), throughput(args.notes, "zh")]
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(result["throughput"], indent=1), flush=True)
    result["accuracy"] = accuracy()
    print(json.dumps({k: v["held_out"] for k, v in result["accuracy"].items()}, indent=1))
    if not args.no_medspacy:
        result["medspacy"] = medspacy_side_by_side(args.repeat)
        print(json.dumps(result["medspacy"], indent=1, default=str))
    for extra in ("text_cmeee.json", "text_classify.json"):
        path = RESULTS / extra
        if path.exists():
            result[extra.removesuffix(".json")] = json.loads(path.read_text())
    RESULTS.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS / ".text.json.tmp"
    tmp.write_text(json.dumps(result, indent=1, ensure_ascii=False, default=str) + "\n")
    tmp.replace(RESULTS / "text.json")
    print(f"written {RESULTS / 'text.json'}")


if __name__ == "__main__":
    main()
