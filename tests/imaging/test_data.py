"""Tests for medai.imaging.data: folders, manifests, MedMNIST npz files and downloads.

Images come from the real PneumoniaMNIST files in ../shared/data/medmnist (tests that need them
skip when that folder is absent) and pydicom's CT_small.dcm / MR_small.dcm. Downloads run for
real against the local HTTP server of tests/conftest.py; nothing reaches the internet.
"""

from __future__ import annotations

import hashlib
import io
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from medai.core import datasets
from medai.core.datasets import DatasetInfo
from medai.core.errors import DataFileError, DatasetError, InvalidInputError
from medai.imaging.data import (
    ImageSet,
    load_folder,
    load_images,
    load_manifest,
    load_medmnist,
    load_npz,
)

pytest.importorskip("PIL")
pytest.importorskip("pydicom")

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
BALANCED = SHARED / "medmnist" / "pneumoniamnist_28_balanced_aksufatih.npz"
SUBSAMPLED = SHARED / "medmnist" / "pneumoniamnist_28_subsampled_varun19424.npz"
PER_CLASS = 6


def pydicom_file(name: str) -> Path:
    from pydicom.data import get_testdata_file

    path = get_testdata_file(name)
    if path is None:
        pytest.skip(f"pydicom test file {name} is not installed")
    return Path(str(path))


def write_png(path: Path, pixels: np.ndarray) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path


@pytest.fixture(scope="module")
def pneumonia() -> dict[str, np.ndarray]:
    """The balanced PneumoniaMNIST subset (real images), as plain arrays."""
    if not BALANCED.exists():
        pytest.skip(f"shared data {BALANCED} is absent")
    with np.load(BALANCED, allow_pickle=False) as npz:
        return {key: npz[key] for key in npz.files}


@pytest.fixture
def xray_folder(tmp_path: Path, pneumonia: dict[str, np.ndarray]) -> Path:
    """normal/ and pneumonia/ with PER_CLASS real 28x28 PNGs each, one DICOM each, and clutter."""
    root = tmp_path / "xrays"
    labels = pneumonia["train_labels"][:, 0]
    for index, name in enumerate(("normal", "pneumonia")):
        for k, i in enumerate(np.flatnonzero(labels == index)[:PER_CLASS]):
            write_png(root / name / f"img{k:02d}.png", pneumonia["train_images"][i])
    shutil.copy(pydicom_file("CT_small.dcm"), root / "pneumonia" / "ct.dcm")
    (root / "normal" / "series").mkdir()
    shutil.copy(pydicom_file("MR_small.dcm"), root / "normal" / "series" / "IM0001")  # no suffix
    (root / "normal" / "notes.txt").write_text("reader notes\n")
    (root / "pneumonia" / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (root / "README.md").write_text("two classes\n")
    return root


# --- ImageSet --------------------------------------------------------------------------------


def test_image_set_subset_and_counts() -> None:
    images = np.arange(5 * 1 * 4 * 4, dtype=np.uint8).reshape(5, 1, 4, 4)
    data = ImageSet(
        images=images,
        labels=np.array([0, 1, 2, 1, 1]),
        classes=["a", "b", "c"],
        task="multiclass",
        groups=np.array(["p1", "p1", "p2", "p3", "p3"]),
        paths=[f"f{i}.png" for i in range(5)],
        skipped=[("x.txt", "not an image")],
    )
    assert data.class_counts() == {"a": 1, "b": 3, "c": 1}
    part = data.subset([3, 0])
    assert part.labels.tolist() == [1, 0] and part.paths == ["f3.png", "f0.png"]
    assert part.groups is not None and part.groups.tolist() == ["p3", "p1"]
    assert np.array_equal(part.images[0], images[3])
    assert part.skipped == data.skipped and part.classes == data.classes
    mask = data.subset(data.labels == 1)
    assert len(mask) == 3 and mask.class_counts() == {"a": 0, "b": 3, "c": 0}
    assert len(data.subset([])) == 0

    multi = ImageSet(
        images=images[:3],
        labels=np.array([[1, 0], [1, 1], [0, 0]]),
        classes=["effusion", "mass"],
        task="multilabel",
    )
    assert multi.labels.dtype == np.uint8
    assert multi.class_counts() == {"effusion": 2, "mass": 1}


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"images": np.zeros((2, 4, 4), np.uint8)}, "uint8 array"),
        ({"images": np.zeros((2, 1, 4, 4), np.float32)}, "uint8 array"),
        ({"labels": np.array([0, 2])}, "class indices"),
        ({"labels": np.array([0])}, "shape"),
        ({"task": "regression"}, "task"),
        ({"classes": ["a"], "task": "multiclass"}, "two distinct"),
        ({"groups": np.array(["p"])}, "groups"),
    ],
)
def test_image_set_rejects_inconsistent_fields(kw: dict[str, Any], match: str) -> None:
    fields: dict[str, Any] = {
        "images": np.zeros((2, 1, 4, 4), np.uint8),
        "labels": np.array([0, 1]),
        "classes": ["a", "b"],
        "task": "binary",
    }
    fields.update(kw)
    with pytest.raises(InvalidInputError, match=match):
        ImageSet(**fields)


