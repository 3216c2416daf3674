from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from medai.core.errors import InvalidInputError, SchemaError
from medai.risk import RiskBundle, evaluate, train
from medai.risk.train import _cv_folds, _holdout
from tests.conftest import FAST, PIMA_ZERO_MISSING


def test_binary_bundle_card_and_metrics(binary_bundle: RiskBundle) -> None:
    card = binary_bundle.card
    for key in (
        "schema_version",
        "pillar",
        "task",
        "input_schema",
        "output",
        "training_data",
        "split",
        "metrics",
        "intended_use",
        "limitations",
        "packages",
        "created",
        "seed",
    ):
        assert key in card
    test = card["metrics"]["test"]
    assert test["auroc"]["estimate"] > 0.95
    lo, hi = test["auroc"]["ci95"]
    assert lo <= test["auroc"]["estimate"] <= hi
    assert card["metrics"]["cv"]["auroc"]["n"] == 5
    assert {r["model"] for r in card["model"]["selection"]} == {"logistic", "lightgbm"}
    assert card["model"]["calibration"].split()[0] in ("platt", "isotonic")
    assert len(card["training_data"]["fingerprint"]) == 64
    assert card["split"]["n_train"] + card["split"]["n_test"] == 569


def test_report_has_tripod_sections_and_plots(binary_bundle: RiskBundle) -> None:
    from medai.core.report import TRIPOD_SECTIONS

    html = binary_bundle.report_html
    assert html is not None
    positions = [html.find(f"<h2>{s}</h2>") for s in TRIPOD_SECTIONS]
    assert all(p > 0 for p in positions), [
        s for s, p in zip(TRIPOD_SECTIONS, positions, strict=False) if p < 0
    ]
    assert positions == sorted(positions)
    for alt in ("ROC curve", "calibration curve", "decision curve", "SHAP summary"):
        assert f'alt="{alt}"' in html
    assert html.count("data:image/png;base64,") >= 5
    assert "http://" not in html and "https://" not in html  # readable offline


def test_predict_explain_and_reload(
    binary_bundle: RiskBundle, binary_bundle_dir: Path, breast_cancer: pd.DataFrame
) -> None:
    x = breast_cancer.drop(columns=["malignant"]).head(25)
    preds = binary_bundle.predict(x)
    assert list(preds.columns) == ["probability", "risk_group", "top_1", "top_2", "top_3"]
    assert preds["probability"].between(0, 1).all()
    assert set(preds["risk_group"]) <= {"low", "intermediate", "high"}
    again = RiskBundle.load(binary_bundle_dir).predict(x)
    pd.testing.assert_frame_equal(preds, again)
    exp = binary_bundle.explain(x)
    assert list(exp.values.columns) == list(x.columns)
    np.testing.assert_allclose(
        exp.score, binary_bundle.model.score(binary_bundle.matrix(x)), atol=1e-6
    )
    name, value = exp.top(0, 1)[0]
    assert preds["top_1"].iloc[0] == f"{name} ({value:+.2f})"


def test_probabilities_are_calibrated_on_pima(pima: pd.DataFrame) -> None:
    b = train(
        pima,
        target="Outcome",
        model="logistic",
        missing={c: [0] for c in PIMA_ZERO_MISSING},
        **FAST,
    )
    test = b.card["metrics"]["test"]
    assert test["auroc"]["estimate"] > 0.78
    assert abs(test["calibration_intercept"]["estimate"]) < 0.5
    lo, hi = test["calibration_slope"]["ci95"]
    assert lo < 1.0 < hi
    assert b.card["training_data"]["missing_pct"]["Insulin"] > 40  # zeros counted as missing


def test_survival_bundle(
    survival_bundle: RiskBundle, whas500: pd.DataFrame, tmp_path: Path
) -> None:
    card = survival_bundle.card
    assert card["task"] == "survival"
    assert card["output"]["horizons"] == [365.0, 730.0]
    test = card["metrics"]["test"]
    assert 0.65 < test["c_index"]["estimate"] < 0.95
    assert "auc_t365" in test and "integrated_brier" in test
    assert 'alt="Kaplan-Meier by risk group"' in survival_bundle.report_html
    preds = survival_bundle.predict(whas500.head(10))
    assert {"risk_score", "risk_t365", "risk_t730", "risk_group"} <= set(preds.columns)
    assert (preds["risk_t730"] >= preds["risk_t365"] - 1e-12).all()
    loaded = RiskBundle.load(survival_bundle.save(tmp_path / "s"))
    pd.testing.assert_frame_equal(loaded.predict(whas500.head(10)), preds)


