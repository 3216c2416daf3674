"""Language detection, sentences and tokens, English and Chinese."""

from __future__ import annotations

import pytest

from medai.core.errors import InvalidInputError
from medai.text.segment import check_lang, detect_lang, sentences, tokens


def test_detect_lang() -> None:
    assert detect_lang("Patient denies chest pain.") == "en"
    assert detect_lang("患者否认胸痛。") == "zh"
    # Chinese notes full of English abbreviations stay Chinese
    assert detect_lang("头孢曲松钠 2g ivgtt qd，复查CT") == "zh"
    assert detect_lang("   ") == "en"


def test_check_lang() -> None:
    assert check_lang("auto") is None
    assert check_lang("zh-CN") == "zh"
    with pytest.raises(InvalidInputError, match="unknown language 'fr'"):
        check_lang("fr")


def test_english_sentences_keep_abbreviations_and_decimals() -> None:
    text = (
        "Seen by Dr. Smith today. Metoprolol 2.5 mg p.o. b.i.d. was started. "
        "No fever, e.g. none at night.\nPLAN: Return in 2 wks. Call if worse."
    )
    got = [s.text for s in sentences(text, "en")]
    assert got == [
        "Seen by Dr. Smith today.",
        "Metoprolol 2.5 mg p.o. b.i.d. was started.",
        "No fever, e.g. none at night.",
        "PLAN:",
        "Return in 2 wks. Call if worse.",
    ]


def test_english_lines_and_lists_split() -> None:
    text = (
        "MEDICATIONS:\n1. Aspirin 81 mg daily\n2. Lisinopril 10 mg daily\nwrapped continuation line"
    )
    got = [s.text for s in sentences(text, "en")]
    assert got[0] == "MEDICATIONS:"
    assert got[1] == "1. Aspirin 81 mg daily"
    assert got[2] == "2. Lisinopril 10 mg daily\nwrapped continuation line"


def test_sentence_offsets_point_into_the_text() -> None:
    text = "主诉：咳嗽3天。\n现病史：患者无发热；否认胸痛！"
    for s in sentences(text, "zh"):
        assert text[s.start : s.end] == s.text
    assert [s.text for s in sentences(text, "zh")] == [
        "主诉：咳嗽3天。",
        "现病史：患者无发热；",
        "否认胸痛！",
    ]


def test_tokens_english() -> None:
    toks = [t.text for t in tokens("Give 2.5 mg p.o. b.i.d.; non-tender.", "en")]
    assert toks == ["Give", "2.5", "mg", "p.o.", "b.i.d.", ";", "non-tender", "."]


def test_tokens_chinese_use_medical_dictionary() -> None:
    text = "患者有慢性阻塞性肺疾病，予阿莫西林0.5g口服"
    toks = tokens(text, "zh")
    assert all(text[t.start : t.end] == t.text for t in toks)
    words = [t.text for t in toks]
    assert "0.5" in words and "g" in words
    # the medical user dictionary keeps multi-character clinical terms whole
    assert "慢性阻塞性肺疾病" in words or "阿莫西林" in words