# --- folders ---------------------------------------------------------------------------------


def test_load_folder_reads_png_and_dicom(
    xray_folder: Path, pneumonia: dict[str, np.ndarray]
) -> None:
    calls: list[tuple[str, int, int]] = []
    data = load_folder(xray_folder, size=28, progress=lambda *a: calls.append(a))
    n = 2 * PER_CLASS + 2
    assert data.images.shape == (n, 1, 28, 28) and data.images.dtype == np.uint8
    assert data.classes == ["normal", "pneumonia"] and data.task == "binary"
    assert data.class_counts() == {"normal": PER_CLASS + 1, "pneumonia": PER_CLASS + 1}
    assert data.labels.dtype == np.int64 and data.split is None
    assert data.paths is not None and len(data.paths) == n
    # PNGs at their own size come back as the original pixels
    first = data.paths.index(str(xray_folder / "normal" / "img00.png"))
    original = pneumonia["train_images"][np.flatnonzero(pneumonia["train_labels"][:, 0] == 0)[0]]
    assert np.abs(data.images[first, 0].astype(int) - original.astype(int)).max() <= 1
    # patient ids from DICOM; other files are their own group
    assert data.groups is not None
    groups = dict(zip(data.paths, data.groups, strict=True))
    assert groups[str(xray_folder / "pneumonia" / "ct.dcm")] == "1CT1"
    assert groups[str(xray_folder / "normal" / "series" / "IM0001")] == "4MR1"
    assert groups[str(xray_folder / "normal" / "img00.png")].startswith("file:")
    # nothing left out silently
    skipped = dict(data.skipped)
    assert set(skipped) == {
        str(xray_folder / "normal" / "notes.txt"),
        str(xray_folder / "pneumonia" / ".DS_Store"),
        str(xray_folder / "README.md"),
    }
    assert "not an image" in skipped[str(xray_folder / "normal" / "notes.txt")]
    assert "hidden" in skipped[str(xray_folder / "pneumonia" / ".DS_Store")]
    assert "class folder" in skipped[str(xray_folder / "README.md")]
    assert calls[-1] == ("reading images", n, n)


def test_load_folder_converts_channels_and_resizes(xray_folder: Path) -> None:
    data = load_images(xray_folder, size=16, channels=3)
    assert data.images.shape == (2 * PER_CLASS + 2, 3, 16, 16)
    assert np.array_equal(data.images[:, 0], data.images[:, 2])  # grey copied to RGB


