"""Benchmark of the Chinese clinical NER tagger (``medai.text.ner``) on CMeEE (CBLUE).

Run from the repository root, with the real data in ``../shared/data``::

    .venv/bin/python benchmarks/text_cmeee.py                  # full run (25 min training budget)
    .venv/bin/python benchmarks/text_cmeee.py --epochs 30 --max-minutes 25
    .venv/bin/python benchmarks/text_cmeee.py --quick          # smoke run; results to /tmp

Protocol
--------
``read_cmeee`` reads ``train_data.txt`` (15,000 sentences; two entities in it end before they
start and are skipped, listed in the JSON) and ``val_data.txt`` (5,000). ``train_ner`` trains on
the training file only: it holds out a random 10% of it (seed 0) for early stopping on strict F1,
so the validation file is never seen in training or model selection. Strict entity-level micro
precision/recall/F1 (exact start, end and type, all nested gold entities counted) on the whole
validation file come from ``evaluate_ner`` with bootstrap 95% CIs over sentences, overall and per
type. Prediction speed is characters per second of ``NerBundle.predict`` over the validation
file (best of three, after one warm-up run), with the torch threads the training used.

The published CMeEE figures are on the CBLUE *test* set, whose labels are not public; ours are on
the validation file, so they compare only roughly. The machine may be shared: the JSON records
the load average and the CPU other processes used during training.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shlex
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

# torch's OpenMP threads spin while waiting by default; on a shared 2-core machine that made
# 2-thread training 6-7x slower than 1 thread (measured). PASSIVE waiting removes the penalty.
# It must be set before torch is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "text" / "zh_ner" / "cmeee_chip2020"
RESULTS = ROOT / "benchmarks" / "results" / "text_cmeee.json"
QUICK_RESULTS = Path(tempfile.gettempdir()) / "medai_text_cmeee_quick.json"
PACKAGES = ["medai", "torch", "numpy", "safetensors"]

REFERENCE = {
    "set": "CMeEE test set (CBLUE leaderboard / paper), strict micro F1 (%)",
    "bert_base": 62.1,
    "best_pretrained": 62.4,
    "human": 67.0,
    "note": "test-set figures; ours are measured on val_data.txt (the CMeEE dev set), so "
    "they compare only roughly",
}


def _busy_seconds() -> float:
    """CPU seconds all processes spent busy since boot (from /proc/stat)."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return float("nan")
    vals = [int(x) for x in fields]
    idle = vals[3] + (vals[4] if len(vals) > 4 else 0)
    return (sum(vals[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _own_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _machine() -> dict[str, Any]:
    import torch

    versions: dict[str, str | None] = {}
    for p in PACKAGES:
        try:
            versions[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            versions[p] = None
    return {
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "gpu": bool(torch.cuda.is_available()),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "packages": versions,
    }


def _log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def run(
    epochs: int = 30,
    max_minutes: float | None = 25.0,
    *,
    scheme: str = "per-type",
    threads: int = 2,
    quick: bool = False,
    bundle_out: Path | None = None,
) -> dict[str, Any]:
    """Train on the CMeEE training file and measure on its validation file.

    Parameters
    ----------
    epochs, max_minutes
        Passed to :func:`medai.text.ner.train_ner` (early stopping, patience 5).
    scheme
        Nested-entity scheme (``per-type``, ``flat-outer``, ``flat-inner``).
    threads
        ``torch.set_num_threads`` for training and prediction.
    quick
        Smoke run: 1,500 training and 500 validation sentences, at most 2 epochs.
    bundle_out
        Where to save the bundle (default: not saved).

    Returns
    -------
    dict
        The figures written to the results JSON.
    """
    import torch

    from medai.text.ner import evaluate_ner, read_cmeee, train_ner

    if not DATA.is_dir():
        raise SystemExit(f"the CMeEE data is absent: {DATA}")
    torch.set_num_threads(threads)
    skipped: list[str] = []
    t0 = time.perf_counter()
    train = read_cmeee(DATA / "train_data.txt", errors="skip", skipped=skipped)
    val = read_cmeee(DATA / "val_data.txt")
    read_s = time.perf_counter() - t0
    if quick:
        train, val, epochs = train[:1500], val[:500], min(epochs, 2)
    _log(f"read {len(train)} train / {len(val)} val sentences in {read_s:.1f} s")

    last = [0.0]

    def progress(step: str, done: int, total: int) -> None:
        if "val" in step or time.perf_counter() - last[0] > 60:
            last[0] = time.perf_counter()
            _log(f"{step} ({done}/{total} batches)")

    load_before = os.getloadavg()
    busy0, own0, w0 = _busy_seconds(), _own_cpu(), time.perf_counter()
    bundle = train_ner(
        train, None, scheme=scheme, epochs=epochs, max_minutes=max_minutes, seed=0,
        num_threads=threads, progress=progress, source="CMeEE train_data.txt",
    )  # fmt: skip
    wall = time.perf_counter() - w0
    busy1, own1 = _busy_seconds(), _own_cpu()
    load_after = os.getloadavg()
    other_cores = max(0.0, ((busy1 - busy0) - (own1 - own0)) / wall)
    _log(f"trained in {wall / 60:.1f} min; evaluating on {len(val)} val sentences")

    m = evaluate_ner(bundle, val, n_boot=1000, seed=0)
    texts = [ex.text for ex in val]
    n_chars = sum(len(t) for t in texts)
    bundle.predict(texts[:500])  # warm-up
    times = []
    for _ in range(3):
        t1 = time.perf_counter()
        bundle.predict(texts)
        times.append(time.perf_counter() - t1)
    t1 = time.perf_counter()
    bundle.explain(texts[:1000])
    explain_s = time.perf_counter() - t1
    if bundle_out is not None:
        bundle.save(bundle_out)

    card = bundle.card
    model = card["model"]

    def pct(x: float) -> float:
        return round(100 * x, 2)

    return {
        "task": "CMeEE (CBLUE) Chinese medical NER, 9 types, nested entities",
        "data": {
            "train": str(DATA / "train_data.txt"),
            "val": str(DATA / "val_data.txt"),
            "n_train_sentences": len(train),
            "n_val_sentences": len(val),
            "skipped_train_entities": skipped,
        },
        "protocol": (
            "train_ner(train_data, val=None): 90% of train_data.txt trains, a random 10% "
            "(seed 0) early-stops on strict F1 (patience 5, best epoch kept); strict micro P/R/F1 "
            "on the whole val_data.txt (never used in training or selection) with bootstrap 95% "
            "CIs over sentences (1000 resamples)"
        ),
        "model": {
            "architecture": model["config"]["architecture"],
            "scheme": scheme,
            "config": {k: v for k, v in model["config"].items() if k != "labels"},
            "parameters": model["parameters"],
            "n_parameters": model["n_parameters"],
            "vocab": model["vocab"],
        },
        "val_file": {
            "precision": pct(m["precision"]),
            "recall": pct(m["recall"]),
            "f1": pct(m["f1"]),
            "ci95": {k: [pct(v[0]), pct(v[1])] for k, v in m["ci95"].items()},
            "tp": m["tp"],
            "n_pred": m["n_pred"],
            "n_gold": m["n_gold"],
            "per_type": {
                k: {
                    "precision": pct(v["precision"]),
                    "recall": pct(v["recall"]),
                    "f1": pct(v["f1"]),
                    "n_gold": v["n_gold"],
                    "n_pred": v["n_pred"],
                }
                for k, v in m["per_label"].items()
            },
        },
        "held_out_10pct_of_train": {
            k: pct(card["metrics"]["val"][k]["estimate"]) for k in ("precision", "recall", "f1")
        },
        "reference": REFERENCE,
        "training": {
            "wall_seconds": round(wall, 1),
            "train_seconds_in_card": model["train_seconds"],
            "epochs_run": model["epochs_run"],
            "best_epoch": model["best_epoch"],
            "stopped": model["stopped"],
            "max_minutes": max_minutes,
            "history": model["history"],
            "entities_not_trained_on": card["training_data"]["entities_not_trained_on"],
        },
        "speed": {
            "predict_chars_per_second": round(n_chars / min(times), 1),
            "predict_seconds": [round(t, 2) for t in times],
            "predict_sentences_per_second": round(len(texts) / min(times), 1),
            "val_characters": n_chars,
            "explain_chars_per_second": round(sum(len(t) for t in texts[:1000]) / explain_s, 1),
        },
        "machine": {
            **_machine(),
            "loadavg_before_training": [round(x, 2) for x in load_before],
            "loadavg_after_training": [round(x, 2) for x in load_after],
            "other_processes_cpu_cores_during_training": round(other_cores, 2),
        },
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--max-minutes", type=float, default=25.0)
    parser.add_argument("--scheme", default="per-type")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="smoke run; results to /tmp")
    parser.add_argument("--bundle-out", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None, help="results JSON to write")
    args = parser.parse_args(argv)
    res = run(args.epochs, args.max_minutes, scheme=args.scheme, threads=args.threads,
              quick=args.quick, bundle_out=args.bundle_out)  # fmt: skip
    argv_used = sys.argv[1:] if argv is None else argv
    res["command"] = shlex.join([".venv/bin/python", "benchmarks/text_cmeee.py", *argv_used])
    out = args.out or (QUICK_RESULTS if args.quick else RESULTS)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(json.dumps(res, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(out)
    v = res["val_file"]
    _log(f"val_data.txt strict micro P {v['precision']} R {v['recall']} F1 {v['f1']} "
         f"(95% CI {v['ci95']['f1']}); results in {out}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
