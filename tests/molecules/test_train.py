"""Tests of medai.molecules.train / model / mpnn on subsets of the shared MoleculeNet data."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("torch")
pytest.importorskip("lightgbm")

from medai.core.bundle import load_bundle
from medai.molecules.model import MolBundle, max_tanimoto
from medai.molecules.train import evaluate, train

MOLECULES_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "molecules"


def _subset(name: str, n: int, tmp_path: Path, columns: list[str] | None = None) -> Path:
    src = MOLECULES_DATA / name
    if not src.exists():
        pytest.skip(f"shared data {src} is absent")
    df = pd.read_csv(src)
    if columns is not None:
        df = df[columns]
    out = tmp_path / f"sub_{name}"
    df.sample(n=min(n, len(df)), random_state=0).to_csv(out, index=False)
    return out


@pytest.fixture(scope="module")
def esol300(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _subset("esol_delaney.csv", 300, tmp_path_factory.mktemp("esol"))


@pytest.fixture(scope="module")
def mpnn_bundle(esol300: Path) -> MolBundle:
    return train(esol300, targets=["logp"], model="mpnn", epochs=8, ensemble=2, hidden=64,
                 n_boot=50, seed=0)  # fmt: skip


def _baseline_rmse(bundle: MolBundle, path: Path) -> float:
    """RMSE of predicting the training mean on the whole subset (a generous baseline)."""
    y = pd.read_csv(path)["logp"].to_numpy()
    return float(np.sqrt(np.mean((y - y.mean()) ** 2)))


def test_mpnn_trains_and_beats_mean(mpnn_bundle: MolBundle, esol300: Path) -> None:
    card = mpnn_bundle.card
    assert card["pillar"] == "molecules" and card["task"] == "regression"
    rmse = card["metrics"]["test"]["rmse"]["estimate"]
    assert rmse < _baseline_rmse(mpnn_bundle, esol300)
    assert card["metrics"]["test"]["rmse"]["ci95"][0] is not None
    assert card["split"]["n_train"] == 240
    html = mpnn_bundle.report_html or ""
    assert "Parity plot" in html or "parity" in html
    assert "<svg" in html  # drawings of the worst predictions


def test_predict_columns_domain_and_errors(mpnn_bundle: MolBundle, esol300: Path) -> None:
    smi = pd.read_csv(esol300)["smiles"].tolist()
    df = mpnn_bundle.predict([smi[0], "C1CC", "not a smiles", smi[1]])
    assert list(df.columns) == ["smiles", "pred_logp", "std_logp", "nn_similarity",
                                "in_domain", "error"]  # fmt: skip
    assert df["error"].iloc[1] and df["error"].iloc[2]
    assert math.isnan(df["pred_logp"].iloc[1])
    assert df["error"].iloc[0] is None
    assert (df["std_logp"].iloc[[0, 3]] > 0).all()  # two members disagree
    # a training molecule has a nearest neighbour of similarity 1 (itself)
    train_smi = [smi[i] for i in range(len(smi))]
    sims = mpnn_bundle.predict(train_smi[:40])["nn_similarity"]
    assert np.isclose(sims.max(), 1.0)
    assert bool(mpnn_bundle.predict(train_smi[:40])["in_domain"][sims.idxmax()])
    single = mpnn_bundle.predict("CCO")
    assert len(single) == 1 and single["error"].iloc[0] is None


def test_save_load_identical(mpnn_bundle: MolBundle, tmp_path: Path) -> None:
    smi = ["CCO", "c1ccccc1O", "CC(=O)Oc1ccccc1C(=O)O"]
    before = mpnn_bundle.predict(smi)
    path = mpnn_bundle.save(tmp_path / "b")
    loaded = load_bundle(path)
    assert isinstance(loaded, MolBundle)
    pd.testing.assert_frame_equal(before, loaded.predict(smi))


def test_lightgbm_and_rf(esol300: Path, tmp_path: Path) -> None:
    smi = ["CCO", "c1ccccc1Cl", "CCCCCCCC"]
    for kind in ("lightgbm", "rf"):
        b = train(esol300, targets=["logp"], model=kind, ensemble=2, n_trees=30,
                  features="morgan", n_boot=50)  # fmt: skip
        assert b.card["metrics"]["test"]["rmse"]["estimate"] < _baseline_rmse(b, esol300)
        before = b.predict(smi)
        assert (before["std_logp"] > 0).all()
        after = MolBundle.load(b.save(tmp_path / kind)).predict(smi)
        pd.testing.assert_frame_equal(before, after)


def test_rf_arrays_match_sklearn() -> None:
    from sklearn.ensemble import RandomForestRegressor

    from medai.molecules.model import Forest

    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 5)).astype(np.float32)
    y = x[:, 0] * 2 + rng.normal(size=80)
    rf = RandomForestRegressor(n_estimators=7, random_state=0).fit(x, y)
    ours = Forest.from_sklearn(rf).predict_trees(x).mean(0)
    np.testing.assert_allclose(ours, rf.predict(x), rtol=1e-10)


def test_max_tanimoto() -> None:
    a = np.packbits(np.array([[1, 1, 0, 0, 0, 0, 0, 0], [1, 0, 0, 0, 0, 0, 0, 0]], np.uint8), 1)
    b = np.packbits(np.array([[1, 1, 1, 1, 0, 0, 0, 0]], np.uint8), 1)
    np.testing.assert_allclose(max_tanimoto(a, b), [0.5, 0.25])


def test_multitask_missing_labels(tmp_path: Path) -> None:
    path = _subset("tox21.csv", 250, tmp_path, ["smiles", "NR-AR", "SR-ARE"])
    assert pd.read_csv(path)[["NR-AR", "SR-ARE"]].isna().any().any()
    b = train(path, targets=["NR-AR", "SR-ARE"], model="mpnn", epochs=3, hidden=32, n_boot=20)
    assert b.task == "multitask"
    assert all(np.isfinite(h["loss"]) for h in b.card["model"]["history"])
    df = b.predict(["CCO", "c1ccccc1"])
    assert {"p_NR-AR", "p_SR-ARE", "std_SR-ARE"} <= set(df.columns)
    assert df[["p_NR-AR", "p_SR-ARE"]].notna().all().all()


def test_classification_bbbp_auroc(tmp_path: Path) -> None:
    path = _subset("bbbp.csv", 300, tmp_path)
    b = train(path, targets=["p_np"], model="lightgbm", features="morgan", n_boot=50)
    assert b.task == "classification"
    assert b.card["metrics"]["test"]["auroc"]["estimate"] > 0.5
    assert 'alt="ROC p_np"' in (b.report_html or "")
    metrics, report = evaluate(b, path, n_boot=20)
    assert metrics["auroc"].estimate > 0.5
    assert "Applicability domain" in report.to_html()


def test_evaluate_regression_and_scaffold_rf(mpnn_bundle: MolBundle, esol300: Path) -> None:
    metrics, report = evaluate(mpnn_bundle, esol300, n_boot=20)
    assert metrics["rmse"].estimate < _baseline_rmse(mpnn_bundle, esol300)
    assert "parity logp" in report.to_html()
    b = train(esol300, targets=["logp"], model="rf", split="scaffold", n_trees=20,
              features="morgan", n_boot=20)  # fmt: skip
    assert b.card["split"]["method"] == "scaffold"
    assert b.card["metrics"]["test"]["rmse"]["estimate"] is not None


def test_bad_inputs(esol300: Path) -> None:
    from medai.core.errors import InvalidInputError, SchemaError

    with pytest.raises(InvalidInputError, match="model"):
        train(esol300, targets=["logp"], model="svm")
    with pytest.raises(SchemaError):
        train(esol300, targets=["nope"], model="rf")