def test_random_survival_forest(whas500: pd.DataFrame) -> None:
    b = train(whas500, time="time", event="event", model="rsf", **FAST)
    assert b.card["model"]["name"] == "rsf"
    assert b.card["metrics"]["test"]["c_index"]["estimate"] > 0.65
    assert b.card["explanations"]["method"] == "permutation SHAP"


def test_same_seed_same_bundle(breast_cancer: pd.DataFrame) -> None:
    a = train(breast_cancer, target="malignant", model="lightgbm", **FAST)
    b = train(breast_cancer, target="malignant", model="lightgbm", **FAST)
    assert a.model.to_bytes() == b.model.to_bytes()
    assert a.card["metrics"] == b.card["metrics"]


def test_group_split_keeps_patients_together() -> None:
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(200), 3)
    strata = np.repeat(rng.integers(0, 2, 200), 3)
    tr, te = _holdout(strata, groups.astype(str), 0.2, seed=0)
    assert not set(groups[tr]) & set(groups[te])
    for f_tr, f_va in _cv_folds(strata[tr], groups[tr].astype(str), 5, 2, seed=0):
        assert not set(groups[tr][f_tr]) & set(groups[tr][f_va])


def test_grouped_training_runs(breast_cancer: pd.DataFrame) -> None:
    df = breast_cancer.copy()
    df["patient"] = np.arange(len(df)) // 2
    b = train(df, target="malignant", group="patient", model="logistic", **FAST)
    assert b.card["split"]["method"].startswith("grouped by patient")
    assert b.schema.column("patient").role == "group"


def test_subgroup_warning_for_a_worse_group(breast_cancer: pd.DataFrame) -> None:
    df = breast_cancer.copy()
    rng = np.random.default_rng(1)
    df["site"] = np.where(np.arange(len(df)) % 2 == 0, "A", "B")
    b_rows = df["site"] == "B"
    df.loc[b_rows, "malignant"] = rng.permutation(df.loc[b_rows, "malignant"].to_numpy())
    b = train(df, target="malignant", model="logistic", subgroups=["site"], **FAST)
    rows = {r["level"]: r for r in b.card["subgroups"]}
    assert rows["A"]["auroc"] > rows["B"]["auroc"]
    assert any("site=B" in w for w in b.card["warnings"])


def test_external_evaluation(binary_bundle: RiskBundle, breast_cancer: pd.DataFrame) -> None:
    ev = evaluate(binary_bundle, breast_cancer.tail(200), subgroups=["mean radius"], n_boot=200)
    assert ev.metrics["auroc"].estimate > 0.95
    assert {r["column"] for r in ev.subgroups} == {"mean radius"}
    assert len(ev.subgroups) == 4  # quartile bands
    assert ev.report is not None and "External validation" in ev.report.to_html()
    with pytest.raises(SchemaError, match=r"lacks column"):
        evaluate(binary_bundle, breast_cancer.drop(columns=["malignant"]))


def test_prediction_input_checks(binary_bundle: RiskBundle, breast_cancer: pd.DataFrame) -> None:
    x = breast_cancer.drop(columns=["malignant"]).head(5)
    with pytest.raises(SchemaError, match=r"lacks column\(s\) \['mean radius'\]"):
        binary_bundle.predict(x.drop(columns=["mean radius"]))
    with pytest.raises(SchemaError, match=r"has column\(s\) \['surprise'\]"):
        binary_bundle.predict(x.assign(surprise=1))
    bad = x.astype({"mean area": object})
    bad.loc[bad.index[2], "mean area"] = "large"
    with pytest.raises(SchemaError, match=r"'mean area' should be numeric but row 3 holds text"):
        binary_bundle.predict(bad)


def test_bad_training_options(breast_cancer: pd.DataFrame) -> None:
    with pytest.raises(InvalidInputError, match=r"model 'cox' does not fit a binary outcome"):
        train(breast_cancer, target="malignant", model="cox")
    with pytest.raises(InvalidInputError, match=r"test_size"):
        train(breast_cancer, target="malignant", test_size=0.9)
    tiny = breast_cancer.groupby("malignant").head(4)
    with pytest.raises(InvalidInputError, match=r"smaller class"):
        train(tiny, target="malignant")
