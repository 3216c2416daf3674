"""The whole extraction pipeline on realistic notes, note reading and the HTML view."""

from __future__ import annotations

from pathlib import Path

import pytest

from medai.core.errors import DataFileError, InvalidInputError
from medai.text.extract import Extractor, extract
from medai.text.io import Note, NoteError, read_notes
from medai.text.lexicon import Term
from medai.text.view import notes_html

EN_NOTE = """CHIEF COMPLAINT: Shortness of breath.
HISTORY OF PRESENT ILLNESS: 67 yo M with history of type 2 diabetes mellitus presents with
shortness of breath. Denies chest pain, fever, or cough but reports leg swelling. Possible
pneumonia. Pulmonary embolism was ruled out.
FAMILY HISTORY: Father had myocardial infarction.
MEDICATIONS:
1. Metoprolol tartrate 25 mg PO BID
2. Amoxicillin 500mg tid x 7 days
PLAN: Return if fever develops."""

ZH_NOTE = """主诉：反复咳嗽、咳痰3天。
现病史：患者3天前无明显诱因出现咳嗽、咳痰，伴发热，无胸痛，否认咯血。
既往史：高血压病史10年，否认糖尿病病史。
家族史：父亲患冠心病。
医嘱：阿莫西林胶囊 0.5g 口服 每日三次；生理盐水 100ml 静滴 qd"""


@pytest.fixture(scope="module")
def extractor() -> Extractor:
    return Extractor()


def by_text(ann: dict, text: str, n: int = 0) -> dict:
    return [c for c in ann["concepts"] if c["text"] == text][n]


def test_english_note(extractor: Extractor) -> None:
    ann = extractor.extract(EN_NOTE, id="n1")
    assert ann["lang"] == "en"
    assert [s["name"] for s in ann["sections"]] == [
        "chief_complaint",
        "history_of_present_illness",
        "family_history",
        "medications",
        "plan",
    ]
    for c in ann["concepts"]:
        assert EN_NOTE[c["start"] : c["end"]] == c["text"]
    assert by_text(ann, "chest pain")["negated"] and by_text(ann, "chest pain")["code"] == "R07.9"
    assert by_text(ann, "cough")["negated"]
    assert by_text(ann, "pneumonia")["uncertain"] and not by_text(ann, "pneumonia")["negated"]
    assert by_text(ann, "Pulmonary embolism")["negated"]
    assert by_text(ann, "type 2 diabetes mellitus")["historical"]
    mi = by_text(ann, "myocardial infarction")
    assert mi["family"] and mi["section"] == "family_history"
    assert by_text(ann, "fever", 1)["hypothetical"]
    assert not by_text(ann, "shortness of breath")["negated"]
    assert [m["drug"] for m in ann["medications"]] == ["metoprolol tartrate", "amoxicillin"]


def test_chinese_note(extractor: Extractor) -> None:
    ann = extractor.extract(ZH_NOTE)
    assert ann["lang"] == "zh"
    names = [s["name"] for s in ann["sections"]]
    assert names == [
        "chief_complaint",
        "history_of_present_illness",
        "past_medical_history",
        "family_history",
        "orders",
    ]
    concepts = {(c["text"], c["start"]): c for c in ann["concepts"]}
    texts = [c["text"] for c in ann["concepts"]]
    assert "胸痛" in texts and "高血压" in texts
    assert next(c for c in concepts.values() if c["text"] == "胸痛")["negated"]
    assert not next(c for c in concepts.values() if c["text"] == "发热")["negated"]
    assert next(c for c in concepts.values() if c["text"] == "高血压")["historical"]
    assert next(c for c in concepts.values() if c["text"] == "冠心病")["family"]
    assert [m["per_day"] for m in ann["medications"]] == [3, 1]


def test_user_lexicon_and_forced_language() -> None:
    ex = Extractor(lexicons=[Term("ggo", "finding", "R91.8")], icd=False, drugs=False, lang="en")
    ann = ex.extract("CT: no GGO.")
    (c,) = [c for c in ann["concepts"] if c["text"] == "GGO"]
    assert c["negated"] and c["code"] == "R91.8"
    with pytest.raises(InvalidInputError, match="cannot annotate this note: empty note"):
        extract("   ")