def test_load_folder_applies_a_window_to_dicom_only(xray_folder: Path) -> None:
    plain = load_folder(xray_folder, size=28)
    lung = load_folder(xray_folder, size=28, window="lung")
    same = load_folder(xray_folder, size=28, window=(1500.0, -600.0))
    assert plain.paths == lung.paths and plain.paths is not None
    ct = plain.paths.index(str(xray_folder / "pneumonia" / "ct.dcm"))
    png = plain.paths.index(str(xray_folder / "normal" / "img00.png"))
    assert not np.array_equal(lung.images[ct], plain.images[ct])
    assert np.array_equal(lung.images[ct], same.images[ct])
    assert np.array_equal(lung.images[png], plain.images[png])
    for bad in ("nonsense", (-1.0, 40.0)):
        with pytest.raises(InvalidInputError, match="window"):
            load_folder(xray_folder, size=28, window=bad)


def test_load_folder_rejects_mixed_channels_naming_both(
    xray_folder: Path, pneumonia: dict[str, np.ndarray]
) -> None:
    rgb = np.repeat(pneumonia["train_images"][0][..., None], 3, axis=2)
    rgb[..., 0] = 255 - rgb[..., 0]
    write_png(xray_folder / "pneumonia" / "colour.png", rgb)
    with pytest.raises(DataFileError, match="different channel counts") as info:
        load_folder(xray_folder, size=28)
    message = str(info.value)
    assert "colour.png" in message and "3 channels" in message and "1 channel " in message
    assert "channels=1" in message
    assert load_folder(xray_folder, size=28, channels=1).images.shape[1] == 1


def test_load_folder_lists_corrupt_files_and_fails_when_most_are(xray_folder: Path) -> None:
    (xray_folder / "normal" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    data = load_folder(xray_folder, size=28)
    reasons = dict(data.skipped)
    assert "cannot be read" in reasons[str(xray_folder / "normal" / "broken.png")]
    assert len(data) == 2 * PER_CLASS + 2

    for k in range(3 * PER_CLASS):
        (xray_folder / "pneumonia" / f"bad{k:02d}.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(DataFileError, match="more than half"):
        load_folder(xray_folder, size=28)


def test_load_folder_empty_class_folder_is_named(xray_folder: Path) -> None:
    (xray_folder / "effusion").mkdir()
    with pytest.raises(DataFileError, match="effusion") as info:
        load_folder(xray_folder, size=28)
    assert "holds no image files" in str(info.value)


def test_load_folder_class_folder_with_only_non_images(xray_folder: Path) -> None:
    (xray_folder / "mass").mkdir()
    (xray_folder / "mass" / "notes.txt").write_text("to do\n")
    with pytest.raises(DataFileError, match=r"mass.*no image files.*notes\.txt"):
        load_folder(xray_folder, size=28)


def test_load_folder_needs_two_classes(tmp_path: Path, pneumonia: dict[str, np.ndarray]) -> None:
    write_png(tmp_path / "only" / "a.png", pneumonia["train_images"][0])
    with pytest.raises(DataFileError, match="at least two"):
        load_folder(tmp_path, size=28)
    with pytest.raises(DataFileError, match="not a folder"):
        load_folder(tmp_path / "nope", size=28)


# --- manifests -------------------------------------------------------------------------------


def test_load_manifest_single_label_with_patients(xray_folder: Path) -> None:
    csv = xray_folder / "manifest.csv"
    csv.write_text(
        "path,label,patient_id\n"
        "normal/img00.png,normal,P1\n"
        "normal/img01.png,normal,P1\n"
        "pneumonia/img00.png,pneumonia,P2\n"
        f"{xray_folder / 'pneumonia' / 'ct.dcm'},pneumonia,\n"
    )
    data = load_manifest(csv, size=32)
    assert data.images.shape == (4, 1, 32, 32)
    assert data.labels.tolist() == [0, 0, 1, 1] and data.task == "binary"
    assert data.groups is not None and data.groups.tolist() == ["P1", "P1", "P2", "1CT1"]
    assert load_images(csv, size=32).labels.tolist() == [0, 0, 1, 1]


def test_load_manifest_multilabel_and_numeric_classes(xray_folder: Path) -> None:
    csv = xray_folder / "findings.csv"
    csv.write_text(
        "path,label\n"
        "normal/img00.png,effusion|mass\n"
        "normal/img01.png,mass\n"
        "pneumonia/img00.png,atelectasis | effusion\n"
    )
    data = load_manifest(csv, size=28)
    assert data.task == "multilabel" and data.classes == ["atelectasis", "effusion", "mass"]
    assert data.labels.tolist() == [[0, 1, 1], [0, 0, 1], [1, 1, 0]]
    assert data.labels.dtype == np.uint8 and data.groups is None

    numbers = xray_folder / "grades.csv"
    numbers.write_text(
        "path,label\nnormal/img00.png,10\nnormal/img01.png,2\npneumonia/img00.png,2\n"
    )
    graded = load_manifest(numbers, size=28)
    assert graded.classes == ["2", "10"] and graded.labels.tolist() == [1, 0, 0]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("path,label\nnormal/img00.png,normal\nnormal/missing.png,pneumonia\n", r"line 3.*missing"),
        ("file,label\nnormal/img00.png,normal\n", r"lacks column\(s\) \['path'\]"),
        ("path\nnormal/img00.png\n", r"\['label'\]"),
        ("path,label\nnormal/img00.png,\n", "line 2.*label"),
        ("path,label\n,normal\n", "line 2.*path"),
        ("path,label\nnormal/img00.png,normal\n", "at least two"),
        ("path,label\n", "no rows"),
        ("", "empty"),
    ],
)
def test_load_manifest_rejects_bad_rows(xray_folder: Path, text: str, match: str) -> None:
    csv = xray_folder / "bad.csv"
    csv.write_text(text)
    with pytest.raises(DataFileError, match=match):
        load_manifest(csv, size=28)


