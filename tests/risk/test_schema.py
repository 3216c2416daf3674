from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from medai.core.errors import SchemaError
from medai.risk.schema import infer_schema
from tests.conftest import PIMA_ZERO_MISSING


def _types(schema) -> dict[str, tuple[str, str]]:
    return {c.name: (c.type, c.role) for c in schema.columns}


def test_breast_cancer_all_numeric_features(breast_cancer: pd.DataFrame) -> None:
    s = infer_schema(breast_cancer, target="malignant")
    assert s.outcome.kind == "binary" and s.outcome.positive == 1
    assert len(s.features) == 30
    assert all(c.type == "numeric" for c in s.features)


def test_survival_schema_types(whas500: pd.DataFrame) -> None:
    s = infer_schema(whas500, time="time", event="event")
    t = _types(s)
    assert t["time"] == ("numeric", "time") and t["event"] == ("numeric", "event")
    assert t["gender"][0] == "binary" and t["age"][0] == "numeric"


def test_id_text_datetime_constant_and_leak_are_excluded(breast_cancer: pd.DataFrame) -> None:
    df = breast_cancer.copy()
    n = len(df)
    rng = np.random.default_rng(0)
    df.insert(0, "patient_id", np.arange(1000, 1000 + n))
    df["mrn"] = [f"MRN{i:06d}" for i in range(n)]
    df["note"] = [f"patient seen on ward {i} with complaints of pain number {i}" for i in range(n)]
    df["visit_date"] = pd.date_range("2020-01-01", periods=n).strftime("%Y-%m-%d")
    df["site"] = "A"
    df["diagnosis_code"] = np.where(df["malignant"] == 1, "C50", "D24")  # leaks the target
    df["sex"] = rng.choice(["F", "M"], n)
    s = infer_schema(df, target="malignant")
    t = {c.name: c for c in s.columns}
    assert t["patient_id"].type == "id" and t["patient_id"].role == "excluded"
    assert t["mrn"].type == "id"
    assert t["note"].type == "text"
    assert t["visit_date"].type == "datetime"
    assert t["site"].type == "constant"
    assert (
        t["diagnosis_code"].role == "excluded" and "leaks the outcome" in t["diagnosis_code"].reason
    )
    assert t["sex"].type == "binary" and t["sex"].role == "feature"
    kept = infer_schema(df, target="malignant", keep=["diagnosis_code"])
    assert kept.column("diagnosis_code").role == "feature"


def test_overrides_and_missing_codes(pima: pd.DataFrame) -> None:
    s = infer_schema(
        pima,
        target="Outcome",
        types={"Pregnancies": "categorical"},
        missing={c: [0] for c in PIMA_ZERO_MISSING},
    )
    assert s.column("Pregnancies").type == "categorical"
    assert s.column("Insulin").missing_values == [0]
    star = infer_schema(pima, target="Outcome", missing={"*": [0]})
    assert star.column("Glucose").missing_values == [0]
    with pytest.raises(SchemaError, match=r"type 'float' for column 'BMI' is unknown"):
        infer_schema(pima, target="Outcome", types={"BMI": "float"})
    with pytest.raises(SchemaError, match=r"column 'bmi' is not in the data"):
        infer_schema(pima, target="Outcome", types={"bmi": "numeric"})


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"target": "nope"}, "target column 'nope' is not in the data"),
        ({"target": "one"}, "has 1 class"),
        ({"target": "three"}, "has 3 distinct values"),
        ({}, "no outcome given"),
        ({"time": "t"}, "needs both --time and --event"),
        ({"target": "y", "time": "t", "event": "e"}, "not both"),
        ({"time": "neg", "event": "e"}, "negative time at row 2"),
        ({"time": "t", "event": "bad"}, "value '2' at row 3; expected 0"),
        ({"time": "word", "event": "e"}, "not numeric at row 1"),
        ({"time": "t", "event": "zeros"}, "no events"),
    ],
)
def test_bad_outcomes(change: dict[str, str], match: str) -> None:
    n = 40
    df = pd.DataFrame(
        {
            "x": np.arange(n, dtype=float) % 7,
            "y": [0, 1] * (n // 2),
            "one": [1] * n,
            "three": [0, 1, 2, 3] * (n // 4),
            "t": np.arange(1, n + 1, dtype=float),
            "neg": [1.0, -2.0] + [3.0] * (n - 2),
            "word": ["a"] + ["1"] * (n - 1),
            "e": [0, 1] * (n // 2),
            "bad": [0, 1, 2] + [0] * (n - 3),
            "zeros": [0] * n,
        }
    )
    df["three"] = df["three"].clip(upper=2)
    with pytest.raises(SchemaError, match=match):
        infer_schema(df, **change)


def test_all_missing_column_is_an_error() -> None:
    df = pd.DataFrame({"x": range(30), "empty": [np.nan] * 30, "y": [0, 1] * 15})
    with pytest.raises(
        SchemaError, match=r"column 'empty' is entirely missing.*--schema empty=ignore"
    ):
        infer_schema(df, target="y")
    assert (
        infer_schema(df, target="y", types={"empty": "ignore"}).column("empty").role == "excluded"
    )


def test_positive_class_choice() -> None:
    df = pd.DataFrame({"x": range(30), "y": ["benign", "malignant"] * 15})
    assert infer_schema(df, target="y").outcome.positive == "malignant"
    assert infer_schema(df, target="y", positive="benign").outcome.positive == "benign"
    with pytest.raises(SchemaError, match=r"--positive 'yes' is not a value"):
        infer_schema(df, target="y", positive="yes")
