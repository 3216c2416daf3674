"""``medai demo``: the main job on bundled data — one model per pillar, bundles and reports."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from medai.cli.common import err_console, out_console, progress_bar

__all__ = ["demo"]


def demo(
    out: Path = typer.Option(Path("medai-demo"), "--out", "-o", help="Folder for bundles."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
) -> None:
    """Train the demo models on bundled data, write bundles and reports, print a summary."""
    from medai.core.datasets import load
    from medai.risk import train

    jobs = [
        (
            "breast_cancer",
            "binary risk: malignant tumour (sklearn breast cancer Wisconsin)",
            {"target": "malignant"},
            "auroc",
        ),
        (
            "whas500",
            "survival: death after myocardial infarction (WHAS500)",
            {
                "time": "time",
                "event": "event",
                "horizons": [365.0, 730.0, 1460.0],
                "subgroups": ["gender"],
            },
            "c_index",
        ),
    ]
    table = Table(title="medai demo", title_justify="left")
    for col in ("pillar", "task", "model", "metric (test)", "estimate", "95% CI", "bundle"):
        table.add_column(col)
    for name, task, kwargs, metric in jobs:
        with progress_bar(name) as progress:
            bundle = train(load(name), seed=seed, progress=progress, **kwargs)  # type: ignore[arg-type]
        path = bundle.save(out / name)
        m = bundle.card["metrics"]["test"][metric]
        table.add_row(
            "risk",
            task,
            bundle.card["model"]["name"],
            metric,
            f"{m['estimate']:.3f}",
            f"{m['ci95'][0]:.3f} – {m['ci95'][1]:.3f}",
            str(path),
        )
    from medai.imaging.phantom import phantom
    from medai.imaging.train import train as train_image

    with progress_bar("phantom images") as progress:
        image_bundle = train_image(
            phantom(600, 32, seed=seed),
            epochs=12,
            patience=4,
            synthetic=True,
            seed=seed,
            progress=progress,
        )
    path = image_bundle.save(out / "phantom_images")
    m = image_bundle.card["metrics"]["test"]["auroc"]
    table.add_row(
        "imaging",
        "SYNTHETIC phantom: nodule vs no nodule (CNN)",
        image_bundle.card["model"]["network"],
        "auroc",
        f"{m['estimate']:.3f}",
        f"{m['ci95'][0]:.3f} – {m['ci95'][1]:.3f}",
        str(path),
    )
    table.add_row(*_text_demo(out))
    table.add_row(*_deid_demo(out))
    out_console().print(table)
    err_console().print(f"reports: {out}/*/report.html; annotated notes: {out}/notes.html")


def _text_demo(out: Path) -> list[str]:
    """Annotate the bundled sample notes (English and Chinese); write JSONL and an HTML view."""
    import json
    from importlib import resources

    from medai.text.extract import Extractor
    from medai.text.view import notes_html

    samples = resources.files("medai.text.samples")
    notes = sorted(
        (p.name.removesuffix(".txt"), p.read_text(encoding="utf-8"))
        for p in samples.iterdir()
        if p.name.endswith(".txt")
    )
    with progress_bar("sample notes") as progress:
        ex = Extractor()
        anns = []
        for i, (name, text) in enumerate(notes, start=1):
            anns.append(ex.extract(text, id=name))
            progress("extracting", i, len(notes))
    out.mkdir(parents=True, exist_ok=True)
    jsonl = "".join(json.dumps(a, ensure_ascii=False) + "\n" for a in anns)
    (out / "notes.jsonl").write_text(jsonl, encoding="utf-8")
    page = notes_html([(t, a) for (_, t), a in zip(notes, anns, strict=True)], "medai demo notes")
    (out / "notes.html").write_text(page, encoding="utf-8")
    concepts = [c for a in anns for c in a["concepts"]]
    negated = sum(c["negated"] for c in concepts)
    meds = sum(len(a["medications"]) for a in anns)
    return [
        "text",
        "sample notes (EN + ZH): concepts, context, medication orders",
        "rules + lexicons",
        "concepts / negated / orders",
        f"{len(concepts)} / {negated} / {meds}",
        "",
        str(out / "notes.html"),
    ]


def _deid_demo(out: Path) -> list[str]:
    """De-identify generated notes with injected PHI (EN + ZH) into surrogates."""
    import json

    from medai.privacy.deid import Deidentifier
    from medai.privacy.evaluate import score
    from medai.privacy.synth import synthetic_notes

    notes = synthetic_notes(20, "en", seed=7) + synthetic_notes(20, "zh", seed=7)
    deid = Deidentifier(key="medai-demo-key-not-secret")
    rows, predicted = [], {}
    with progress_bar("notes") as progress:
        for i, note in enumerate(notes, start=1):
            r = deid.deidentify(note.text, patient_id=note.patient_id, mode="surrogate")
            predicted[note.id] = r.spans
            rows.append({"id": note.id, "original": note.text, "deidentified": r.text})
            progress("de-identifying", i, len(notes))
    path = out / "deid.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                    encoding="utf-8")  # fmt: skip
    s = score(notes, predicted)
    return [
        "privacy",
        "SYNTHETIC notes with injected PHI (EN + ZH) -> surrogates",
        "rules + CRF tagger",
        "PHI span recall",
        f"{s.span_partial['recall']:.3f}",
        "",
        str(path),
    ]
