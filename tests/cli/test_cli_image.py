"""``medai image`` end to end, and the imaging bad inputs: exit 2, clear message, no bundle."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

from medai.cli.main import main
from medai.imaging.phantom import phantom

FAST = ["--epochs", "2", "--patience", "2", "--n-boot", "50"]


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def png_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from PIL import Image

    root = tmp_path_factory.mktemp("pngs")
    ims = phantom(120, 32, seed=3)
    for i, (img, y) in enumerate(zip(ims.images, ims.labels, strict=True)):
        folder = root / ims.classes[y]
        folder.mkdir(exist_ok=True)
        Image.fromarray(img[0]).save(folder / f"{i:03d}.png")
    (root / "nodule" / "notes.txt").write_text("not an image")
    return root


@pytest.fixture(scope="module")
def image_bundle(png_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ib") / "bundle"
    assert main(["image", "train", str(png_folder), "--size", "32", "--out", str(out), *FAST]) == 0
    return out


def test_train_predict_explain_evaluate_export(
    image_bundle: Path, png_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    card = json.loads((image_bundle / "card.json").read_text())
    assert card["training_data"]["skipped_files"] == 1  # notes.txt, listed not silent
    assert "notes.txt" in (image_bundle / "report.html").read_text()
    preds = tmp_path / "p.csv"
    code, _, err = run(["image", "predict", str(image_bundle), str(png_folder / "nodule"),
                        "--out", str(preds)], capsys)  # fmt: skip
    assert code == 0, err
    assert preds.read_text().splitlines()[0] == "file,prob_no_nodule,prob_nodule,predicted"
    heat = tmp_path / "h.png"
    one = next((png_folder / "nodule").glob("*.png"))
    for method in ("gradcam", "occlusion"):
        code, _, err = run(["image", "explain", str(image_bundle), str(one), "--out", str(heat),
                            "--method", method], capsys)  # fmt: skip
        assert code == 0, err
        assert heat.read_bytes()[:4] == b"\x89PNG"
    code, _, err = run(["image", "explain", str(image_bundle), str(one), "--out", str(heat),
                        "--layer", "features.99"], capsys)  # fmt: skip
    assert code == 2 and "layer 'features.99' is not in this network" in err
    code, out, err = run(["image", "evaluate", str(image_bundle), str(png_folder), "--n-boot", "50",
                          "--out", str(tmp_path / "r.html")], capsys)  # fmt: skip
    assert code == 0, err
    assert "auroc" in json.loads(out)
    onnx = tmp_path / "m.onnx"
    code, _, err = run(
        ["image", "export", str(image_bundle), "--format", "onnx", "--out", str(onnx)], capsys
    )
    assert code == 0 and onnx.exists(), err


def test_predict_dicom_with_window(image_bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pydicom.data import get_testdata_file

    code, out, err = run(["image", "predict", str(image_bundle), get_testdata_file("CT_small.dcm"),
                          "--window", "lung"], capsys)  # fmt: skip
    assert code == 0, err
    assert "CT_small.dcm" in out


def _bad_dicoms(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    import pydicom
    from pydicom.data import get_testdata_file

    src = Path(get_testdata_file("CT_small.dcm"))
    truncated = tmp_path / "truncated.dcm"
    truncated.write_bytes(src.read_bytes()[:1000])
    text = tmp_path / "text.dcm"
    text.write_text("this is not DICOM")
    ds = pydicom.dcmread(src)
    del ds.PixelData
    nopix = tmp_path / "nopixels.dcm"
    ds.save_as(nopix)
    return {"truncated": (truncated, "truncated.dcm"), "text": (text, "text.dcm"),
            "nopixels": (nopix, "no pixel data")}  # fmt: skip


def test_bad_dicom_inputs(
    image_bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, (path, message) in _bad_dicoms(tmp_path).items():
        out = tmp_path / f"{name}.csv"
        code, _, err = run(
            ["image", "predict", str(image_bundle), str(path), "--out", str(out)], capsys
        )
        assert code == 2, (name, err)
        assert message in err.lower() or message in err, (name, err)
        assert "Traceback" not in err and not out.exists()


def _folder_case(tmp_path: Path, case: str) -> Path:
    from PIL import Image

    root = tmp_path / case
    for cls in ("a", "b"):
        (root / cls).mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(4):
        Image.fromarray(rng.integers(0, 255, (16, 16), dtype=np.uint8)).save(
            root / "a" / f"{i}.png"
        )
    if case == "mixed":
        for i in range(4):
            Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(
                root / "b" / f"{i}.png"
            )
    elif case == "nonimages":
        for i in range(3):
            (root / "b" / f"{i}.txt").write_text("no")
    return root


def _npz_case(tmp_path: Path, case: str) -> Path:
    rng = np.random.default_rng(0)
    arrays = {f"{s}_images": rng.integers(0, 255, (10, 16, 16), dtype=np.uint8)
              for s in ("train", "val", "test")}  # fmt: skip
    arrays.update(
        {
            f"{s}_labels": rng.integers(0, 2, (10, 1)).astype(np.uint8)
            for s in ("train", "val", "test")
        }
    )
    if case == "npz_missing":
        del arrays["val_labels"], arrays["test_images"]
    else:
        arrays["train_labels"][0, 0] = 7 if case == "npz_range" else arrays["train_labels"][0, 0]
        arrays["train_labels"] = arrays["train_labels"].astype(np.int16)
        arrays["train_labels"][1, 0] = -1
    path = tmp_path / f"{case}.npz"
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("empty", "empty/b' holds no image files"),
        ("nonimages", "nonimages/b'"),
        ("mixed", "different channel counts"),
        ("npz_missing", "test_images"),
        ("npz_range", "train_labels"),
    ],
)
def test_bad_training_sources(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, message: str
) -> None:
    source = _npz_case(tmp_path, case) if case.startswith("npz") else _folder_case(tmp_path, case)
    out = tmp_path / "bundle"
    code, _, err = run(["image", "train", str(source), "--out", str(out), *FAST], capsys)
    assert code == 2, err
    assert message in err, err
    assert "Traceback" not in err and not out.exists()


def test_corrupted_download_is_rejected(
    http_server: object,
    medai_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = http_server.put("mm/pneumoniamnist.npz", b"definitely not the real file")  # type: ignore[attr-defined]
    monkeypatch.setenv("MEDAI_DATASETS_URL", url.rsplit("/", 1)[0])
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    out = tmp_path / "bundle"
    code, _, err = run(
        ["image", "train", "--dataset", "pneumoniamnist", "--out", str(out), *FAST], capsys
    )
    assert code == 2
    assert "28209eda62fecd6e6a2d98b1501bb15f" in err
    assert not out.exists()
    assert not list((medai_home / "datasets").rglob("*.npz"))


def test_bundle_is_not_half_written(image_bundle: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(image_bundle, copy)
    (copy / "model.safetensors").write_bytes(b"\x00" * 10)
    assert main(["image", "predict", str(copy), str(tmp_path)]) == 2
