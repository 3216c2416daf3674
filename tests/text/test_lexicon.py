"""Dictionary matching: ICD-10-CM, drug names, bundled and user lexicons."""

from __future__ import annotations

from pathlib import Path

import pytest

from medai.core.errors import DataFileError
from medai.text.lexicon import (
    Lexicon,
    Term,
    default_lexicon,
    drug_terms,
    icd10cm_terms,
    read_lexicon,
)


def test_boundaries_whitespace_and_longest_match() -> None:
    lex = Lexicon(
        [Term("pain", "symptom"), Term("chest pain", "symptom", "R07.9"), Term("mi", "diagnosis")]
    )
    got = [(m.text, m.term.code) for m in lex.match("Chest\n  pain; admits pain. Miami.")]
    assert got == [("Chest\n  pain", "R07.9"), ("pain", None)]  # "mi" inside "Miami" is no match
    m = lex.match("ＣＨＥＳＴ　ＰＡＩＮ")  # full-width letters and space
    assert [(x.start, x.end) for x in m] == [(0, 10)]


def test_chinese_matches_inside_words() -> None:
    lex = Lexicon([Term("高血压", "diagnosis", "I10"), Term("高血压病", "diagnosis", "I10")])
    m = lex.match("否认高血压病史")
    assert [(x.text, x.start, x.end) for x in m] == [("高血压病", 2, 6)]


def test_icd10cm_terms_have_real_codes() -> None:
    import simple_icd_10_cm as cm

    terms = {t.term: t for t in icd10cm_terms()}
    assert len(terms) > 20000
    assert terms["essential hypertension"].code == "I10"
    assert terms["pneumonia"].label == "diagnosis"
    assert terms["chest pain"].label == "symptom"
    for t in list(terms.values())[:: len(terms) // 50]:
        assert cm.is_valid_item(t.code), t


def test_drug_terms_include_generics_and_brands_not_gene_acronyms() -> None:
    terms = {t.term: t for t in drug_terms()}
    assert terms["metoprolol"].code == "DB00264"
    assert terms["tylenol"].preferred.lower() == "acetaminophen"
    assert "sits" not in terms and "vegf" not in terms


def test_default_lexicon_user_terms_take_priority(tmp_path: Path) -> None:
    lex = default_lexicon(extra=[Term("pneumonia", "my_label", "X1")])
    (m,) = lex.match("pneumonia")
    assert (m.term.label, m.term.code) == ("my_label", "X1")


def test_read_lexicon_csv_yaml_and_bad_rows(tmp_path: Path) -> None:
    csv_file = tmp_path / "lex.csv"
    csv_file.write_text("term,label,code\n肺结节,finding,R91.1\nlung nodule,finding,R91.1\n")
    terms = read_lexicon(csv_file)
    assert [t.term for t in terms] == ["肺结节", "lung nodule"]
    yml = tmp_path / "lex.yaml"
    yml.write_text("finding: [ground glass opacity, 磨玻璃影]\n")
    assert {t.label for t in read_lexicon(yml)} == {"finding"}
    bad = tmp_path / "bad.csv"
    bad.write_text("term,label\nok,finding\n,finding\nnolabel,\n")
    with pytest.raises(DataFileError, match=r"2 bad row\(s\): line 3: no term; line 4: no label"):
        read_lexicon(bad)
    nohead = tmp_path / "nohead.csv"
    nohead.write_text("word,kind\nx,y\n")
    with pytest.raises(DataFileError, match="needs a header with 'term' and 'label'"):
        read_lexicon(nohead)
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes("term,label\n胸闷,symptom\n".encode("gbk"))
    assert read_lexicon(gbk)[0].term == "胸闷"
