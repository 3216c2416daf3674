"""The CLI end to end, and every bad input the risk issue lists: exit 2, one-line message,
nothing half-written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from medai import __version__
from medai.cli.main import main

FAST = ["--cv-repeats", "1", "--n-boot", "100"]


@pytest.fixture(scope="module")
def bc_csv(tmp_path_factory: pytest.TempPathFactory, breast_cancer: pd.DataFrame) -> Path:
    p = tmp_path_factory.mktemp("data") / "bc.csv"
    breast_cancer.to_csv(p, index=False)
    return p


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["--version"], capsys)
    assert code == 0 and out.strip() == f"medai {__version__}"
    code, out, _ = run(["--help"], capsys)
    assert code == 0 and "risk" in out and "datasets" in out and "demo" in out
    code, _, err = run(["risk", "train"], capsys)
    assert code == 2 and "Missing argument" in err


def test_train_predict_explain_evaluate(
    bc_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "model"
    code, _, err = run(
        [
            "risk",
            "train",
            str(bc_csv),
            "--target",
            "malignant",
            "--model",
            "logistic",
            "--out",
            str(out_dir),
            *FAST,
        ],
        capsys,
    )
    assert code == 0, err
    assert {p.name for p in out_dir.iterdir()} >= {"card.json", "manifest.json", "report.html"}
    assert "auroc" in err

    preds = tmp_path / "preds.csv"
    code, _, err = run(["risk", "predict", str(out_dir), str(bc_csv), "--out", str(preds)], capsys)
    assert code == 0, err
    df = pd.read_csv(preds)
    assert len(df) == 569 and {"probability", "risk_group", "top_1", "top_3"} <= set(df.columns)

    code, out, err = run(["risk", "predict", str(out_dir), str(bc_csv)], capsys)
    assert code == 0 and out.startswith("probability,risk_group,top_1")

    expl = tmp_path / "row.json"
    code, out, err = run(
        [
            "risk",
            "explain",
            str(out_dir),
            str(bc_csv),
            "--row",
            "3",
            "--out",
            str(expl),
            "--plot",
            str(tmp_path / "row.png"),
        ],
        capsys,
    )
    assert code == 0, err
    data = json.loads(expl.read_text())
    assert data["row"] == 3 and len(data["contributions"]) == 30
    total = data["base_value"] + sum(c["contribution"] for c in data["contributions"])
    assert total == pytest.approx(data["score"], abs=1e-6)
    assert "contributions" in out
    assert (tmp_path / "row.png").read_bytes()[:4] == b"\x89PNG"

    report = tmp_path / "ext.html"
    code, out, err = run(
        ["risk", "evaluate", str(out_dir), str(bc_csv), "--out", str(report), "--n-boot", "100"],
        capsys,
    )
    assert code == 0, err
    assert json.loads(out)["metrics"]["auroc"]["estimate"] > 0.95
    assert report.read_text().startswith("<!DOCTYPE html>")


def test_schema_command(bc_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["risk", "schema", str(bc_csv), "--target", "malignant", "--json"], capsys)
    assert code == 0
    assert json.loads(out)["outcome"]["target"] == "malignant"


def test_survival_cli(
    whas500: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "whas.parquet"
    whas500.to_parquet(data)
    out_dir = tmp_path / "surv"
    code, _, err = run(
        [
            "risk",
            "train",
            str(data),
            "--time",
            "time",
            "--event",
            "event",
            "--model",
            "cox",
            "--horizon",
            "365",
            "--out",
            str(out_dir),
            *FAST,
        ],
        capsys,
    )
    assert code == 0, err
    code, out, _ = run(["risk", "predict", str(out_dir), str(data)], capsys)
    assert code == 0 and "risk_t365" in out.splitlines()[0]


# --- bad input: each gives exit 2, a one-line message naming the problem, nothing written ----
def _write(tmp_path: Path, name: str, content: bytes | str) -> Path:
    p = tmp_path / name
    p.write_bytes(content if isinstance(content, bytes) else content.encode())
    return p


def _frame(n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "age": rng.integers(20, 90, n),
            "bp": rng.normal(120, 15, n),
            "y": [0, 1] * (n // 2),
            "t": rng.uniform(1, 100, n),
            "e": [0, 1] * (n // 2),
        }
    )


@pytest.mark.parametrize(
    ("name", "content", "args", "message"),
    [
        ("missing.csv", None, ["--target", "y"], "does not exist"),
        ("empty.csv", b"", ["--target", "y"], "is empty"),
        ("ragged.csv", "age,bp,y\n1,2,0\n3,4\n", ["--target", "y"], "ragged: line 3"),
        (
            "latin1.csv",
            "age,name,y\n1,Jos\u00e9,0\n".encode("latin-1"),
            ["--target", "y"],
            "not UTF-8",
        ),
        ("ok.csv", "frame", ["--target", "outcome"], "target column 'outcome' is not in the data"),
        ("ok.csv", "frame", ["--target", "one"], "has 1 class"),
        ("ok.csv", "frame", ["--target", "three"], "has 3 distinct values"),
        ("ok.csv", "frame", ["--time", "neg", "--event", "e"], "negative time at row 1"),
        ("ok.csv", "frame", ["--time", "t", "--event", "two"], "expected 0 (censored) or 1"),
        ("ok.csv", "frame", ["--target", "y", "--schema", "age"], "not of the form COLUMN=VALUE"),
        ("ok.csv", "frame", ["--target", "y", "--model", "rsf"], "does not fit a binary outcome"),
        ("allnan.csv", "frame", ["--target", "y"], "column 'lab' is entirely missing"),
    ],
)
def test_bad_training_input(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    content: bytes | str | None,
    args: list[str],
    message: str,
) -> None:
    if content == "frame":
        df = _frame()
        df["one"] = 1
        df["three"] = [0, 1, 2] * 20
        df["neg"] = -df["t"]
        df["two"] = [0, 1, 2] * 20
        if name == "allnan.csv":
            df = _frame().assign(lab=np.nan)
        df.to_csv(tmp_path / name, index=False)
    elif content is not None:
        _write(tmp_path, name, content)
    out_dir = tmp_path / "model"
    code, _out, err = run(
        ["risk", "train", str(tmp_path / name), *args, "--out", str(out_dir)], capsys
    )
    assert code == 2, err
    assert message in err
    assert "Traceback" not in err
    assert not out_dir.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ([name] if content is not None else [])


def test_bad_prediction_input(
    bc_csv: Path, binary_bundle_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    df = pd.read_csv(bc_csv)
    cases = {
        "missing_col.csv": (df.drop(columns=["mean radius"]), "lacks column(s) ['mean radius']"),
        "extra_col.csv": (df.assign(favourite_colour="blue"), "has column(s) ['favourite_colour']"),
        "wrong_type.csv": (
            df.astype({"mean area": object}).assign(
                **{"mean area": ["big", *df["mean area"].iloc[1:].astype(str).tolist()]}
            ),
            "'mean area' should be numeric but row 1 holds text",
        ),
    }
    for name, (frame, message) in cases.items():
        frame.to_csv(tmp_path / name, index=False)
        preds = tmp_path / f"{name}.preds.csv"
        code, _, err = run(
            ["risk", "predict", str(binary_bundle_dir), str(tmp_path / name), "--out", str(preds)],
            capsys,
        )
        assert code == 2 and message in err, err
        assert not preds.exists()
    code, _, err = run(
        ["risk", "explain", str(binary_bundle_dir), str(bc_csv), "--row", "999"], capsys
    )
    assert code == 2 and "--row 999 is out of range" in err


def test_hand_edited_bundle_is_refused(
    binary_bundle_dir: Path, bc_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edited = tmp_path / "edited"
    shutil.copytree(binary_bundle_dir, edited)
    card = json.loads((edited / "card.json").read_text())
    card["output"]["threshold"] = 0.1
    (edited / "card.json").write_text(json.dumps(card))
    code, _, err = run(["risk", "predict", str(edited), str(bc_csv)], capsys)
    assert code == 2 and "'card.json'" in err and "sha256" in err
    code, _, err = run(["risk", "predict", str(tmp_path / "nothing"), str(bc_csv)], capsys)
    assert code == 2 and "does not exist" in err


def test_demo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["demo", "--out", str(tmp_path / "demo")], capsys)
    assert code == 0, err
    assert "breast" in out and "WHAS500" in out
    for name in ("breast_cancer", "whas500"):
        assert (tmp_path / "demo" / name / "report.html").exists()
