from __future__ import annotations

import json
from pathlib import Path

import pytest

from medai.core.bundle import MANIFEST, load_bundle, read_bundle, write_bundle
from medai.core.errors import BundleError
from medai.risk import RiskBundle


def test_roundtrip_and_manifest(tmp_path: Path) -> None:
    path = write_bundle(tmp_path / "b", {"pillar": "x", "v": 1}, {"w.json": b"[1, 2]"})
    card, files = read_bundle(path)
    assert card == {"pillar": "x", "v": 1}
    assert files == {"w.json": b"[1, 2]"}
    manifest = json.loads((path / MANIFEST).read_text())
    assert set(manifest["files"]) == {"card.json", "w.json"}
    assert [p.name for p in tmp_path.iterdir()] == ["b"]  # no temp folders left


def test_edited_file_is_refused(tmp_path: Path) -> None:
    path = write_bundle(tmp_path / "b", {"pillar": "x"}, {"w.json": b"[1, 2]"})
    (path / "w.json").write_bytes(b"[1, 3]")
    with pytest.raises(BundleError, match=r"'w.json'.*does not match its sha256"):
        read_bundle(path)


def test_extra_and_missing_files_are_refused(tmp_path: Path) -> None:
    path = write_bundle(tmp_path / "b", {"pillar": "x"}, {"w.json": b"[]"})
    (path / "evil.pkl").write_bytes(b"x")
    with pytest.raises(BundleError, match=r"not in its manifest.*evil.pkl"):
        read_bundle(path)
    (path / "evil.pkl").unlink()
    (path / "w.json").unlink()
    with pytest.raises(BundleError, match=r"missing 'w.json'"):
        read_bundle(path)


def test_not_a_bundle(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match=r"does not exist"):
        read_bundle(tmp_path / "none")
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "notes.txt").write_text("mine")
    with pytest.raises(BundleError, match=r"no manifest.json"):
        read_bundle(tmp_path / "folder")
    with pytest.raises(BundleError, match=r"not a medai bundle"):
        write_bundle(tmp_path / "folder", {}, {})
    assert (tmp_path / "folder" / "notes.txt").read_text() == "mine"


def test_rewrite_replaces_an_existing_bundle(tmp_path: Path) -> None:
    write_bundle(tmp_path / "b", {"v": 1}, {"a.json": b"1"})
    write_bundle(tmp_path / "b", {"v": 2}, {"c.json": b"2"})
    card, files = read_bundle(tmp_path / "b")
    assert card == {"v": 2} and files == {"c.json": b"2"}
    assert [p.name for p in tmp_path.iterdir()] == ["b"]


def test_nan_in_card_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_bundle(tmp_path / "b", {"x": float("nan")}, {})
    assert list(tmp_path.iterdir()) == []


def test_load_bundle_dispatches_on_pillar(binary_bundle_dir: Path) -> None:
    b = load_bundle(binary_bundle_dir)
    assert isinstance(b, RiskBundle)
    assert b.card["pillar"] == "risk"


def test_real_bundle_tampered_model_refused(binary_bundle_dir: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(binary_bundle_dir, copy)
    model = json.loads((copy / "model.json").read_text())
    model["coef"][0] += 1.0
    (copy / "model.json").write_text(json.dumps(model))
    with pytest.raises(BundleError, match=r"model.json"):
        RiskBundle.load(copy)
