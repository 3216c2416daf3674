"""medai molecules benchmark: featurisation speed, screening, and D-MPNN accuracy vs chemprop.

Run from the repository root::

    .venv/bin/python benchmarks/molecules.py                       # all sections
    .venv/bin/python benchmarks/molecules.py --sections speed esol --seeds 0 1 2

Sections (in this order; the JSON is rewritten atomically after each one, so partial results
survive):

``speed``
    SMILES parsing + Morgan fingerprints (radius 2, 2048 bits) on one core (the process is
    pinned to one CPU): raw RDKit (``Chem.MolFromSmiles`` + ``GetFingerprintAsNumPy`` into a
    preallocated array) against :func:`medai.molecules.features.featurize_smiles`, alternating,
    best of ``--repeat``, over Lipophilicity SMILES replicated to ``--n-speed``. Then
    :func:`medai.molecules.screen.tanimoto` of one query against 1,000,000 packed fingerprints
    (Lipophilicity fingerprints tiled), and the peak RSS.
``esol``, ``bbbp``
    ESOL (random 80/10/10 splits, RMSE) and BBBP (chemprop's balanced scaffold split,
    :func:`medai.molecules.splits.scaffold_split`, ROC-AUC), one split per ``--seeds``: medai
    D-MPNN (+ RDKit 2D descriptors, settings :data:`MPNN_SETTINGS`) and chemprop 2.3.1 on
    exactly the same train/val/test molecules. chemprop lives in its own virtualenv,
    ``benchmarks/.chemprop-venv`` (built on first use by :func:`ensure_venv`, git-ignored:
    torch 2.13.0 CPU first, from the local wheel, then ``chemprop==2.3.1``), and runs as
    ``chemprop train`` in a subprocess with its default settings and the same ``--epochs``;
    its test metric is computed here from its ``test_predictions.csv``.
``tox21``, ``lipo``
    medai D-MPNN (+ descriptors), the first seed: Tox21 12 tasks random split (mean ROC-AUC),
    Lipophilicity random split (RMSE).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from side_venv import build_venv  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "molecules"
OUT = ROOT / "benchmarks" / "results" / "molecules.json"
VENV = ROOT / "benchmarks" / ".chemprop-venv"
TORCH_REQUIREMENT = "torch==2.13.0"  # CPU wheel on the local find-links; installed first
CHEMPROP_REQUIREMENT = "chemprop==2.3.1"
SECTIONS = ("speed", "esol", "bbbp", "tox21", "lipo")
TOX21 = ["NR-AR", "NR-AR-LBD", "NR-AhR", "NR-Aromatase", "NR-ER", "NR-ER-LBD",
         "NR-PPAR-gamma", "SR-ARE", "SR-ATAD5", "SR-HSE", "SR-MMP", "SR-p53"]  # fmt: skip
# name -> (file, targets, split, metric, references {MoleculeNet best, chemprop paper})
TASKS: dict[str, tuple[str, list[str], str, str, dict[str, float]]] = {
    "esol": ("esol_delaney.csv", ["logp"], "random", "rmse",
             {"moleculenet": 0.58, "chemprop_paper": 0.555}),
    "bbbp": ("bbbp.csv", ["p_np"], "scaffold", "auroc",
             {"moleculenet": 0.729, "chemprop_paper": 0.737}),
    "tox21": ("tox21.csv", TOX21, "random", "auroc",
              {"moleculenet": 0.829, "chemprop_paper": 0.851}),
    "lipo": ("lipophilicity.csv", ["lipo"], "random", "rmse",
             {"moleculenet": 0.655, "chemprop_paper": 0.555}),
}  # fmt: skip
FRAC = (0.8, 0.1, 0.1)
#: medai D-MPNN settings of every section, passed to ``train`` (chosen on ESOL validation RMSE,
#: see results/molecules_esol_tuning.md)
MPNN_SETTINGS: dict[str, Any] = {"descriptors": True, "hidden": 150, "ensemble": 2}


# -- bookkeeping ---------------------------------------------------------------------------------


def _load() -> tuple[float, float, float]:
    try:
        return os.getloadavg()
    except OSError:
        return (math.nan, math.nan, math.nan)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` to ``path`` atomically (temp file in the same folder, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1, default=float)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _versions() -> dict[str, str]:
    from medai.core.bundle import package_versions

    return {"python": platform.python_version(), **package_versions("rdkit", "numpy", "torch")}


# -- the chemprop virtualenv ---------------------------------------------------------------------


def ensure_venv(path: str | Path = VENV, python: str = "python3") -> Path:
    """The chemprop virtualenv's python, creating the virtualenv first if needed.

    Built with ``python -m venv``, then ``pip install torch==2.13.0`` (the CPU wheel pip finds
    in its local find-links, so chemprop's own ``torch`` requirement is already met and no CUDA
    build is pulled), then ``pip install chemprop==2.3.1``. A stamp file written last makes
    later calls return at once; a half-built virtualenv is removed and built again.
    """
    return build_venv(path, [TORCH_REQUIREMENT, CHEMPROP_REQUIREMENT], python)


def _venv_versions(exe: Path) -> dict[str, str]:
    code = (
        "import json; from importlib import metadata as m; "
        "print(json.dumps({p: m.version(p) for p in ('chemprop', 'torch', 'lightning', "
        "'rdkit', 'numpy')}))"
    )
    proc = subprocess.run([str(exe), "-c", code], capture_output=True, text=True, check=True)
    out: dict[str, str] = json.loads(proc.stdout)
    return out


# -- section: speed ------------------------------------------------------------------------------


def bench_speed(n_mols: int = 40_000, repeat: int = 5, n_screen: int = 1_000_000) -> dict:
    """Featurisation speed on one core (raw RDKit vs medai) and a 1M-row Tanimoto screen."""
    import numpy as np
    from rdkit import Chem, rdBase
    from rdkit.Chem import rdFingerprintGenerator

    from medai.molecules.features import featurize_smiles
    from medai.molecules.screen import pack_fingerprints, popcount, tanimoto

    with open(DATA / "lipophilicity.csv", newline="", encoding="utf-8") as fh:
        base = [r["smiles"] for r in csv.DictReader(fh)]
    smiles = (base * (n_mols // len(base) + 1))[:n_mols]

    affinity = None
    if hasattr(os, "sched_getaffinity"):
        affinity = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {min(affinity)})
    try:
        gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)

        def raw() -> np.ndarray:
            out = np.zeros((len(smiles), 2048), dtype=np.uint8)
            with rdBase.BlockLogs():
                for i, s in enumerate(smiles):
                    mol = Chem.MolFromSmiles(s)
                    if mol is not None:
                        out[i] = gen.GetFingerprintAsNumPy(mol)
            return out

        def ours() -> np.ndarray:
            x, _, _ = featurize_smiles(smiles, "morgan", radius=2, n_bits=2048, dtype=np.uint8)
            return x

        times: dict[str, list[float]] = {"rdkit": [], "medai": []}
        same = None
        for _ in range(repeat):
            for name, fn in (("rdkit", raw), ("medai", ours)):
                t0 = time.perf_counter()
                x = fn()
                times[name].append(time.perf_counter() - t0)
                if name == "rdkit":
                    ref = x
                elif same is None:
                    same = bool(np.array_equal(ref, x))
            del x
    finally:
        if affinity is not None:
            os.sched_setaffinity(0, affinity)
    best = {k: min(v) for k, v in times.items()}
    rate = {k: len(smiles) / v for k, v in best.items()}
    ratio = rate["medai"] / rate["rdkit"]

    mols = [Chem.MolFromSmiles(s) for s in base]
    packed = pack_fingerprints(mols, radius=2, n_bits=2048)
    lib = np.ascontiguousarray(np.resize(packed, (n_screen, packed.shape[1])))
    query = packed[0]
    screen_times, screen_counts_times = [], []
    tanimoto(query, lib[:1000])  # warm up
    counts = popcount(lib)
    for _ in range(3):
        t0 = time.perf_counter()
        sims = tanimoto(query, lib)
        screen_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        sims2 = tanimoto(query, lib, library_counts=counts)
        screen_counts_times.append(time.perf_counter() - t0)
    assert np.array_equal(sims, sims2)
    return {
        "n_molecules": len(smiles),
        "distinct_smiles": len(base),
        "fingerprint": "Morgan radius 2, 2048 bits, uint8 matrix",
        "one_core": affinity is not None,
        "repeat": repeat,
        "seconds": times,
        "best_seconds": best,
        "molecules_per_s": rate,
        "medai_over_rdkit": ratio,
        "goal_within_10pct": ratio >= 0.9,
        "identical_output": same,
        "screen": {
            "n_library": n_screen,
            "library_mb": lib.nbytes / 2**20,
            "seconds": screen_times,
            "best_s": min(screen_times),
            "best_s_with_counts": min(screen_counts_times),
            "goal_under_1s": min(screen_times) < 1.0,
        },
        "peak_rss_mb": _peak_rss_mb(),
    }


# -- D-MPNN training -----------------------------------------------------------------------------


def _table(name: str) -> Any:
    from medai.molecules.io import read_molecules

    file, targets, _, _, _ = TASKS[name]
    # duplicates are merged: regression labels averaged, 0/1 labels by majority (a tie becomes
    # missing), as medai's own read_molecules does for users
    return read_molecules(DATA / file, smiles_col="smiles", label_cols=targets)


def _metric_of(bundle: Any, metric: str) -> dict[str, Any]:
    test = bundle.card["metrics"]["test"]
    m: dict[str, Any] = test.get(metric) or {"estimate": math.nan, "keys": sorted(test)}
    return m


def run_medai(
    name: str, seed: int, *, epochs: int, tab: Any = None, **settings: Any
) -> dict[str, Any]:
    """Train medai's D-MPNN (+ descriptors) on a benchmark set; test metric and wall time.

    ``settings`` are passed to :func:`medai.molecules.train.train` (default:
    :data:`MPNN_SETTINGS`).
    """
    from medai.molecules.train import train

    _, targets, split, metric, _ = TASKS[name]
    tab = tab if tab is not None else _table(name)
    kw = {**MPNN_SETTINGS, **settings}
    t0 = time.perf_counter()
    task = None if metric == "rmse" else "classification" if len(targets) == 1 else "multitask"
    bundle = train(
        tab, targets=targets, model="mpnn", task=task, split=split, frac=FRAC, seed=seed,
        epochs=epochs, **kw,
    )  # fmt: skip
    wall = time.perf_counter() - t0
    m = _metric_of(bundle, metric)
    val = bundle.card["metrics"]["val"].get(metric, {})
    return {
        "seed": seed,
        "settings": kw,
        metric: m["estimate"],
        f"{metric}_ci95": m.get("ci95"),
        f"val_{metric}": val.get("estimate"),
        "n_test": m.get("n"),
        "split": bundle.card["split"],
        "best_epochs": bundle.card["model"].get("best_epochs"),
        "mpnn": bundle.card["model"].get("mpnn"),
        "batch_size": bundle.card["model"].get("parameters", {}).get("batch_size"),
        "wall_s": wall,
        "test_metrics": bundle.card["metrics"]["test"],
        "task": bundle.card.get("task"),
    }


def _split_rows(
    tab: Any, target: str, seed: int, split: str = "random"
) -> tuple[list[Any], list[Any]]:
    """(smiles, labels) per part, exactly as medai's ``train`` splits (labelled rows only)."""
    import numpy as np

    from medai.molecules.splits import random_split, scaffold_split

    y = tab.labels([target])[:, 0]
    labelled = np.flatnonzero(~np.isnan(y))
    if split == "random":
        parts = random_split(len(labelled), FRAC, seed)
    else:
        parts = scaffold_split([tab.mols[i] for i in labelled], FRAC, seed)
    smiles = [[tab.smiles[labelled[i]] for i in p] for p in parts]
    labels = [[float(y[labelled[i]]) for i in p] for p in parts]
    return smiles, labels


