"""medai's ConText against medspaCy's ConText, side by side on the same English sentences.

Run from the repository root::

    .venv/bin/python benchmarks/text_medspacy.py                 # both systems, table
    .venv/bin/python benchmarks/text_medspacy.py --repeat 10 --out /tmp/text_medspacy.json

medspaCy pins spaCy<3.8 and numpy<2, so medai never depends on it (``DESIGN.md``). It lives in
its own virtualenv, ``benchmarks/.medspacy-venv`` (built on first use by :func:`ensure_venv`,
git-ignored), and runs there as a worker process::

    benchmarks/.medspacy-venv/bin/python benchmarks/text_medspacy.py --worker IN.jsonl OUT.json

The worker imports only the standard library, spaCy and medspaCy (never medai). It builds
``medspacy.load`` with medspaCy's tokenizer, PyRuSH sentence splitter and ConText with its
default English rules (no target matcher); per sentence it runs the tokenizer and PyRuSH, sets
the gold targets as ``doc.ents`` (``char_span(..., alignment_mode="expand")``, label
``TARGET``), then calls the ConText component and reads ``is_negated``, ``is_uncertain``,
``is_historical``, ``is_hypothetical`` and ``is_family`` of each target.

Both systems are timed over all sentences, ``--repeat`` times; the best run gives the
sentences/second. medai splits sentences and applies ConText in one call (``context_attributes``), so
its figure is comparable to medspaCy's full pipeline (tokenizer + PyRuSH + ConText).

Gold rows with a ``section`` key (a sentence lifted from, e.g., a family-history section) give
medai the section name, which it turns into attributes; medspaCy gets the sentence alone.
Every comparison is therefore reported twice: on all rows, and without those rows.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from side_venv import build_venv  # noqa: E402

VENV = ROOT / "benchmarks" / ".medspacy-venv"
GOLD = ROOT / "tests" / "data" / "text" / "context_en.jsonl"
MEDSPACY_REQUIREMENT = "medspacy==1.3.1"
# our attribute name -> medspaCy's Span extension
ATTRIBUTES = {
    "negated": "is_negated",
    "uncertain": "is_uncertain",
    "historical": "is_historical",
    "hypothetical": "is_hypothetical",
    "family": "is_family",
}
MEDSPACY_COMPONENTS = ["medspacy_tokenizer", "medspacy_pyrush", "medspacy_context"]


# -- shared helpers (standard library only: they run in both virtualenvs) ---------------------


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    """Gold JSONL rows (blank lines skipped)."""
    rows = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").split("\n"), start=1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except ValueError as exc:
                raise SystemExit(f"{path}:{n}: not valid JSON ({exc})") from None
    return rows


def spans_of(text: str, targets: Sequence[Mapping[str, Any]]) -> list[tuple[int, int]]:
    """Offsets of each target: the ``occurrence``-th (default 0) ``str.find`` of its text."""
    out = []
    for t in targets:
        pos = -1
        for _ in range(int(t.get("occurrence", 0)) + 1):
            pos = text.find(t["text"], pos + 1)
            if pos < 0:
                raise ValueError(f"target {t['text']!r} not found in {text!r:.80}")
        out.append((pos, pos + len(t["text"])))
    return out


# -- the medspaCy virtualenv -------------------------------------------------------------------


def ensure_venv(path: str | Path = VENV, python: str = "python3") -> Path:
    """The medspaCy virtualenv's python, creating the virtualenv first if needed.

    A relative ``path`` is taken from the repository root. The virtualenv is built with
    ``python -m venv`` and ``pip install medspacy==1.3.1`` (which brings its own spaCy, numpy
    and PyRuSH); a stamp file written last makes later calls return at once. A half-built
    virtualenv (no stamp, or a stamp for another requirement) is removed and built again.
    """
    return build_venv(path, [MEDSPACY_REQUIREMENT], python)


def _groups(spans: Sequence[Any]) -> list[list[int]]:
    """Indices of token spans split into groups without overlaps (``doc.ents`` forbids them)."""
    groups: list[list[int]] = []
    ends: list[int] = []
    for i in sorted(range(len(spans)), key=lambda i: (spans[i].start, spans[i].end)):
        for g, end in enumerate(ends):
            if spans[i].start >= end:
                groups[g].append(i)
                ends[g] = spans[i].end
                break
        else:
            groups.append([i])
            ends.append(spans[i].end)
    return groups


def worker(gold: Path, out: Path, repeat: int = 5) -> None:
    """Run medspaCy's ConText on the gold targets; write predictions and timings to ``out``."""
    from importlib import metadata

    import medspacy
    import spacy

    try:  # PyRuSH 1.0.x logs every sentence at DEBUG through loguru's default stderr handler
        from loguru import logger

        logger.disable("PyRuSH")
    except ImportError:
        pass
    t0 = time.perf_counter()
    nlp = medspacy.load(medspacy_enable=MEDSPACY_COMPONENTS)
    load_s = time.perf_counter() - t0
    splitter = nlp.get_pipe("medspacy_pyrush")
    context = nlp.get_pipe("medspacy_context")
    rows = read_rows(gold)
    spans = [spans_of(r["text"], r["targets"]) for r in rows]

    runs = []
    preds: list[dict[str, Any]] = []
    for run in range(repeat):
        full = ctx = 0.0
        current: list[dict[str, Any]] = []
        for row, row_spans in zip(rows, spans, strict=True):
            t0 = time.perf_counter()
            doc = splitter(nlp.make_doc(row["text"]))
            ents = [
                doc.char_span(a, b, label="TARGET", alignment_mode="expand") for a, b in row_spans
            ]
            groups = _groups(ents)
            found: dict[int, Any] = {}
            for g in groups:
                if len(groups) > 1:  # overlapping targets: one ConText pass per group
                    doc = splitter(nlp.make_doc(row["text"]))
                    ents = [
                        doc.char_span(a, b, label="TARGET", alignment_mode="expand")
                        for a, b in row_spans
                    ]
                doc.ents = [ents[i] for i in g]
                t1 = time.perf_counter()
                context(doc)
                ctx += time.perf_counter() - t1
                found.update((i, ents[i]) for i in g)
            full += time.perf_counter() - t0
            for i, t in enumerate(row["targets"]):
                ent = found[i]
                current.append(
                    {
                        "id": row.get("id"),
                        "target": t["text"],
                        "span": ent.text,
                        "overlap_pass": len(groups) > 1,
                        **{
                            ours: bool(getattr(ent._, theirs))
                            for ours, theirs in ATTRIBUTES.items()
                        },
                    }
                )
        if run == 0:
            preds = current
        elif current != preds:
            raise SystemExit("medspaCy predictions changed between runs")
        runs.append({"full_s": full, "context_s": ctx})

    best_full = min(r["full_s"] for r in runs)
    best_ctx = min(r["context_s"] for r in runs)
    result = {
        "system": "medspacy",
        "versions": {
            "medspacy": medspacy.__version__,
            "spacy": spacy.__version__,
            "pyrush": metadata.version("PyRuSH"),
            "numpy": metadata.version("numpy"),
            "python": platform.python_version(),
        },
        "pipeline": nlp.pipe_names,
        "tokenizer": "medspacy_tokenizer",
        "sentences": len(rows),
        "targets": len(preds),
        "expanded_spans": [
            {"id": p["id"], "target": p["target"], "span": p["span"]}
            for p in preds
            if p["span"] != p["target"]
        ],
        "overlap_passes": sum(p["overlap_pass"] for p in preds),
        "timing": {
            "repeat": repeat,
            "load_s": load_s,
            "runs": runs,
            "best_full_s": best_full,
            "best_context_s": best_ctx,
            "full_sentences_per_s": len(rows) / best_full if best_full else math.nan,
            "context_sentences_per_s": len(rows) / best_ctx if best_ctx else math.nan,
        },
        "predictions": preds,
    }
    out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


