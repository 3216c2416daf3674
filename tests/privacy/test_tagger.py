"""The CRF tagger: synthetic notes, training, bundled models."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("pycrfsuite")

from medai.core.errors import InvalidInputError
from medai.privacy.evaluate import read_gold
from medai.privacy.synth import synthetic_notes
from medai.privacy.tagger import (
    Tagger,
    _case_variants,
    default_tagger,
    default_tagger_path,
    train_tagger,
)
from tests.privacy.conftest import GOLD


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_synthetic_notes_are_consistent(lang: str) -> None:
    notes = synthetic_notes(30, lang, seed=1)
    assert all(n.text[s.start : s.end] == s.text for n in notes for s in n.spans)
    assert sum(len(n.spans) for n in notes) > 60
    assert [n.text for n in synthetic_notes(5, lang, seed=1)] == [n.text for n in notes[:5]]


def test_train_and_tag(tmp_path: Path) -> None:
    path = train_tagger(tmp_path / "tagger_en.crfsuite", "en", n_synthetic=150, max_iterations=30)
    tagger = Tagger(path, "en")
    held_out = synthetic_notes(20, "en", seed=99)
    hit = total = 0
    for note in held_out:
        found = tagger.find(note.text)
        for s in note.spans:
            total += 1
            hit += any(f.start < s.end and f.end > s.start for f in found)
    assert hit / total > 0.7  # learned from 150 notes, tested on other synthetic notes
    assert tagger.find("患者张伟", "zh") == []  # an English tagger leaves Chinese alone


def test_train_on_hand_written_notes(tmp_path: Path) -> None:
    gold = read_gold(GOLD / "train_en.jsonl")
    variants = _case_variants(gold[:6])
    assert len(variants) == 8  # six lower-case copies, two upper-case
    assert all(v.text[s.start : s.end] == s.text for v in variants for s in v.spans)
    assert variants[0].text == gold[0].text.lower()
    path = train_tagger(tmp_path / "t.crfsuite", "en", notes=gold[:150], n_synthetic=0,
                        max_iterations=40)  # fmt: skip
    dev = read_gold(GOLD / "dev_en.jsonl")[:40]
    tagger = Tagger(path, "en")
    found = {n.id: tagger.find(n.text) for n in dev}
    names = [(n.id, s) for n in dev for s in n.spans if s.type == "NAME"]
    hit = sum(any(f.start < s.end and f.end > s.start for f in found[i]) for i, s in names)
    assert hit / len(names) > 0.75  # other authors' notes
    with pytest.raises(InvalidInputError, match="no training notes"):
        train_tagger(tmp_path / "x.crfsuite", "en", notes=[], n_synthetic=0)


def test_bundled_taggers_and_bad_files(tmp_path: Path) -> None:
    assert default_tagger_path() is not None
    pair = default_tagger()
    assert pair is not None and set(pair.taggers) == {"en", "zh"}
    bad = tmp_path / "tagger_en.crfsuite"
    bad.write_bytes(b"not a model")
    from medai.core.errors import BundleError

    with pytest.raises(BundleError):
        Tagger(bad, "en")
    with pytest.raises(InvalidInputError, match="no tagger"):
        default_tagger(tmp_path / "empty")
