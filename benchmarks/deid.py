"""De-identification benchmark: held-out gold accuracy and batch throughput.

Usage::

    .venv/bin/python benchmarks/deid.py                  # accuracy + throughput (10,000 notes)
    .venv/bin/python benchmarks/deid.py --notes 2000     # a quicker throughput run
    .venv/bin/python benchmarks/deid.py --sections accuracy
    .venv/bin/python benchmarks/deid.py --sections authors  # tagger threshold check (~10 min)

Accuracy: the 200 English and 200 Chinese hand-written test notes in ``tests/data/deid``
(``test_*.jsonl``), which were written independently of medai and never used to build or
tune it (rules were tuned on the ``dev_*`` notes, the tagger threshold on held-out training
authors; the bundled CRF taggers were trained on the ``train_*`` notes of 36 other authors).
Reported per language: token- and span-level recall, precision and F2, per PHI type; for
medai's default (rules + CRF tagger) and rules alone. Reference (not run here): the PhysioNet
deid tool on its own nursing-note gold standard, recall 0.967, precision 0.748. Goal: recall
>= 0.98 and precision >= 0.90 per language.

Held-out authors (not run by default): a tagger trained without four of the training
authors, rules + tagger scored on those authors' 400 notes at tagger thresholds 0.3/0.5/0.7.

Throughput: ``medai.privacy.batch.deidentify_notes`` (tags mode, JSONL in and out, the
bundled taggers) on synthetic notes (``medai.privacy.synth``, half English, half Chinese),
with 1 and with 2 worker processes; MB/s of note text. Goal: at least 1 MB/s per core.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
GOLD = ROOT / "tests" / "data" / "deid"
SECTIONS = ("accuracy", "throughput", "authors")
HELD_OUT = {"en": ("ab", "ac", "ad", "ae"), "zh": ("x", "y", "z", "aa")}


def _round(x: Any) -> Any:
    if isinstance(x, float):
        return round(x, 4)
    if isinstance(x, dict):
        return {k: _round(v) for k, v in x.items()}
    return x


def accuracy() -> dict[str, Any]:
    from medai.privacy.deid import Deidentifier
    from medai.privacy.evaluate import read_gold, score

    out: dict[str, Any] = {}
    for lang in ("en", "zh"):
        notes = read_gold(GOLD / f"test_{lang}.jsonl")
        for name, tagger in (("default", "default"), ("rules_only", None)):
            deid = Deidentifier(tagger=tagger)
            start = time.perf_counter()
            pred = {n.id: deid.find(n.text, lang) for n in notes}
            seconds = time.perf_counter() - start
            s = score(notes, pred).to_dict()
            s["seconds"] = seconds
            s["n_gold_spans"] = sum(len(n.spans) for n in notes)
            out[f"{lang}_{name}"] = _round(s)
        d = out[f"{lang}_default"]
        d["goal_met"] = bool(d["span_partial"]["recall"] >= 0.98
                             and d["span_partial"]["precision"] >= 0.90)  # fmt: skip
        print(f"{lang}: span recall {d['span_partial']['recall']:.3f} precision "
              f"{d['span_partial']['precision']:.3f}; token recall {d['token']['recall']:.3f} "
              f"precision {d['token']['precision']:.3f}", flush=True)  # fmt: skip
    out["reference"] = {"physionet_deid_nursing_notes": {"recall": 0.967, "precision": 0.748}}
    return out


def throughput(n: int) -> dict[str, Any]:
    from medai.privacy.batch import deidentify_notes
    from medai.privacy.synth import synthetic_notes

    notes = synthetic_notes(n // 2, "en", seed=11) + synthetic_notes(n - n // 2, "zh", seed=11)
    out: dict[str, Any] = {"n_notes": len(notes)}
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "notes.jsonl"
        with src.open("w", encoding="utf-8") as fh:
            for i, note in enumerate(notes):
                fh.write(json.dumps({"id": str(i), "patient_id": note.patient_id,
                                     "text": note.text}, ensure_ascii=False) + "\n")  # fmt: skip
        mb = sum(len(note.text.encode()) for note in notes) / 1e6
        out["mb"] = mb
        for workers in (1, 2):
            target = Path(tmp) / f"out{workers}.jsonl"
            start = time.perf_counter()
            r = deidentify_notes(src, target, workers=workers, engine="process", chunk_size=64)
            seconds = time.perf_counter() - start
            out[f"processes_{workers}"] = {"seconds": seconds, "notes_per_s": r.n_done / seconds,
                                           "mb_per_s": mb / seconds, "n_done": r.n_done,
                                           "n_errors": r.n_errors}  # fmt: skip
            print(f"{workers} process(es): {r.n_done} notes, {mb:.1f} MB in {seconds:.1f} s = "
                  f"{mb / seconds:.2f} MB/s", flush=True)  # fmt: skip
    out["speedup_2_vs_1"] = out["processes_2"]["mb_per_s"] / out["processes_1"]["mb_per_s"]
    out["goal_1mb_per_s_per_core"] = out["processes_1"]["mb_per_s"] >= 1.0
    return _round(out)


def held_out_authors() -> dict[str, Any]:
    """Train a tagger without four training authors, score rules + tagger on their notes.

    Those authors' notes are unlike anything the tagger saw, and they decided unmarked cases
    (a month alone, insurers, holidays) their own way: a harder check than the dev notes,
    used to choose the tagger's score threshold.
    """
    from medai.privacy.deid import Deidentifier
    from medai.privacy.evaluate import read_gold, score
    from medai.privacy.tagger import train_tagger

    out: dict[str, Any] = {}
    for lang, held in HELD_OUT.items():
        notes = read_gold(GOLD / f"train_{lang}.jsonl")
        test = [n for n in notes if n.id.split("-")[1] in held]
        train = [n for n in notes if n.id.split("-")[1] not in held]
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            train_tagger(Path(tmp) / f"tagger_{lang}.crfsuite", lang, notes=train)
            row: dict[str, Any] = {"held_out_authors": list(held), "n_train": len(train),
                                   "n_test": len(test), "train_seconds": time.perf_counter() - start}  # fmt: skip
            for threshold in (0.3, 0.5, 0.7):
                deid = Deidentifier(tagger=tmp, tagger_langs=(lang,), tagger_min_score=threshold)
                s = score(test, {n.id: deid.find(n.text, lang) for n in test}).span_partial
                row[f"threshold_{threshold}"] = {"recall": s["recall"], "precision": s["precision"]}
                print(f"{lang} held-out authors, tagger threshold {threshold}: span recall "
                      f"{s['recall']:.3f} precision {s['precision']:.3f}", flush=True)  # fmt: skip
        out[lang] = _round(row)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS[:2]))
    ap.add_argument("--notes", type=int, default=10_000, help="notes for the throughput run")
    ap.add_argument("--out", type=Path, default=RESULTS / "deid.json")
    args = ap.parse_args()
    result: dict[str, Any] = {}
    if args.out.exists():
        result = json.loads(args.out.read_text())
    result.update({
        "command": "python benchmarks/deid.py " + " ".join(sys.argv[1:]),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(),
                    "load_before": list(os.getloadavg())},
    })  # fmt: skip
    sections = result.setdefault("sections", {})
    if "accuracy" in args.sections:
        sections["accuracy"] = accuracy()
    if "throughput" in args.sections:
        sections["throughput"] = throughput(args.notes)
    if "authors" in args.sections:
        sections["authors"] = held_out_authors()
    result["machine"]["load_after"] = list(os.getloadavg())
    result["machine"]["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    print(f"results written to {args.out}")


if __name__ == "__main__":
    main()