def run_chemprop(
    exe: Path, tab: Any, target: str, seed: int, *, epochs: int, split: str = "random",
    metric: str = "rmse",
) -> dict[str, Any]:  # fmt: skip
    """chemprop 2.3.1 on medai's split of ``tab``; test RMSE or ROC-AUC from its predictions."""
    import numpy as np

    from medai.core.metrics import auroc

    smiles, labels = _split_rows(tab, target, seed, split)
    task_type = "regression" if metric == "rmse" else "classification"
    with tempfile.TemporaryDirectory(prefix="medai-chemprop-") as tmp:
        paths = []
        for part, s, y in zip(("train", "val", "test"), smiles, labels, strict=True):
            p = Path(tmp) / f"{part}.csv"
            with open(p, "w", newline="", encoding="utf-8") as fh:
                w = csv.writer(fh)
                w.writerow(["smiles", target])
                w.writerows(zip(s, y, strict=True))
            paths.append(p)
        save = Path(tmp) / "run"
        chemprop = exe.parent / "chemprop"
        # chemprop v2: three --data-path files are train, val, test (no --separate-* flags)
        cmd = [str(chemprop), "train", "--data-path", *map(str, paths),
               "--task-type", task_type, "--epochs", str(epochs),
               "--smiles-columns", "smiles", "--target-columns", target,
               "--data-seed", str(seed), "--pytorch-seed", str(seed),
               "--accelerator", "cpu", "--devices", "1", "--save-dir", str(save)]  # fmt: skip
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp, env=env)
        wall = time.perf_counter() - t0
        if proc.returncode:
            raise RuntimeError(f"chemprop failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
        found = sorted(save.rglob("test_predictions.csv"))
        if not found:
            raise RuntimeError(f"no test_predictions.csv under {save}: {list(save.rglob('*'))}")
        with open(found[0], newline="", encoding="utf-8") as fh:
            pred = np.asarray([float(r[target]) for r in csv.DictReader(fh)])
    y = np.asarray(labels[2])
    value = float(np.sqrt(np.mean((pred - y) ** 2))) if metric == "rmse" else auroc(y, pred)
    return {"seed": seed, metric: value, "n_test": len(y), "n_train": len(smiles[0]),
            "n_val": len(smiles[1]), "wall_s": wall, "command": " ".join(cmd[1:])}  # fmt: skip


def _summary(runs: list[dict[str, Any]], metric: str) -> dict[str, Any]:
    vals = [r[metric] for r in runs]
    mean = sum(vals) / len(vals)
    sd = math.sqrt(sum((v - mean) ** 2 for v in vals) / (len(vals) - 1)) if len(vals) > 1 else 0.0
    return {f"{metric}_mean": mean, f"{metric}_sd": sd,
            "wall_s_total": sum(r["wall_s"] for r in runs), "runs": runs}  # fmt: skip


def bench_compare(
    name: str, seeds: Sequence[int], *, epochs: int, chemprop: bool
) -> dict[str, Any]:
    """medai D-MPNN (+descriptors) and chemprop on the same splits of ``name``, one per seed."""
    _, targets, split, metric, refs = TASKS[name]
    tab = _table(name)
    out: dict[str, Any] = {"references": refs, "split": split, "metric": metric,
                           "epochs": epochs, "n_molecules": len(tab.smiles), "frac": FRAC,
                           "seeds": list(seeds), "settings": MPNN_SETTINGS}  # fmt: skip
    runs = []
    for seed in seeds:
        r = run_medai(name, seed, epochs=epochs, tab=tab)
        print(f"{name} medai seed {seed}: {metric} {r[metric]:.3f} ({r['wall_s']:.0f} s)",
              file=sys.stderr, flush=True)  # fmt: skip
        runs.append(r)
    out["medai"] = _summary(runs, metric)
    if chemprop:
        try:
            t0 = time.perf_counter()
            exe = ensure_venv()
            out["chemprop_venv_s"] = time.perf_counter() - t0
            out["chemprop_versions"] = _venv_versions(exe)
            cruns = []
            for seed in seeds:
                r = run_chemprop(exe, tab, targets[0], seed, epochs=epochs, split=split,
                                 metric=metric)  # fmt: skip
                print(f"{name} chemprop seed {seed}: {metric} {r[metric]:.3f} "
                      f"({r['wall_s']:.0f} s)", file=sys.stderr, flush=True)  # fmt: skip
                cruns.append(r)
            out["chemprop"] = _summary(cruns, metric)
            ours, theirs = out["medai"][f"{metric}_mean"], out["chemprop"][f"{metric}_mean"]
            out[f"medai_beats_chemprop_{metric}"] = (
                ours < theirs if metric == "rmse" else ours > theirs
            )
            out["medai_faster"] = out["medai"]["wall_s_total"] < out["chemprop"]["wall_s_total"]
        except (RuntimeError, SystemExit, subprocess.CalledProcessError) as exc:
            out["chemprop_error"] = str(exc)[-2000:]
            print(f"chemprop failed: {str(exc)[-500:]}", file=sys.stderr, flush=True)
    if name == "esol":
        out["medai_goal_le_0.58"] = out["medai"]["rmse_mean"] <= 0.58
    return out


def bench_task(name: str, seed: int, *, epochs: int) -> dict[str, Any]:
    """One medai D-MPNN (+descriptors) run on a MoleculeNet set."""
    _, targets, split, metric, refs = TASKS[name]
    r = run_medai(name, seed, epochs=epochs)
    print(f"{name} medai seed {seed}: {metric} {r[metric]:.3f} ({r['wall_s']:.0f} s)",
          file=sys.stderr, flush=True)  # fmt: skip
    return {"references": refs, "split": split, "metric": metric, "n_targets": len(targets),
            "epochs": epochs, "medai": r}  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS),
                    help="sections to run (default: all, in order)")  # fmt: skip
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2],
                    help="split seeds of 'esol' and 'bbbp' (the first for 'tox21', 'lipo')")  # fmt: skip
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--n-speed", type=int, default=40_000, help="molecules in the speed test")
    ap.add_argument("--repeat", type=int, default=5, help="speed runs (the best one counts)")
    ap.add_argument("--no-chemprop", action="store_true", help="skip chemprop in esol/bbbp")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--keep", action="store_true",
                    help="keep the sections of an existing --out that are not run now")  # fmt: skip
    args = ap.parse_args(argv)

    results: dict[str, Any] = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "load_before": _load(),
        },
        "versions": _versions(),
        "sections": {},
    }
    if args.keep and args.out.exists():
        old = json.loads(args.out.read_text(encoding="utf-8"))
        for name, res in old.get("sections", {}).items():
            if name not in args.sections:
                res.setdefault("command", old.get("command"))
                res.setdefault("date", old.get("date"))
                results["sections"][name] = res
    for name in SECTIONS:
        if name not in args.sections:
            continue
        t0 = time.perf_counter()
        load0 = _load()
        print(f"== {name}", file=sys.stderr, flush=True)
        if name == "speed":
            res = bench_speed(args.n_speed, args.repeat)
            print(f"speed: rdkit {res['molecules_per_s']['rdkit']:.0f}/s, medai "
                  f"{res['molecules_per_s']['medai']:.0f}/s ({res['medai_over_rdkit']:.3f}); "
                  f"tanimoto 1M {res['screen']['best_s']:.3f} s; peak RSS "
                  f"{res['peak_rss_mb']:.0f} MB", file=sys.stderr, flush=True)  # fmt: skip
        elif name in ("esol", "bbbp"):
            res = bench_compare(name, args.seeds, epochs=args.epochs,
                                chemprop=not args.no_chemprop)  # fmt: skip
        else:
            try:
                res = bench_task(name, args.seeds[0], epochs=args.epochs)
            except Exception as exc:  # record and go on to the next section
                res = {"error": f"{type(exc).__name__}: {exc}"}
                print(f"{name} failed: {res['error']}", file=sys.stderr, flush=True)
        res["section_wall_s"] = time.perf_counter() - t0
        res["load_before"], res["load_after"] = load0, _load()
        results["sections"][name] = res
        results["machine"]["load_after"] = _load()
        results["machine"]["peak_rss_mb"] = _peak_rss_mb()
        write_json(args.out, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