# --- npz -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "splits", "counts"),
    [
        (SUBSAMPLED, (3882, 524, 624), {"normal": 388 + 135 + 234, "pneumonia": 3494 + 389 + 390}),
        (BALANCED, (2428, 270, 468), {"normal": 1214 + 135 + 234, "pneumonia": 1214 + 135 + 234}),
    ],
)
def test_load_npz_shared_pneumoniamnist(
    path: Path, splits: tuple[int, int, int], counts: dict[str, int]
) -> None:
    if not path.exists():
        pytest.skip(f"shared data {path} is absent")
    data = load_npz(path)
    n = sum(splits)
    assert data.images.shape == (n, 1, 28, 28) and data.images.dtype == np.uint8
    assert data.classes == ["normal", "pneumonia"] and data.task == "binary"
    assert data.labels.shape == (n,) and data.labels.dtype == np.int64
    assert data.split is not None
    assert [int((data.split == s).sum()) for s in ("train", "val", "test")] == list(splits)
    assert data.class_counts() == counts
    assert data.groups is None and data.paths is None and data.source == str(path)
    with np.load(path, allow_pickle=False) as npz:
        assert np.array_equal(data.subset(data.split == "test").images[:, 0], npz["test_images"])
    resized = load_images(path, size=32, channels=3)
    assert resized.images.shape == (n, 3, 32, 32)
    assert np.array_equal(resized.labels, data.labels)


def write_npz(path: Path, n: tuple[int, int, int] = (8, 3, 4), **arrays: np.ndarray) -> Path:
    """A small MedMNIST-style file; ``arrays`` replace (or, as None, drop) the defaults."""
    rng = np.random.default_rng(0)
    content: dict[str, Any] = {}
    for split, count in zip(("train", "val", "test"), n, strict=True):
        content[f"{split}_images"] = rng.integers(0, 256, (count, 28, 28), dtype=np.uint8)
        content[f"{split}_labels"] = (np.arange(count) % 2).reshape(-1, 1).astype(np.uint8)
    content.update(arrays)
    np.savez(path, **{k: v for k, v in content.items() if v is not None})
    return path