# -- the medai side (runs in medai's virtualenv) -----------------------------------------------


def run_medspacy(
    gold_path: str | Path = GOLD, repeat: int = 5, venv: str | Path = VENV
) -> dict[str, Any]:
    """medspaCy's predictions and timings on ``gold_path`` (the worker, in its virtualenv)."""
    exe = ensure_venv(venv)
    with tempfile.TemporaryDirectory(prefix="medai-medspacy-") as tmp:
        out = Path(tmp) / "out.json"
        cmd = [str(exe), str(Path(__file__).resolve()), "--worker", str(Path(gold_path).resolve()),
               str(out), "--repeat", str(repeat)]  # fmt: skip
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp, env=env)
        if proc.returncode:
            raise SystemExit(f"medspaCy worker failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
        result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
        return result


def run_medai(gold_path: str | Path = GOLD, repeat: int = 5) -> dict[str, Any]:
    """medai's predictions and timings on ``gold_path`` (rows' ``section`` passed on)."""
    from importlib import metadata

    from medai.text.scoring import context_attributes, target_spans

    rows = read_rows(gold_path)
    spans = [target_spans(r["text"], r["targets"]) for r in rows]
    context_attributes(rows[0]["text"], spans[0], lang="en")  # load the rules outside the clock
    runs = []
    preds: list[dict[str, Any]] = []
    for run in range(repeat):
        t0 = time.perf_counter()
        found = [
            context_attributes(r["text"], s, lang="en", section=r.get("section"))
            for r, s in zip(rows, spans, strict=True)
        ]
        runs.append({"full_s": time.perf_counter() - t0})
        current = [
            {"id": r.get("id"), "target": t["text"], **{a: bool(p[a]) for a in ATTRIBUTES}}
            for r, ps in zip(rows, found, strict=True)
            for t, p in zip(r["targets"], ps, strict=True)
        ]
        if run == 0:
            preds = current
        elif current != preds:
            raise SystemExit("medai predictions changed between runs")
    best = min(r["full_s"] for r in runs)
    return {
        "system": "medai",
        "versions": {"medai": metadata.version("medai"), "python": platform.python_version()},
        "sentences": len(rows),
        "targets": len(preds),
        "timing": {
            "repeat": repeat,
            "runs": runs,
            "best_full_s": best,
            "full_sentences_per_s": len(rows) / best if best else math.nan,
        },
        "predictions": preds,
    }


def _prf(gold: Sequence[bool], pred: Sequence[bool]) -> dict[str, float | int]:
    tp = sum(g and p for g, p in zip(gold, pred, strict=True))
    fp = sum(p and not g for g, p in zip(gold, pred, strict=True))
    fn = sum(g and not p for g, p in zip(gold, pred, strict=True))
    p = tp / (tp + fp) if tp + fp else math.nan
    r = tp / (tp + fn) if tp + fn else math.nan
    f = 2 * p * r / (p + r) if tp else 0.0
    return {"precision": p, "recall": r, "f1": f, "tp": tp, "fp": fp, "fn": fn}


def _agreement(a: Sequence[bool], b: Sequence[bool]) -> dict[str, float | int]:
    """Raw agreement and Cohen's kappa of two boolean raters."""
    n = len(a)
    if not n:
        return {"agree": math.nan, "kappa": math.nan, "n": 0}
    po = sum(x == y for x, y in zip(a, b, strict=True)) / n
    pa, pb = sum(a) / n, sum(b) / n
    pe = pa * pb + (1 - pa) * (1 - pb)
    kappa = (po - pe) / (1 - pe) if pe < 1 else (1.0 if po == 1 else math.nan)
    return {"agree": po, "kappa": kappa, "n": n, "disagree": round(n * (1 - po))}


def compare(
    gold_rows: Sequence[Mapping[str, Any]],
    medai_preds: Sequence[Mapping[str, Any]],
    medspacy_preds: Sequence[Mapping[str, Any]],
    skip_sections: bool = False,
) -> dict[str, Any]:
    """Agreement of the two systems and each one's precision/recall/F1 against the gold.

    ``medai_preds`` and ``medspacy_preds`` hold one dict per gold target, in gold order, with the
    five boolean attributes. With ``skip_sections`` rows carrying a ``section`` are left out
    (medai is told the section there; medspaCy only sees the sentence).
    """
    targets = [(r, t) for r in gold_rows for t in r["targets"]]
    if not len(targets) == len(medai_preds) == len(medspacy_preds):
        raise ValueError(
            f"{len(targets)} gold targets, {len(medai_preds)} medai and "
            f"{len(medspacy_preds)} medspaCy predictions"
        )
    for (r, t), p in zip(targets, medspacy_preds, strict=True):
        if "id" in p and (p["id"], p["target"]) != (r.get("id"), t["text"]):
            raise ValueError(f"medspaCy prediction {p['id']}/{p['target']!r} out of order")
    keep = [i for i, (r, _) in enumerate(targets) if not (skip_sections and r.get("section"))]
    out: dict[str, Any] = {
        "sentences": len({id(targets[i][0]) for i in keep}),
        "targets": len(keep),
        "skip_sections": skip_sections,
        "agreement": {},
        "medai": {},
        "medspacy": {},
    }
    for attr in ATTRIBUTES:
        gold = [bool(targets[i][1].get(attr)) for i in keep]
        ours = [bool(medai_preds[i][attr]) for i in keep]
        theirs = [bool(medspacy_preds[i][attr]) for i in keep]
        out["agreement"][attr] = _agreement(ours, theirs)
        out["medai"][attr] = _prf(gold, ours)
        out["medspacy"][attr] = _prf(gold, theirs)
    out["negation_disagreements"] = [
        {
            "id": targets[i][0].get("id"),
            "text": targets[i][0]["text"],
            "target": targets[i][1]["text"],
            "gold": bool(targets[i][1].get("negated")),
            "medai": bool(medai_preds[i]["negated"]),
            "medspacy": bool(medspacy_preds[i]["negated"]),
        }
        for i in keep
        if bool(medai_preds[i]["negated"]) != bool(medspacy_preds[i]["negated"])
    ]
    return out


def _table(cmp: Mapping[str, Any], speed: Mapping[str, float]) -> str:
    lines = [
        f"{'system':<10} {'neg P':>6} {'neg R':>6} {'neg F1':>6}   {'F1 unc/hist/hyp/fam':<24}"
        f" {'sent/s':>8}",
    ]
    for system in ("medai", "medspacy"):
        m = cmp[system]
        neg = m["negated"]
        others = "/".join(f"{m[a]['f1']:.2f}" for a in list(ATTRIBUTES)[1:])
        lines.append(
            f"{system:<10} {neg['precision']:>6.3f} {neg['recall']:>6.3f} {neg['f1']:>6.3f}   "
            f"{others:<24} {speed[system]:>8.0f}"
        )
    ag = cmp["agreement"]["negated"]
    lines.append(
        f"negation agreement {ag['agree']:.3f}, Cohen's kappa {ag['kappa']:.3f} "
        f"({ag['disagree']} of {ag['n']} targets differ; {cmp['sentences']} sentences)"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--worker",
        nargs=2,
        metavar=("IN", "OUT"),
        type=Path,
        help="run inside the medspaCy virtualenv: gold JSONL in, JSON out",
    )
    ap.add_argument("--gold", type=Path, default=GOLD, help="gold JSONL (English)")
    ap.add_argument("--repeat", type=int, default=5, help="timed runs (the best one counts)")
    ap.add_argument("--out", type=Path, help="also write everything to this JSON file")
    ap.add_argument(
        "--disagreements",
        action="store_true",
        help="list the targets where the two systems' negation differs",
    )
    args = ap.parse_args(argv)  # fmt: skip
    if args.worker:
        worker(args.worker[0], args.worker[1], args.repeat)
        return 0

    rows = read_rows(args.gold)
    ms = run_medspacy(args.gold, args.repeat)
    ours = run_medai(args.gold, args.repeat)
    speed = {
        "medai": ours["timing"]["full_sentences_per_s"],
        "medspacy": ms["timing"]["full_sentences_per_s"],
    }
    results: dict[str, Any] = {
        "gold": str(args.gold),
        "medai": {k: v for k, v in ours.items() if k != "predictions"},
        "medspacy": {k: v for k, v in ms.items() if k != "predictions"},
        "all": compare(rows, ours["predictions"], ms["predictions"]),
        "no_section": compare(rows, ours["predictions"], ms["predictions"], skip_sections=True),
    }
    v = ms["versions"]
    print(
        f"medai {ours['versions']['medai']} vs medspaCy {v['medspacy']} (spaCy {v['spacy']}, "
        f"PyRuSH {v['pyrush']}, numpy {v['numpy']}); {len(rows)} sentences, best of "
        f"{args.repeat} runs; medspaCy ConText step alone "
        f"{ms['timing']['context_sentences_per_s']:.0f} sentences/s"
    )
    for e in ms["expanded_spans"]:
        print(f"medspaCy token span of {e['id']} {e['target']!r} widened to {e['span']!r}")
    n_sec = sum(bool(r.get("section")) for r in rows)
    print(f"\nall rows (medai is given the section of {n_sec} rows; medspaCy is not):")
    print(_table(results["all"], speed))
    print(f"\nwithout the {n_sec} rows that carry a section:")
    print(_table(results["no_section"], speed))
    if args.disagreements:
        print("\nnegation disagreements (rows without a section):")
        for d in results["no_section"]["negation_disagreements"]:
            print(
                f"  {d['id']} {d['target']!r}: gold={d['gold']} medai={d['medai']} "
                f"medspacy={d['medspacy']}  | {d['text']}"
            )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
