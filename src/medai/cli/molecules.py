"""``medai mol``: filters, similarity screening and property models for molecule tables."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from medai.cli.common import err_console, progress_bar
from medai.core.errors import InvalidInputError, SchemaError

if TYPE_CHECKING:
    from medai.molecules.io import Rejection

__all__ = ["app"]

app = typer.Typer(
    help="Drug discovery: filters, similarity screening, property models, explanations and "
    "model-guided generation for molecules (SMILES/SDF).",
    no_args_is_help=True,
)

MOLECULES = typer.Argument(
    ..., help="Molecules: CSV/TSV/Parquet (.csv.gz too) with a SMILES column, .smi or SDF."
)
SMILES_COL = typer.Option(
    None, "--smiles-col", help="SMILES column (default: smiles, canonical_smiles, ...)."
)
ID_COL = typer.Option(None, "--id-col", help="Id column (default: id, name, ... or row number).")
TABLE_SUFFIXES = (".csv", ".json", ".parquet")


def _check_suffix(path: Path | None, option: str, suffixes: tuple[str, ...]) -> None:
    if path is not None and path.suffix.lower() not in suffixes:
        raise InvalidInputError(f"{option} {str(path)!r} must end in {', '.join(suffixes)}")


def _print_rejected(rejected: list[Rejection], limit: int = 10) -> None:
    """The first rejected rows with their reasons, on stderr."""
    console = err_console()
    for r in rejected[:limit]:
        console.print(f"[yellow]rejected[/] row {r.row} (id {r.id}): {r.reason}", soft_wrap=True)
    if len(rejected) > limit:
        console.print(f"... and {len(rejected) - limit} more rejected rows")


def _read_smiles(data: Path, smiles_col: str | None) -> tuple[list[str], list[str]]:
    """Ids and SMILES as written (no standardisation) of a .smi/SDF file or a table.

    Unreadable SDF records are listed on stderr; table rows keep their SMILES text (blank for
    a missing cell) so that predictions report each row's error in place.
    """
    from medai.core.tables import read_table
    from medai.molecules.io import find_id_column, find_smiles_column, read_molecules

    if data.suffix.lower() in (".smi", ".sdf"):
        table = read_molecules(data, standardize=False, dedupe="keep")
        for r in table.rejected[:10]:
            err_console().print(f"row {r.row}: {r.reason}")
        return list(table.ids), list(table.smiles)
    frame = read_table(data)
    columns = [str(c) for c in frame.columns]
    col = smiles_col or find_smiles_column(columns)
    if col is None or col not in columns:
        raise SchemaError(
            f"{str(data)!r} has no SMILES column {smiles_col or ''!r}; columns: "
            f"{', '.join(columns)} (name it with --smiles-col)"
        )
    id_col = find_id_column(columns, exclude=col)
    ids = [str(v) for v in frame[id_col]] if id_col else [str(i + 1) for i in range(len(frame))]
    return ids, ["" if v is None or v != v else str(v) for v in frame[col]]


@app.command("filter")
def filter_command(
    source: Path = MOLECULES,
    out: Path = typer.Option(
        ..., "--out", "-o", help="Per-molecule table to write: .csv, .json or .parquet."
    ),
    smiles_col: str | None = SMILES_COL,
    id_col: str | None = ID_COL,
    rules: str = typer.Option(
        "all", "--rules", help="Comma-separated: lipinski,veber,ghose,qed,sa,pains,brenk or all."
    ),
    max_sa: float | None = typer.Option(
        None, "--max-sa", help="Fail molecules with an SA score above this (1-10), e.g. 6."
    ),
    min_qed: float | None = typer.Option(
        None, "--min-qed", help="Fail molecules with a QED below this (0-1), e.g. 0.5."
    ),
    html: Path | None = typer.Option(
        None, "--html", help="HTML report: counts per rule, drawings with alerts highlighted."
    ),
    rejected: Path | None = typer.Option(
        None,
        "--rejected",
        help="Write unreadable rows here (.csv/.json/.parquet) instead of into --out.",
    ),
    standardize: bool = typer.Option(
        True, "--standardize/--no-standardize", help="Strip salts and neutralise first."
    ),
    max_atoms: int = typer.Option(1000, "--max-atoms", help="Reject larger molecules."),
) -> None:
    """Lipinski, Veber, Ghose, QED, SA score, PAINS and Brenk alerts for every molecule.

    Every input row is reported: status ok, or rejected with the reason (or in --rejected).
    """
    import pandas as pd

    from medai.core.tables import write_table
    from medai.molecules.filters import filter_molecules, filter_report, parse_rules
    from medai.molecules.io import read_molecules

    _check_suffix(out, "--out", TABLE_SUFFIXES)
    _check_suffix(rejected, "--rejected", TABLE_SUFFIXES)
    _check_suffix(html, "--html", (".html", ".htm"))
    chosen = parse_rules(rules)
    filter_molecules([], chosen, max_sa=max_sa, min_qed=min_qed)  # checks the options early

    with progress_bar("molecules") as progress:
        table = read_molecules(
            source, smiles_col=smiles_col, id_col=id_col, standardize=standardize,
            max_atoms=max_atoms, dedupe="keep", progress=progress,
        )  # fmt: skip
        results = filter_molecules(
            table.mols, chosen, max_sa=max_sa, min_qed=min_qed, progress=progress
        )
    results = results.reset_index(drop=True)
    for col in results.columns:  # nullable types, so that rejected rows stay blank
        if pd.api.types.is_bool_dtype(results[col]):
            results[col] = results[col].astype("boolean")
        elif pd.api.types.is_integer_dtype(results[col]):
            results[col] = results[col].astype("Int64")
    head = table.frame[["row", "id", "smiles", "input_smiles"]].reset_index(drop=True)
    head.insert(2, "status", "ok")
    head.insert(3, "reason", "")
    kept = pd.concat([head, results], axis=1)
    bad = table.rejected_frame().rename(columns={"input": "input_smiles"})
    bad.insert(2, "status", "rejected")
    bad = bad[["row", "id", "status", "reason", "input_smiles"]]
    if rejected is None and len(bad):
        if len(kept):
            kept = pd.concat([kept, bad], ignore_index=True).sort_values("row", kind="stable")
        else:  # every row rejected: keep the full set of columns all the same
            kept = bad.reindex(columns=kept.columns)
    write_table(kept.reset_index(drop=True), out)
    if rejected is not None:
        write_table(bad, rejected)
    if html is not None:
        report = filter_report(
            results, table.mols, ids=table.ids, rejected=table.rejected,
            title="medai mol filter", subtitle=f"{source.name}: rules {', '.join(chosen)}",
        )  # fmt: skip
        report.save(html)

    console = err_console()
    _print_rejected(table.rejected)
    n = len(results)
    passed = int(results["passes"].sum()) if n else 0
    per_rule = ", ".join(
        f"{rule} {int((~results[f'{rule}_pass'].astype(bool)).sum())}"
        for rule in chosen
        if f"{rule}_pass" in results.columns
    )
    where = f"; rejected rows in {rejected}" if rejected is not None else ""
    console.print(
        f"{n} molecules filtered: {passed} pass every rule"
        + (f" (failing: {per_rule})" if per_rule else "")
        + f"; {len(table.rejected)} rows rejected; written to {out}{where}"
        + (f"; report {html}" if html is not None else ""),
        soft_wrap=True,
    )


@app.command("screen")
def screen_command(
    library: Path = typer.Argument(
        ..., help="Library to screen: CSV/TSV (.gz too) with a SMILES column, .smi or Parquet."
    ),
    query: list[str] | None = typer.Option(
        None, "--query", "-q", help="Query SMILES (repeat for several queries)."
    ),
    queries: Path | None = typer.Option(
        None, "--queries", help="File of query molecules (CSV with a SMILES column, or .smi)."
    ),
    out: Path = typer.Option(
        ..., "--out", "-o", help="Hits table to write: .csv, .json or .parquet."
    ),
    k: int = typer.Option(10, "--k", help="Hits kept per query."),
    threshold: float | None = typer.Option(
        None, "--threshold", help="Minimum Tanimoto similarity of a hit (0-1), e.g. 0.4."
    ),
    processes: int | None = typer.Option(
        None, "--processes", help="Worker processes (default: every CPU core)."
    ),
    batch_size: int = typer.Option(
        50_000, "--batch-size", help="Library rows per batch (memory is bounded by it)."
    ),
    smiles_col: str | None = SMILES_COL,
    id_col: str | None = ID_COL,
    radius: int = typer.Option(2, "--radius", help="Morgan radius (2 = ECFP4)."),
    n_bits: int = typer.Option(2048, "--n-bits", help="Fingerprint bits (a multiple of 64)."),
) -> None:
    """Top-k Tanimoto similarity search (Morgan bits) of queries against a large library.

    The library is streamed in batches over worker processes; rows that do not parse are
    summarised on stderr.
    """
    from medai.core.tables import write_table
    from medai.molecules.io import read_molecules
    from medai.molecules.screen import screen_file

    _check_suffix(out, "--out", TABLE_SUFFIXES)
    named: dict[str, str] = {}
    for smi in query or []:
        named[smi] = smi
    if queries is not None:
        table = read_molecules(queries, standardize=False, dedupe="keep")
        if table.rejected:
            r = table.rejected[0]
            raise InvalidInputError(
                f"query file {str(queries)!r} row {r.row} (id {r.id}) is not a valid molecule: "
                f"{r.reason}; fix or remove it"
            )
        for qid, smi in zip(table.ids, table.frame["input_smiles"], strict=True):
            named[qid] = str(smi)
    if not named:
        raise InvalidInputError("no query given; use --query SMILES (repeatable) or --queries FILE")

    with progress_bar("library") as progress:
        result = screen_file(
            library, named, k=k, threshold=threshold, batch_size=batch_size,
            processes=processes, smiles_col=smiles_col, id_col=id_col, radius=radius,
            n_bits=n_bits, progress=progress,
        )  # fmt: skip
    write_table(result.hits, out)

    console = err_console()
    _print_rejected(result.rejected)
    console.print(
        f"{result.n_screened} of {result.n_rows} library rows screened against {len(named)} "
        f"queries; {len(result.rejected)} rows rejected; {len(result.hits)} hits written to {out}",
        soft_wrap=True,
    )


@app.command("train")
def train_command(
    data: Path = MOLECULES,
    target: list[str] = typer.Option(..., "--target", "-t", help="Label column(s); repeatable."),
    out: Path = typer.Option(..., "--out", "-o", help="Bundle folder to write."),
    model: str = typer.Option("mpnn", "--model", help="mpnn (D-MPNN), lightgbm or rf."),
    split: str = typer.Option("random", "--split", help="random, scaffold or stratified."),
    descriptors: bool = typer.Option(
        False, "--descriptors/--no-descriptors", help="D-MPNN: add RDKit 2D descriptors."
    ),
    ensemble: int = typer.Option(1, "--ensemble", help="Models in the ensemble (spread = std)."),
    epochs: int = typer.Option(30, "--epochs", help="D-MPNN epochs."),
    seed: int = typer.Option(0, "--seed"),
    smiles_col: str | None = SMILES_COL,
    max_minutes: float | None = typer.Option(None, "--max-minutes", help="Training budget."),
) -> None:
    """Train a property model (regression, classification or multi-task); bundle + report."""
    from medai.cli.common import print_metrics
    from medai.molecules.train import train

    if ensemble < 1:
        raise InvalidInputError(f"--ensemble must be at least 1, got {ensemble}")
    with progress_bar("training") as progress:
        bundle = train(
            data,
            targets=target,
            smiles_col=smiles_col,
            model=model,
            split=split,
            descriptors=descriptors,
            ensemble=ensemble,
            epochs=epochs,
            seed=seed,
            progress=progress,
            max_minutes=max_minutes,
        )
    path = bundle.save(out)
    print_metrics(bundle.card["metrics"]["test"], "test metrics")
    err_console().print(f"bundle written to {path} (report: {path / 'report.html'})")


@app.command("predict")
def predict_command(
    bundle_dir: Path = typer.Argument(..., help="Bundle folder from `medai mol train`."),
    data: Path = MOLECULES,
    out: Path | None = typer.Option(None, "--out", "-o", help="CSV/JSON/Parquet (default stdout)."),
    smiles_col: str | None = SMILES_COL,
) -> None:
    """Predictions with ensemble spread and applicability domain (nearest-neighbour Tanimoto)."""
    from medai.cli.common import write_predictions
    from medai.molecules.model import MolBundle

    bundle = MolBundle.load(bundle_dir)
    _, smiles = _read_smiles(data, smiles_col)
    preds = bundle.predict(smiles)
    write_predictions(preds, out)


@app.command("evaluate")
def evaluate_command(
    bundle_dir: Path = typer.Argument(..., help="Bundle folder from `medai mol train`."),
    data: Path = MOLECULES,
    out: Path = typer.Option(..., "--out", "-o", help="HTML report to write."),
    smiles_col: str | None = SMILES_COL,
) -> None:
    """External validation: metrics with 95% CIs and an HTML report."""
    from medai.cli.common import print_metrics
    from medai.molecules.model import MolBundle
    from medai.molecules.train import evaluate

    _check_suffix(out, "--out", (".html",))
    metrics, report = evaluate(MolBundle.load(bundle_dir), data, smiles_col=smiles_col)
    report.save(out)
    print_metrics({k: v.to_dict() for k, v in metrics.items()}, "external metrics")
    err_console().print(f"report written to {out}")


@app.command("score")
def score_command(
    bundle_dir: Path = typer.Argument(..., help="Bundle folder from `medai mol train`."),
    library: Path = typer.Argument(
        ..., help="Library: CSV/TSV (.gz too) with a SMILES column, .smi or Parquet."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Scores to write (.csv, streamed)."),
    batch_size: int = typer.Option(
        50_000, "--batch-size", help="Library rows per batch (memory is bounded by it)."
    ),
    smiles_col: str | None = SMILES_COL,
    id_col: str | None = ID_COL,
) -> None:
    """Score a large library with a trained model, batch by batch (bounded memory).

    Each row gets the predictions, spread, nearest-neighbour similarity to the training set
    and the in-domain flag; rows that do not parse are summarised on stderr.
    """
    from medai.molecules.model import MolBundle
    from medai.molecules.screen import score_file

    _check_suffix(out, "--out", (".csv",))
    bundle = MolBundle.load(bundle_dir)
    with progress_bar("library") as progress:
        result = score_file(
            library, lambda smiles: bundle.predict(smiles).drop(columns=["smiles"]),
            out_path=out, batch_size=batch_size, smiles_col=smiles_col, id_col=id_col,
            progress=progress,
        )  # fmt: skip
    console = err_console()
    _print_rejected(result.rejected)
    console.print(
        f"{result.n_scored} of {result.n_rows} library rows scored; {len(result.rejected)} "
        f"rejected; written to {out}",
        soft_wrap=True,
    )


@app.command("explain")
def explain_command(
    bundle_dir: Path = typer.Argument(..., help="Bundle folder from `medai mol train`."),
    data: Path | None = typer.Argument(
        None, help="Molecules (CSV/TSV/Parquet with a SMILES column, .smi or SDF)."
    ),
    smiles: list[str] | None = typer.Option(
        None, "--smiles", "-s", help="A SMILES to explain (repeatable; instead of a file)."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="HTML report with similarity maps."),
    svg_dir: Path | None = typer.Option(
        None, "--svg-dir", help="Also write one similarity map SVG per molecule and target."
    ),
    atoms: Path | None = typer.Option(
        None, "--atoms", help="Per-atom weights table (.csv, .json or .parquet)."
    ),
    steps: int = typer.Option(32, "--steps", help="Integrated-gradient steps (D-MPNN)."),
    smiles_col: str | None = SMILES_COL,
) -> None:
    """Per-atom contributions drawn as similarity maps (red raises, blue lowers the prediction).

    D-MPNN: integrated gradients; LightGBM/random forest: Morgan fingerprint-bit masking.
    """
    import pandas as pd

    from medai.core.tables import write_table
    from medai.molecules.explain import explain_report
    from medai.molecules.model import MolBundle

    _check_suffix(out, "--out", (".html",))
    _check_suffix(atoms, "--atoms", TABLE_SUFFIXES)
    if (data is None) == (not smiles):
        raise InvalidInputError("give a molecule file or --smiles (one of them)")
    bundle = MolBundle.load(bundle_dir)
    if data is not None:
        ids, texts = _read_smiles(data, smiles_col)
    else:
        texts = list(smiles or [])
        ids = [str(i + 1) for i in range(len(texts))]
    explanations = []
    with progress_bar("explaining") as progress:
        for i, text in enumerate(texts):
            explanations += bundle.explain(text, steps=steps)
            progress("explaining", i + 1, len(texts))
    report = explain_report(explanations, bundle, ids)
    frames = []
    for mid, e in zip(ids, explanations, strict=True):
        f = e.frame()
        f.insert(0, "smiles", e.smiles)
        f.insert(0, "id", mid)
        frames.append(f)
    if svg_dir is not None:
        import re

        svg_dir.mkdir(parents=True, exist_ok=True)
        for n, (mid, e) in enumerate(zip(ids, explanations, strict=True)):
            if e.mol is None:
                continue
            safe = re.sub(r"[^A-Za-z0-9_.-]", "_", mid)[:60] or str(n + 1)
            for t in bundle.targets:
                (svg_dir / f"{n + 1:04d}_{safe}_{t}.svg").write_text(e.svg(t), encoding="utf-8")
    if atoms is not None:
        write_table(pd.concat(frames, ignore_index=True), atoms)
    report.save(out)
    console = err_console()
    failed = [(mid, e.error) for mid, e in zip(ids, explanations, strict=True) if e.mol is None]
    for mid, error in failed[:10]:
        console.print(f"[yellow]not explained[/] {mid}: {error}", soft_wrap=True)
    console.print(
        f"{len(explanations) - len(failed)} of {len(explanations)} molecules explained; "
        f"report {out}"
        + (f"; maps in {svg_dir}" if svg_dir else "")
        + (f"; atom weights in {atoms}" if atoms else ""),
        soft_wrap=True,
    )


@app.command("generate")
def generate_command(
    seed_smiles: list[str] | None = typer.Option(
        None, "--seed-smiles", "-s", help="Seed SMILES to start from (repeatable)."
    ),
    seeds_file: Path | None = typer.Option(
        None, "--seeds", help="File of seed molecules (CSV with a SMILES column, .smi or SDF)."
    ),
    out: Path = typer.Option(
        ..., "--out", "-o", help="Candidates table (.csv, .json or .parquet), best first."
    ),
    model: Path | None = typer.Option(
        None, "--model", "-m", help="Property model bundle (from `medai mol train`)."
    ),
    target: str | None = typer.Option(None, "--target", help="Model target (default: first)."),
    minimize: bool = typer.Option(
        False, "--minimize/--maximize", help="Lower predictions are better (default: higher)."
    ),
    property_range: tuple[float, float] | None = typer.Option(
        None, "--property-range", help="Regression: predictions from LO (score 0) to HI (1)."
    ),
    weights: str | None = typer.Option(
        None,
        "--weights",
        help="Objective weights, e.g. property=1,qed=1,sa=0.5,filters=0.5,similarity=0.5 "
        "(the default; components left out weigh 0).",
    ),
    filters: str = typer.Option(
        "lipinski,veber,pains,brenk", "--filters", help="Rules of the 'filters' component."
    ),
    generations: int = typer.Option(20, "--generations"),
    population: int = typer.Option(100, "--population", help="Survivors per generation."),
    offspring: int = typer.Option(200, "--offspring", help="Children proposed per generation."),
    max_atoms: int = typer.Option(50, "--max-atoms", help="Heavy-atom limit of a child."),
    seed: int = typer.Option(0, "--seed", help="Random seed (a run is reproducible)."),
    top: int | None = typer.Option(None, "--top", help="Write only the best N candidates."),
    html: Path | None = typer.Option(
        None,
        "--html",
        help="Report: objective per generation, validity/uniqueness/novelty, "
        "drawings of the best molecules.",
    ),
    history: Path | None = typer.Option(
        None, "--history", help="Per-generation table (.csv, .json or .parquet)."
    ),
) -> None:
    """Evolve molecules from seeds (SELFIES genetic algorithm) towards a weighted objective."""
    from medai.core.tables import write_table
    from medai.molecules.filters import parse_rules
    from medai.molecules.generate import generate
    from medai.molecules.model import MolBundle

    _check_suffix(out, "--out", TABLE_SUFFIXES)
    _check_suffix(history, "--history", TABLE_SUFFIXES)
    _check_suffix(html, "--html", (".html", ".htm"))
    if top is not None and top < 1:
        raise InvalidInputError(f"--top must be at least 1, got {top}")
    seeds = list(seed_smiles or [])
    if seeds_file is not None:
        seeds += _read_smiles(seeds_file, None)[1]
    if not seeds:
        raise InvalidInputError("no seed molecules; use --seed-smiles SMILES or --seeds FILE")
    bundle = MolBundle.load(model) if model is not None else None
    if bundle is None and weights is None:
        weights = "qed=1,sa=0.5,filters=0.5,similarity=0.5"  # no model: no property term
    with progress_bar("generating") as progress:
        result = generate(
            seeds, generations=generations, population=population, offspring=offspring,
            max_atoms=max_atoms, seed=seed, progress=progress, weights=weights,
            bundle=bundle, target=target, direction="min" if minimize else "max",
            property_range=property_range, filters=parse_rules(filters),
        )  # fmt: skip
    cand = result.candidates if top is None else result.candidates.head(top)
    write_table(cand, out)
    if history is not None:
        write_table(result.history, history)
    if html is not None:
        result.report().save(html)
    last = result.history.iloc[-1]
    h = result.history
    err_console().print(
        f"{len(result.candidates)} distinct molecules scored over {generations} generations; "
        f"mean validity {h['validity'].mean():.2f}, uniqueness {h['uniqueness'].mean():.2f}, "
        f"novelty {h['novelty'].mean():.2f}; best objective {last['best_objective']:.3f}; "
        f"written to {out}" + (f"; report {html}" if html else ""),
        soft_wrap=True,
    )
