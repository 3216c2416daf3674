"""The CRF tagger: synthetic notes, training, bundled models."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("pycrfsuite")

from medai.core.errors import InvalidInputError
from medai.privacy.synth import synthetic_notes
from medai.privacy.tagger import Tagger, default_tagger, default_tagger_path, train_tagger


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_synthetic_notes_are_consistent(lang: str) -> None:
    notes = synthetic_notes(30, lang, seed=1)
    assert all(n.text[s.start : s.end] == s.text for n in notes for s in n.spans)
    assert sum(len(n.spans) for n in notes) > 60
    assert [n.text for n in synthetic_notes(5, lang, seed=1)] == [n.text for n in notes[:5]]


def test_train_and_tag(tmp_path: Path) -> None:
    path = train_tagger(tmp_path / "tagger_en.crfsuite", "en", n_notes=150, max_iterations=30)
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