def test_load_npz_multilabel_chestmnist_like(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    labels = {
        f"{s}_labels": rng.integers(0, 2, (k, 14), dtype=np.uint8)
        for s, k in (("train", 8), ("val", 3), ("test", 4))
    }
    named = load_npz(write_npz(tmp_path / "chestmnist_tiny.npz", **labels))
    assert named.task == "multilabel" and named.labels.shape == (15, 14)
    assert named.classes[:3] == ["atelectasis", "cardiomegaly", "effusion"]
    assert named.class_counts()["hernia"] == int(sum(v[:, 13].sum() for v in labels.values()))
    plain = load_npz(write_npz(tmp_path / "findings.npz", **labels))
    assert plain.classes == [str(i) for i in range(14)] and plain.task == "multilabel"
    with pytest.raises(DataFileError, match="multilabel"):
        load_npz(write_npz(tmp_path / "chestmnist_single.npz"))


def test_load_npz_rgb_multiclass_with_unknown_name(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    rgb = {
        f"{s}_images": rng.integers(0, 256, (k, 28, 28, 3), dtype=np.uint8)
        for s, k in (("train", 8), ("val", 3), ("test", 4))
    }
    lab = {
        f"{s}_labels": np.full((k, 1), 4, np.uint8)
        for s, k in (("train", 8), ("val", 3), ("test", 4))
    }
    lab["train_labels"][0] = 0
    data = load_npz(write_npz(tmp_path / "mine.npz", **rgb, **lab))
    assert data.images.shape == (15, 3, 28, 28) and data.task == "multiclass"
    assert data.classes == ["0", "1", "2", "3", "4"]
    assert np.array_equal(data.images[0].transpose(1, 2, 0), rgb["train_images"][0])
    named = load_npz(write_npz(tmp_path / "other.npz"), classes=["no", "yes"])
    assert named.classes == ["no", "yes"] and named.task == "binary"


@pytest.mark.parametrize(
    ("name", "arrays", "match"),
    [
        ("a.npz", {"val_images": None, "test_labels": None}, r"\['val_images', 'test_labels'\]"),
        ("b.npz", {"train_labels": -np.ones((8, 1), np.int16)}, "negative label in row 0"),
        (
            "c.npz",
            {
                "val_labels": np.array([[0, 1], [2, 0], [1, 1]], np.uint8),
                "train_labels": np.zeros((8, 2), np.uint8),
                "test_labels": np.zeros((4, 2), np.uint8),
            },
            "other than 0 or 1",
        ),
        ("pneumoniamnist.npz", {"test_labels": np.full((4, 1), 5, np.uint8)}, "out of range"),
        ("d.npz", {"val_images": np.zeros((3, 32, 32), np.uint8)}, "all splits must match"),
        ("e.npz", {"train_images": np.zeros((8, 28, 28), np.float32)}, "uint8"),
        ("f.npz", {"test_labels": np.zeros((5, 1), np.uint8)}, "one label row per image"),
        ("g.npz", {"train_labels": np.array([["a"]] * 8)}, "dtype"),
        ("h.npz", {"val_labels": np.zeros((3, 4), np.uint8)}, "different numbers of columns"),
        ("i.npz", {"val_labels": np.full((3, 1), 0.5)}, "non-integer value in row 0"),
    ],
)
def test_load_npz_rejects_bad_files(
    tmp_path: Path, name: str, arrays: dict[str, Any], match: str
) -> None:
    path = write_npz(tmp_path / name, **arrays)
    with pytest.raises(DataFileError, match=match):
        load_npz(path)


def test_load_npz_never_unpickles(tmp_path: Path) -> None:
    objects = np.empty(8, dtype=object)
    objects[:] = [{"x": i} for i in range(8)]
    path = write_npz(tmp_path / "pickled.npz", train_labels=objects)
    with pytest.raises(DataFileError, match=r"allow_pickle|plain arrays"):
        load_npz(path)
    (tmp_path / "text.npz").write_text("not a zip")
    with pytest.raises(DataFileError, match=r"\.npz"):
        load_npz(tmp_path / "text.npz")
    np.save(tmp_path / "single.npy", np.zeros(3))
    (tmp_path / "single.npy").rename(tmp_path / "single.npz")
    with pytest.raises(DataFileError, match="single array"):
        load_npz(tmp_path / "single.npz")


# --- dispatch --------------------------------------------------------------------------------


def test_load_images_dispatch_errors(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="neither"):
        load_images()
    with pytest.raises(InvalidInputError, match="both"):
        load_images(tmp_path, dataset="pneumoniamnist")
    with pytest.raises(DataFileError, match="does not exist"):
        load_images(tmp_path / "nope")
    (tmp_path / "x.parquet").write_bytes(b"PAR1")
    with pytest.raises(DataFileError, match=r"not a folder, a \.csv manifest or an \.npz"):
        load_images(tmp_path / "x.parquet")
    with pytest.raises(InvalidInputError, match="channels"):
        load_images(tmp_path, channels=2)


# --- downloads -------------------------------------------------------------------------------


@pytest.fixture
def served_medmnist(
    tmp_path: Path, http_server: Any, medai_home: Path, no_proxy: None
) -> Iterator[DatasetInfo]:
    """A tiny MedMNIST-style file on the local server, registered with its real MD5."""
    data = write_npz(tmp_path / "tiny.npz").read_bytes()
    url = http_server.put("images/tinymnist.npz", data)
    info = DatasetInfo(
        name="tinymnist",
        title="tiny test set",
        kind="download",
        task="binary",
        modality="image",
        classes=("healthy", "sick"),
        image_size=28,
        n_channels=1,
        n_rows=15,
        url=url,
        md5=hashlib.md5(data, usedforsecurity=False).hexdigest(),
    )
    datasets.register(info)
    yield info
    datasets.unregister(info.name)


def test_load_medmnist_downloads_once_and_verifies(
    served_medmnist: DatasetInfo, http_server: Any
) -> None:
    calls: list[tuple[str, int, int]] = []
    data = load_medmnist("tinymnist", progress=lambda *a: calls.append(a))
    assert data.source == "tinymnist" and data.classes == ["healthy", "sick"]
    assert data.images.shape == (15, 1, 28, 28) and data.task == "binary"
    assert datasets.cache_path("tinymnist").is_file()
    assert calls and calls[-1][0] == "downloading tinymnist" and calls[-1][1] == calls[-1][2]
    before = len(http_server.requests)
    assert len(load_images(dataset="tinymnist", size=28)) == 15
    assert len(http_server.requests) == before  # served from the verified cache
    with pytest.raises(DatasetError, match="sizes available"):
        load_medmnist("tinymnist", size=64)


def test_load_medmnist_rejects_a_corrupted_download(
    served_medmnist: DatasetInfo, http_server: Any
) -> None:
    bad = http_server.put("images/tinymnist-bad.npz", b"PK\x03\x04 corrupted")
    with pytest.raises(DatasetError, match="checksum mismatch"):
        load_medmnist("tinymnist", url=bad)
    assert not datasets.cache_path("tinymnist").exists()


def test_official_entry_rejects_a_corrupted_mirror_file(
    http_server: Any, medai_home: Path, no_proxy: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not SUBSAMPLED.exists():
        pytest.skip(f"shared data {SUBSAMPLED} is absent")
    # a real PneumoniaMNIST file that is not the official one must not pass as it
    http_server.put("mirror/pneumoniamnist.npz", SUBSAMPLED.read_bytes())
    buffer = io.BytesIO()
    np.savez(buffer, train_images=np.zeros((1, 64, 64), np.uint8))
    http_server.put("mirror/pneumoniamnist_64.npz", buffer.getvalue())
    monkeypatch.setenv("MEDAI_DATASETS_URL", f"{http_server.url}/mirror")
    with pytest.raises(DatasetError, match="28209eda62fecd6e6a2d98b1501bb15f"):
        load_medmnist("pneumoniamnist")
    with pytest.raises(DatasetError, match="checksum mismatch"):
        load_images(dataset="pneumoniamnist", size=64)
    assert not datasets.cache_path("pneumoniamnist").exists()
    assert not datasets.cache_path("pneumoniamnist_64").exists()
    with pytest.raises(DatasetError, match=r"sizes available.*\[28, 64, 128, 224\]"):
        load_medmnist("pneumoniamnist", size=32)
    with pytest.raises(DatasetError, match="not an image dataset"):
        load_medmnist("pima_diabetes")
