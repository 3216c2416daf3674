"""Tests for the MedMNIST (image) entries of medai.core.datasets.

The facts checked here (URLs, MD5s, class names, split sizes) are those of the medmnist 3.0.2
package's ``medmnist/info.py``. Downloads run against the local HTTP server of
tests/conftest.py; nothing reaches the internet.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from medai.core import datasets
from medai.core.datasets import MEDMNIST_FLAGS, MEDMNIST_SIZES, DatasetInfo
from medai.core.errors import DatasetError, InvalidInputError

pytestmark = pytest.mark.usefixtures("medai_home", "no_proxy")

FLAGS = {
    # flag: (task, n_channels, n_classes, train + val + test)
    "pneumoniamnist": ("binary", 1, 2, 4708 + 524 + 624),
    "breastmnist": ("binary", 1, 2, 546 + 78 + 156),
    "dermamnist": ("multiclass", 3, 7, 7007 + 1003 + 2005),
    "bloodmnist": ("multiclass", 3, 8, 11959 + 1712 + 3421),
    "organamnist": ("multiclass", 1, 11, 34561 + 6491 + 17778),
    "pathmnist": ("multiclass", 3, 9, 89996 + 10004 + 7180),
    "chestmnist": ("multilabel", 1, 14, 78468 + 11219 + 22433),
}

SOME_MD5 = {
    "pneumoniamnist": "28209eda62fecd6e6a2d98b1501bb15f",
    "pneumoniamnist_224": "d6a3c71de1b945ea11211b03746c1fe1",
    "chestmnist": "02c8a6516a18b556561a56cbdd36c4a8",
    "dermamnist_64": "b70a2f5635c6199aeaa28c31d7202e1f",
    "organamnist": "68e3f8846a6bd62f0c9bf841c0d9eacc",
    "pathmnist_128": "ac42d08fb904d92c244187169d1fd1d9",
}


def test_every_flag_and_size_is_registered() -> None:
    assert set(MEDMNIST_FLAGS) == set(FLAGS)
    assert MEDMNIST_SIZES == (28, 64, 128, 224)
    names = [info.name for info in datasets.list_datasets()]
    assert names[:2] == ["breast_cancer", "whas500"]
    for flag, (task, channels, n_classes, n_rows) in FLAGS.items():
        for size in MEDMNIST_SIZES:
            name = flag if size == 28 else f"{flag}_{size}"
            info = datasets.get_info(name)
            assert info.kind == "download" and info.modality == "image"
            assert (info.task, info.n_channels, info.image_size) == (task, channels, size)
            assert info.classes is not None and len(info.classes) == n_classes
            assert info.n_rows == n_rows
            assert info.url == f"https://zenodo.org/records/10519652/files/{name}.npz?download=1"
            assert info.cache_filename == f"{name}.npz"
            assert info.checksum is not None and info.checksum[0] == "md5"
            assert info.label_columns == ()
            assert info.source and info.licence
    md5s = [datasets.get_info(n).md5 for n in names if datasets.get_info(n).modality == "image"]
    assert len(md5s) == len(set(md5s)) == 7 * 4
    for name, md5 in SOME_MD5.items():
        assert datasets.get_info(name).md5 == md5


def test_class_names() -> None:
    assert datasets.get_info("pneumoniamnist").classes == ("normal", "pneumonia")
    assert datasets.get_info("breastmnist_64").classes == ("malignant", "normal, benign")
    chest = datasets.get_info("chestmnist_128").classes
    assert chest is not None and chest[0] == "atelectasis" and chest[-1] == "hernia"
    assert datasets.get_info("pathmnist").classes[-1] == (  # type: ignore[index]
        "colorectal adenocarcinoma epithelium"
    )
    assert "CC BY-NC 4.0" in datasets.get_info("dermamnist").licence


def test_image_datasets_are_not_tables() -> None:
    with pytest.raises(DatasetError, match=r"image dataset.*load_medmnist"):
        datasets.load("pneumoniamnist")


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"task": "survival"}, "not valid for an image dataset"),
        ({"classes": ("only",)}, "at least two"),
        ({"classes": ("a", "a")}, "distinct"),
        ({"classes": ("a", "b", "c")}, "exactly 2"),
        ({"target": "y"}, "target"),
        ({"kind": "bundled"}, "download"),
        ({"n_channels": 2}, "n_channels"),
        ({"image_size": 0}, "image_size"),
        ({"modality": "video"}, "modality"),
    ],
)
def test_image_info_rejects_bad_fields(kw: dict[str, object], match: str) -> None:
    fields: dict[str, object] = {
        "name": "img",
        "title": "t",
        "kind": "download",
        "task": "binary",
        "modality": "image",
        "classes": ("no", "yes"),
        "url": "https://example.org/img.npz",
    }
    fields.update(kw)
    with pytest.raises(InvalidInputError, match=match):
        DatasetInfo(**fields)  # type: ignore[arg-type]


def test_table_info_rejects_image_fields() -> None:
    with pytest.raises(InvalidInputError, match="modality='image'"):
        DatasetInfo(
            name="t",
            title="t",
            kind="download",
            task="binary",
            target="y",
            url="https://example.org/t.csv",
            classes=("a", "b"),
        )
    with pytest.raises(InvalidInputError, match="task 'multiclass'"):
        DatasetInfo(
            name="t", title="t", kind="download", task="multiclass", url="https://e.org/t.csv"
        )


def test_mirror_serving_a_corrupted_file_is_rejected(
    http_server: Any, monkeypatch: pytest.MonkeyPatch, medai_home: Path
) -> None:
    http_server.put("zenodo/breastmnist.npz", b"PK\x03\x04 this is not the official file")
    monkeypatch.setenv("MEDAI_DATASETS_URL", f"{http_server.url}/zenodo")
    with pytest.raises(DatasetError) as info:
        datasets.fetch("breastmnist")
    message = str(info.value)
    assert "checksum mismatch" in message and "750601b1f35ba3300ea97c75c52ff8f6" in message
    assert "/zenodo/breastmnist.npz" in http_server.requests
    assert not datasets.cache_path("breastmnist").exists()
    assert [p for p in medai_home.rglob("*") if p.is_file()] == []  # no partial file left


def test_a_file_matching_its_md5_is_cached(http_server: Any) -> None:
    payload = b"PK\x03\x04 stand-in npz bytes"
    url = http_server.put("img/mini.npz", payload)
    info = DatasetInfo(
        name="mini_images",
        title="t",
        kind="download",
        task="multilabel",
        modality="image",
        classes=("a", "b", "c"),
        url=url,
        md5=hashlib.md5(payload, usedforsecurity=False).hexdigest(),
    )
    path = datasets.fetch(info)
    assert path.read_bytes() == payload and path.name == "mini.npz"
    assert not path.with_name("mini.npz.sha256").exists()  # pinned: no trust-on-first-use record
