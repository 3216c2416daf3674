"""ConText in English and Chinese: triggers, scope, terminations, pseudo-triggers, sections."""

from __future__ import annotations

from pathlib import Path

import pytest

from medai.core.errors import DataFileError
from medai.text.context import ContextRules
from medai.text.scoring import context_attributes


def attrs(text: str, *targets: str, section: str | None = None) -> list[set[str]]:
    spans = [(text.index(t), text.index(t) + len(t)) for t in targets]
    out = context_attributes(text, spans, section=section)
    keys = ("negated", "uncertain", "historical", "hypothetical", "family")
    return [{k for k in keys if c[k]} for c in out]


@pytest.mark.parametrize(
    ("text", "targets", "expected"),
    [
        ("Denies fever, chills, or cough.", ("fever", "chills", "cough"), [{"negated"}] * 3),
        ("No chest pain but reports dyspnea.", ("chest pain", "dyspnea"), [{"negated"}, set()]),
        ("Pulmonary embolism was ruled out.", ("Pulmonary embolism",), [{"negated"}]),
        ("No increase in edema.", ("edema",), [set()]),
        ("Gram negative bacteremia.", ("bacteremia",), [set()]),
        (
            "Possible pneumonia versus atelectasis.",
            ("pneumonia", "atelectasis"),
            [{"uncertain"}, {"uncertain"}],
        ),
        ("Malignancy cannot be ruled out.", ("Malignancy",), [{"uncertain"}]),
        ("History of myocardial infarction in 2015.", ("myocardial infarction",), [{"historical"}]),
        (
            "Return to the ED if fever or bleeding.",
            ("fever", "bleeding"),
            [{"hypothetical"}, {"hypothetical"}],
        ),
        (
            "Mother with breast cancer; patient has asthma.",
            ("breast cancer", "asthma"),
            [{"family"}, set()],
        ),
    ],
)
def test_english(text: str, targets: tuple[str, ...], expected: list[set[str]]) -> None:
    assert attrs(text, *targets) == expected


@pytest.mark.parametrize(
    ("text", "targets", "expected"),
    [
        ("无发热、咳嗽、咳痰。", ("发热", "咳嗽", "咳痰"), [{"negated"}] * 3),
        ("患者无明显诱因出现胸痛。", ("胸痛",), [set()]),
        (
            "否认高血压、糖尿病病史。",
            ("高血压", "糖尿病"),
            [{"negated", "historical"}, {"negated", "historical"}],
        ),
        ("双肺呼吸音清，未闻及干湿性啰音。", ("干湿性啰音",), [{"negated"}]),
        ("考虑社区获得性肺炎可能。", ("社区获得性肺炎",), [{"uncertain"}]),
        ("无胸痛，伴气促。", ("胸痛", "气促"), [{"negated"}, set()]),
        ("既往有高血压病史10年。", ("高血压",), [{"historical"}]),
        ("如出现发热，及时就诊。", ("发热",), [{"hypothetical"}]),
        ("父亲患冠心病，母亲体健。", ("冠心病",), [{"family"}]),
    ],
)
def test_chinese(text: str, targets: tuple[str, ...], expected: list[set[str]]) -> None:
    assert attrs(text, *targets) == expected


def test_section_context_counts() -> None:
    assert attrs("Diabetes and hypertension.", "Diabetes", section="family_history") == [{"family"}]


def test_user_rules_and_bad_rules(tmp_path: Path) -> None:
    rules = ContextRules.from_yaml("negated:\n  forward: [nope]\nterminate:\n  all: [but]\n")
    assert len(rules) == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("negated:\n  sideways: [no]\n")
    with pytest.raises(DataFileError, match="unknown direction 'sideways'"):
        ContextRules.from_file(bad)
    bad.write_text("sad:\n  forward: [no]\n")
    with pytest.raises(DataFileError, match="unknown category 'sad'"):
        ContextRules.from_file(bad)