def test_read_notes_formats_and_bad_notes(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("No fever.", encoding="utf-8")
    (tmp_path / "gbk.txt").write_bytes("患者否认胸痛。".encode("gbk"))
    (tmp_path / "empty.txt").write_text("  \n")
    (tmp_path / "nul.txt").write_bytes(b"abc\x00\x01\x02def" * 10)
    (tmp_path / "bad.txt").write_bytes(b"\xff\xfe\xfa\xfb\x80" * 40)
    got = {n.id: n for n in read_notes(tmp_path)}
    assert isinstance(got["a"], Note) and got["gbk"].text == "患者否认胸痛。"
    assert isinstance(got["empty"], NoteError) and got["empty"].error == "empty note"
    assert "binary" in got["nul"].error
    assert "neither UTF-8 nor GB18030" in got["bad"].error
    big = tmp_path / "big" / "huge.txt"
    big.parent.mkdir()
    big.write_text("no fever " * 2000)
    (huge,) = read_notes(big, max_chars=10_000)
    assert isinstance(huge, NoteError) and "over the limit of 10,000" in huge.error
    table = tmp_path / "notes.csv"
    table.write_text("note_id,note_text\n7,No cough.\n8,\n")
    rows = list(read_notes(table))
    assert [r.id for r in rows] == ["7", "8"]
    assert isinstance(rows[1], NoteError)
    jl = tmp_path / "notes.jsonl"
    jl.write_text('{"id": "x", "text": "No cough."}\nnot json\n{"id": "y", "body": 3}\n')
    rows = list(read_notes(jl))
    assert isinstance(rows[0], Note) and isinstance(rows[1], NoteError)
    assert "not valid JSON" in rows[1].error and "line 2" in rows[1].source
    with pytest.raises(DataFileError, match="has no text column"):
        bad = tmp_path / "t.csv"
        bad.write_text("a,b\n1,2\n")
        list(read_notes(bad))
    with pytest.raises(InvalidInputError, match="unknown encoding 'klingon'"):
        list(read_notes(tmp_path / "a.txt", encoding="klingon"))


def test_batch_goes_on_after_a_bad_note(extractor: Extractor) -> None:
    notes = [
        Note("1", "No fever.", "x"),
        NoteError("2", "empty note", "y"),
        Note("3", "Cough.", "z"),
    ]
    out = list(extractor.extract_many(notes))
    assert [o["id"] for o in out] == ["1", "2", "3"]
    assert "error" in out[1] and "concepts" in out[2]


def test_html_view_marks_negation_and_escapes(extractor: Extractor) -> None:
    text = "No <b>fever</b>. Metoprolol 25 mg PO BID."
    ann = extractor.extract(text, id="x")
    page = notes_html([(text, ann)])
    assert "&lt;b&gt;" in page and "<b>" not in page
    assert 'class="c neg"' in page and "neg</span>" in page
    assert 'class="med"' in page


def test_ner_entities_join_the_concepts(tmp_path: Path) -> None:
    from medai.text.ner import Entity, NerExample, train_ner

    sents = ["痰培养见布鲁克菌生长。", "血培养：布鲁克菌阳性。", "未见布鲁克菌。", "患者咳嗽。"]
    examples = [
        NerExample(s, [Entity(s.index("布鲁克菌"), s.index("布鲁克菌") + 4, "mic", "布鲁克菌")]
                   if "布鲁克菌" in s else [])
        for s in sents
    ] * 12  # fmt: skip
    bundle = train_ner(examples, examples[:8], epochs=25, hidden=32, emb_dim=32, bigram_dim=8,
                       min_freq=1, bigram_min_freq=1, patience=25, n_boot=0, seed=0)  # fmt: skip
    path = bundle.save(tmp_path / "ner")
    ex = Extractor(ner=path, icd=False, drugs=False)
    ann = ex.extract("复查：未见布鲁克菌。")
    (c,) = [c for c in ann["concepts"] if c["source"] == "ner"]
    assert (c["text"], c["label"], c["negated"]) == ("布鲁克菌", "microorganism", True)
    assert Extractor(ner=path, icd=False, drugs=False).extract("No fever.")["lang"] == "en"
