"""Medication orders, English and Chinese, through the extraction pipeline."""

from __future__ import annotations

from typing import Any

import pytest

from medai.text.extract import Extractor


@pytest.fixture(scope="module")
def extractor() -> Extractor:
    return Extractor()


def fields(med: dict[str, Any]) -> dict[str, Any]:
    keep = ("drug", "strength", "unit", "dose", "dose_unit", "route", "per_day",
            "duration_days", "as_needed", "indication")  # fmt: skip
    return {k: med[k] for k in keep if med[k] not in (None, False)}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "metoprolol 25 mg PO BID",
            {"drug": "metoprolol", "strength": 25, "unit": "mg", "route": "oral", "per_day": 2},
        ),
        (
            "amoxicillin 500mg tid x 7 days",
            {
                "drug": "amoxicillin",
                "strength": 500,
                "unit": "mg",
                "per_day": 3,
                "duration_days": 7,
            },
        ),
        (
            "albuterol 2 puffs q4-6h prn SOB",
            {
                "drug": "albuterol",
                "dose": 2,
                "dose_unit": "puff",
                "per_day": 6,
                "as_needed": True,
                "indication": "sob",
            },
        ),
        (
            "insulin glargine 20 units SC qhs",
            {
                "drug": "insulin glargine",
                "strength": 20,
                "unit": "unit",
                "route": "sc",
                "per_day": 1,
            },
        ),
        (
            "vancomycin 1 g IV q12h for 2 weeks",
            {
                "drug": "vancomycin",
                "strength": 1,
                "unit": "g",
                "route": "iv",
                "per_day": 2,
                "duration_days": 14,
            },
        ),
        (
            "阿莫西林胶囊 0.5g 口服 每日三次",
            {"drug": "阿莫西林", "strength": 0.5, "unit": "g", "route": "oral", "per_day": 3},
        ),
        (
            "生理盐水 100ml 静滴 qd",
            {"drug": "生理盐水", "strength": 100, "unit": "ml", "route": "iv", "per_day": 1},
        ),
        (
            "低分子肝素 4000IU 皮下注射 q12h",
            {"drug": "低分子肝素", "strength": 4000, "unit": "iu", "route": "sc", "per_day": 2},
        ),
    ],
)
def test_orders(extractor: Extractor, text: str, expected: dict[str, Any]) -> None:
    (med,) = extractor.extract(text)["medications"]
    assert fields(med) == expected
    assert text[med["start"] : med["end"]] == med["text"]


def test_several_orders_on_a_line_and_unknown_drug(extractor: Extractor) -> None:
    text = "Lasix 40 mg IV daily; zorblatin 10 mg PO BID"
    meds = extractor.extract(text)["medications"]
    assert [m["drug"] for m in meds] == ["lasix", "zorblatin"]  # an unknown name before a strength
    assert [m["per_day"] for m in meds] == [1, 2]


def test_a_drug_without_sig_is_not_an_order(extractor: Extractor) -> None:
    ann = extractor.extract("Patient takes aspirin.")
    assert ann["medications"] == []
    assert [c["label"] for c in ann["concepts"]] == ["drug"]
