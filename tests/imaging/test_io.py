"""Tests of medai.imaging.io on real files shipped by pydicom and nibabel."""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pydicom = pytest.importorskip("pydicom")
nib = pytest.importorskip("nibabel")
Image = pytest.importorskip("PIL.Image")
pytest.importorskip("torch")

import nibabel.testing  # noqa: E402
from pydicom.pixels import apply_modality_lut, apply_voi_lut  # noqa: E402

from medai.core.errors import DataFileError, InvalidInputError, MissingExtraError  # noqa: E402
from medai.imaging import io  # noqa: E402
from medai.imaging.io import (  # noqa: E402
    WINDOWS,
    dicom_patient_id,
    is_dicom,
    parse_window,
    prepare,
    read_dicom_series,
    read_image,
)

PYDICOM_FILES = Path(str(pydicom.data.__file__)).parent / "test_files"
ANATOMICAL = Path(str(nibabel.testing.data_path)) / "anatomical.nii"


def dcm(name: str) -> Path:
    """A test file that ships inside pydicom (never one it would download)."""
    path = PYDICOM_FILES / name
    if not path.exists():
        pytest.skip(f"pydicom does not ship {name}")
    return path


def check_unit(image: np.ndarray, channels: int = 1) -> None:
    assert image.dtype == np.float32
    assert image.ndim == 3 and image.shape[0] == channels
    assert image.flags.c_contiguous
    assert float(image.min()) >= 0.0 and float(image.max()) <= 1.0


def mode_of(path: Path) -> str:
    with Image.open(path) as img:
        return str(img.mode)


def minmax(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    return (a - a.min()) / (a.max() - a.min())


# --- windows and detection -------------------------------------------------------------------


def test_parse_window() -> None:
    assert parse_window(None) is None
    assert parse_window("lung") == (1500.0, -600.0)
    assert parse_window(" Bone ") == WINDOWS["bone"]
    assert parse_window("400,40") == (400.0, 40.0)
    assert parse_window("80, -5.5") == (80.0, -5.5)
    assert set(WINDOWS) == {"lung", "mediastinum", "bone", "brain"}


@pytest.mark.parametrize("spec", ["lungs", "400", "400,40,1", "a,b", "0,40", "-10,40", "nan,1"])
def test_parse_window_rejects(spec: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        parse_window(spec)
    message = str(info.value)
    assert repr(spec) in message
    assert "WIDTH,LEVEL" in message or "width" in message


def test_is_dicom(tmp_path: Path) -> None:
    no_suffix = tmp_path / "IM0001"
    shutil.copy(dcm("CT_small.dcm"), no_suffix)
    png = tmp_path / "a.png"
    Image.new("L", (4, 4)).save(png)
    assert is_dicom(dcm("CT_small.dcm"))
    assert is_dicom(no_suffix)
    assert is_dicom(tmp_path / "missing.DCM")  # by suffix
    assert not is_dicom(png)
    assert not is_dicom(tmp_path / "missing")
    # a file without the preamble or suffix is still read as DICOM by content
    assert read_image(no_suffix).shape == (1, 128, 128)


# --- DICOM -----------------------------------------------------------------------------------


def test_ct_windows_apply_rescale() -> None:
    path = dcm("CT_small.dcm")
    ds = pydicom.dcmread(path)
    hu = apply_modality_lut(ds.pixel_array, ds).astype(np.float64)
    assert float(ds.RescaleIntercept) == -1024  # so raw values and HU really differ
    lung = read_image(path, window=WINDOWS["lung"])
    bone = read_image(path, window=parse_window("bone"))
    check_unit(lung)
    check_unit(bone)
    assert lung.shape == (1, 128, 128)
    assert not np.allclose(lung, bone)
    for (width, level), got in ((WINDOWS["lung"], lung), (WINDOWS["bone"], bone)):
        expected = np.clip((hu - (level - width / 2)) / width, 0, 1)
        np.testing.assert_allclose(got[0], expected, atol=1e-6)
    # a window on raw values (before rescale) would give another picture
    raw = np.clip((ds.pixel_array - (-600 - 750)) / 1500, 0, 1)
    assert not np.allclose(lung[0], raw, atol=1e-3)


def test_ct_without_window_is_minmax() -> None:
    path = dcm("CT_small.dcm")
    ds = pydicom.dcmread(path)
    image = read_image(path)
    check_unit(image)
    assert image.min() == 0.0 and image.max() == 1.0
    np.testing.assert_allclose(image[0], minmax(ds.pixel_array), atol=1e-6)


def test_mr_uses_its_voi_window() -> None:
    path = dcm("MR_small.dcm")
    ds = pydicom.dcmread(path)
    assert "WindowCenter" in ds
    image = read_image(path)
    check_unit(image)
    values = apply_modality_lut(ds.pixel_array, ds).astype(np.float64)
    np.testing.assert_allclose(image[0], minmax(apply_voi_lut(values, ds)), atol=1e-6)


def test_monochrome1_is_inverted(tmp_path: Path) -> None:
    # pydicom ships no MONOCHROME1 image: relabel CT_small (same pixels) as MONOCHROME1
    ds = pydicom.dcmread(dcm("CT_small.dcm"))
    ds.PhotometricInterpretation = "MONOCHROME1"
    path = tmp_path / "mono1.dcm"
    ds.save_as(path)
    image = read_image(path)
    check_unit(image)
    corr = np.corrcoef(image[0].ravel(), ds.pixel_array.ravel().astype(float))[0, 1]
    assert corr < -0.99
    np.testing.assert_allclose(image, 1.0 - read_image(dcm("CT_small.dcm")), atol=1e-6)
    windowed = read_image(path, window=WINDOWS["lung"])
    expected = 1.0 - read_image(dcm("CT_small.dcm"), window=WINDOWS["lung"])
    np.testing.assert_allclose(windowed, expected, atol=1e-6)


def test_multiframe_frame_selection() -> None:
    path = dcm("rtdose.dcm")  # 15 frames of 10x10
    ds = pydicom.dcmread(path)
    frames = ds.pixel_array
    assert frames.shape == (15, 10, 10)
    middle = read_image(path)
    check_unit(middle)
    assert middle.shape == (1, 10, 10)
    np.testing.assert_allclose(middle[0], minmax(frames[7]), atol=1e-6)
    np.testing.assert_allclose(read_image(path, frame=2)[0], minmax(frames[2]), atol=1e-6)
    for bad in (15, -1):
        with pytest.raises(DataFileError, match=r"frame .* 0 to 14") as info:
            read_image(path, frame=bad)
        assert "rtdose.dcm" in str(info.value)
    with pytest.raises(DataFileError, match="valid frames are 0"):
        read_image(dcm("CT_small.dcm"), frame=1)


@pytest.mark.parametrize(
    "name", ["examples_rgb_color.dcm", "SC_ybr_full_422_uncompressed.dcm", "SC_rgb_rle.dcm"]
)
def test_colour_dicom_has_three_channels(name: str) -> None:
    path = dcm(name)
    ds = pydicom.dcmread(path)
    image = read_image(path, window=WINDOWS["lung"])  # the window does not apply to colour
    check_unit(image, channels=3)
    assert image.shape == (3, ds.Rows, ds.Columns)
    np.testing.assert_allclose(image, ds.pixel_array.transpose(2, 0, 1) / 255.0, atol=1e-6)


def test_multiframe_colour_dicom() -> None:
    path = dcm("SC_rgb_rle_2frame.dcm")
    frames = pydicom.dcmread(path).pixel_array
    image = read_image(path, frame=0)
    check_unit(image, channels=3)
    np.testing.assert_allclose(image, frames[0].transpose(2, 0, 1) / 255.0, atol=1e-6)


def test_palette_dicom_becomes_rgb() -> None:
    image = read_image(dcm("examples_palette.dcm"))
    check_unit(image, channels=3)
    assert image.shape[1:] == (350, 800)


def test_missing_decoder_names_the_plugin() -> None:
    from pydicom.pixels import get_decoder

    path = dcm("MR_small_jpeg_ls_lossless.dcm")
    ts = pydicom.dcmread(path, stop_before_pixels=True).file_meta.TransferSyntaxUID
    if get_decoder(ts).is_available:
        pytest.skip("a JPEG-LS decoder is installed here")
    with pytest.raises(DataFileError, match="pylibjpeg") as info:
        read_image(path)
    assert "MR_small_jpeg_ls_lossless.dcm" in str(info.value)
    assert "JPEG-LS" in str(info.value)


def test_undecodable_compressed_dicom() -> None:
    path = dcm("JPEG-lossy.dcm")  # 12-bit JPEG Extended: Pillow cannot decode it
    try:
        _ = pydicom.dcmread(path).pixel_array
    except Exception:
        pass
    else:
        pytest.skip("a decoder for 12-bit JPEG is installed here")
    with pytest.raises(DataFileError, match=r"JPEG-lossy\.dcm.*could not be decoded.*pylibjpeg"):
        read_image(path)


def test_dicom_lacking_image_attributes() -> None:
    with pytest.raises(DataFileError, match=r"lacks an image attribute.*Bits Allocated"):
        read_image(dcm("meta_missing_tsyntax.dcm"))


def test_truncated_dicom(tmp_path: Path) -> None:
    data = dcm("CT_small.dcm").read_bytes()
    short = tmp_path / "x.dcm"
    short.write_bytes(data[:1000])
    with pytest.raises(DataFileError, match=r"x\.dcm"):
        read_image(short)
    # cut inside the pixel data
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(data[:-5000])
    with pytest.raises(DataFileError, match=r"cut\.dcm.*truncated"):
        read_image(cut)
    # pydicom's own truncated file
    with pytest.raises(DataFileError, match="truncated"):
        read_image(dcm("MR_truncated.dcm"))


def test_truncated_dicom_at_any_length(tmp_path: Path) -> None:
    data = dcm("MR_small.dcm").read_bytes()
    path = tmp_path / "cut.dcm"
    for length in range(0, len(data) - 1, 397):
        path.write_bytes(data[:length])
        with pytest.raises(DataFileError):
            read_image(path)


def test_text_file_named_dcm(tmp_path: Path) -> None:
    path = tmp_path / "x.dcm"
    path.write_text("patient notes, not an image\n" * 20)
    with pytest.raises(DataFileError, match=r"x\.dcm.* not a DICOM file"):
        read_image(path)
    with pytest.raises(DataFileError, match="not a DICOM file"):
        dicom_patient_id(path)


def test_dicom_without_pixel_data(tmp_path: Path) -> None:
    ds = pydicom.dcmread(dcm("CT_small.dcm"))
    del ds.PixelData
    path = tmp_path / "nopix.dcm"
    ds.save_as(path)
    with pytest.raises(DataFileError, match=r"nopix\.dcm.*no pixel data") as info:
        read_image(path)
    assert str(ds.PatientName) not in str(info.value)
    # a structured report has none either
    with pytest.raises(DataFileError, match="no pixel data"):
        read_image(dcm("test-SR.dcm"))


def test_dicom_patient_id(tmp_path: Path) -> None:
    path = dcm("CT_small.dcm")
    assert dicom_patient_id(path) == str(pydicom.dcmread(path).PatientID).strip()
    ds = pydicom.dcmread(path)
    del ds.PatientID
    anonymous = tmp_path / "anon.dcm"
    ds.save_as(anonymous)
    assert dicom_patient_id(anonymous) is None
    with pytest.raises(DataFileError, match="does not exist"):
        dicom_patient_id(tmp_path / "missing.dcm")


# --- DICOM series ----------------------------------------------------------------------------


def _write_series(folder: Path, n: int, *, numbered: bool) -> list[np.ndarray]:
    """Write n distinct CT slices under shuffled names; return the slices in true order."""
    base = pydicom.dcmread(dcm("CT_small.dcm"))
    names = [f"{c}.dcm" for c in "dbeac"[:n]]
    expected = []
    for k in range(n):
        ds = copy.deepcopy(base)
        pixels = np.roll(base.pixel_array, 17 * k, axis=1)
        ds.PixelData = pixels.astype(base.pixel_array.dtype).tobytes()
        if numbered:
            ds.InstanceNumber = k + 1
        else:
            del ds.InstanceNumber
        ds.ImagePositionPatient = [0.0, 0.0, float(5 * k - 100)]
        ds.save_as(folder / names[k])
        expected.append(minmax(pixels))
    return expected


def test_series_sorted_by_instance_number(tmp_path: Path) -> None:
    expected = _write_series(tmp_path, 5, numbered=True)
    (tmp_path / "notes.txt").write_text("not dicom")
    Image.new("L", (8, 8)).save(tmp_path / "preview.png")
    images, paths = read_dicom_series(tmp_path)
    assert images.shape == (5, 1, 128, 128)
    assert images.dtype == np.float32
    assert [p.name for p in paths] == ["d.dcm", "b.dcm", "e.dcm", "a.dcm", "c.dcm"]
    for k in range(5):
        np.testing.assert_allclose(images[k, 0], expected[k], atol=1e-6)
    windowed, _ = read_dicom_series(tmp_path, window=WINDOWS["bone"])
    assert windowed.shape == images.shape and not np.allclose(windowed, images)
    assert windowed.min() >= 0 and windowed.max() <= 1


def test_series_sorted_by_position_without_numbers(tmp_path: Path) -> None:
    _write_series(tmp_path, 3, numbered=False)
    _, paths = read_dicom_series(tmp_path)
    assert [p.name for p in paths] == ["d.dcm", "b.dcm", "e.dcm"]


def test_series_errors(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not dicom")
    with pytest.raises(DataFileError, match="no DICOM image"):
        read_dicom_series(tmp_path)
    with pytest.raises(DataFileError, match="does not exist"):
        read_dicom_series(tmp_path / "missing")
    shutil.copy(dcm("CT_small.dcm"), tmp_path / "ct.dcm")
    shutil.copy(dcm("MR_small.dcm"), tmp_path / "mr.dcm")
    with pytest.raises(DataFileError, match="2 DICOM series"):
        read_dicom_series(tmp_path)


# --- NIfTI -----------------------------------------------------------------------------------


def _canonical_view(img: Any, axis: int, index: int) -> np.ndarray:
    """The expected slice, made the slow way with nibabel's own reorientation."""
    data = nib.as_closest_canonical(img).get_fdata()
    return minmax(np.take(data, index, axis=axis).T[::-1, ::-1])


def test_nifti_middle_slice_and_axes() -> None:
    img = nib.load(ANATOMICAL)
    assert img.shape == (33, 41, 25)
    axial = read_image(ANATOMICAL)
    check_unit(axial)
    assert axial.shape == (1, 41, 33)  # rows anterior->posterior, columns right->left
    np.testing.assert_allclose(axial[0], _canonical_view(img, 2, 12), atol=1e-6)
    sagittal = read_image(ANATOMICAL, axis=0, index=5)
    assert sagittal.shape == (1, 25, 41)
    np.testing.assert_allclose(sagittal[0], _canonical_view(img, 0, 5), atol=1e-6)
    coronal = read_image(ANATOMICAL, axis=1, index=30)
    assert coronal.shape == (1, 25, 33)
    np.testing.assert_allclose(coronal[0], _canonical_view(img, 1, 30), atol=1e-6)
    assert not np.allclose(read_image(ANATOMICAL, index=3), axial)


def test_nifti_bad_index_and_axis() -> None:
    with pytest.raises(DataFileError, match="0 to 24"):
        read_image(ANATOMICAL, index=25)
    with pytest.raises(DataFileError, match="0 to 32"):
        read_image(ANATOMICAL, axis=0, index=-1)
    with pytest.raises(InvalidInputError, match="axis"):
        read_image(ANATOMICAL, axis=3)
    with pytest.raises(DataFileError, match="frame"):
        read_image(ANATOMICAL, frame=1)


def test_nifti_4d_gz_and_window(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    data = rng.normal(size=(6, 7, 5, 3)).astype(np.float32)
    data[..., 2] += 100.0
    path = tmp_path / "vol.nii.gz"
    nib.save(nib.Nifti1Image(data, np.eye(4)), path)
    first = read_image(path)
    check_unit(first)
    assert first.shape == (1, 7, 6)
    np.testing.assert_allclose(first[0], minmax(data[:, :, 2, 0].T[::-1, ::-1]), atol=1e-6)
    last = read_image(path, frame=2)
    np.testing.assert_allclose(last[0], minmax(data[:, :, 2, 2].T[::-1, ::-1]), atol=1e-6)
    with pytest.raises(DataFileError, match="0 to 2"):
        read_image(path, frame=3)
    windowed = read_image(path, frame=2, window=(2.0, 100.0))
    expected = np.clip((data[:, :, 2, 2].T[::-1, ::-1] - 99.0) / 2.0, 0, 1)
    np.testing.assert_allclose(windowed[0], expected, atol=1e-6)


def test_nifti_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "x.nii"
    path.write_text("not a volume" * 50)
    with pytest.raises(DataFileError, match=r"x\.nii.*NIfTI"):
        read_image(path)
    gz = tmp_path / "cut.nii.gz"
    nib.save(nib.load(ANATOMICAL), gz)
    gz.write_bytes(gz.read_bytes()[:2000])
    with pytest.raises(DataFileError, match=r"cut\.nii\.gz"):
        read_image(gz)


# --- Pillow images ---------------------------------------------------------------------------


def test_png_grey_8_and_16_bit(tmp_path: Path) -> None:
    grey8 = np.arange(48, dtype=np.uint8).reshape(6, 8) * 5
    Image.fromarray(grey8).save(tmp_path / "g8.png")
    image = read_image(tmp_path / "g8.png")
    check_unit(image)
    np.testing.assert_allclose(image[0], grey8 / 255.0, atol=1e-6)

    grey16 = (np.arange(48, dtype=np.uint16).reshape(6, 8) * 1300).astype(np.uint16)
    Image.fromarray(grey16).save(tmp_path / "g16.png")
    assert mode_of(tmp_path / "g16.png") in ("I;16", "I")
    image = read_image(tmp_path / "g16.png")
    check_unit(image)
    np.testing.assert_allclose(image[0], grey16 / 65535.0, atol=1e-6)


def test_png_colour_modes(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, size=(5, 7, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    got = read_image(tmp_path / "rgb.png")
    check_unit(got, channels=3)
    np.testing.assert_allclose(got, rgb.transpose(2, 0, 1) / 255.0, atol=1e-6)

    rgba = np.concatenate([rgb, np.full((5, 7, 1), 7, np.uint8)], axis=2)
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "rgba.png")
    np.testing.assert_allclose(read_image(tmp_path / "rgba.png"), got, atol=1e-6)

    Image.fromarray(rgb).convert("P").save(tmp_path / "pal.png")
    assert mode_of(tmp_path / "pal.png") == "P"
    check_unit(read_image(tmp_path / "pal.png"), channels=3)

    Image.fromarray(rgb).convert("LA").save(tmp_path / "la.png")
    la = read_image(tmp_path / "la.png")
    check_unit(la, channels=3)
    np.testing.assert_allclose(la[0], la[2])


def test_jpeg_bmp_tiff(tmp_path: Path) -> None:
    grey = (np.arange(64, dtype=np.uint8).reshape(8, 8) * 3).astype(np.uint8)
    Image.fromarray(grey).save(tmp_path / "a.bmp")
    np.testing.assert_allclose(read_image(tmp_path / "a.bmp")[0], grey / 255.0, atol=1e-6)
    Image.fromarray(grey).convert("RGB").save(tmp_path / "a.jpg", quality=95)
    check_unit(read_image(tmp_path / "a.jpg"), channels=3)
    values = np.linspace(-3.0, 5.0, 30, dtype=np.float32).reshape(5, 6)
    Image.fromarray(values, mode="F").save(tmp_path / "f.tif")
    np.testing.assert_allclose(read_image(tmp_path / "f.tif")[0], minmax(values), atol=1e-6)


def test_bad_image_files(tmp_path: Path) -> None:
    Image.fromarray(np.zeros((64, 64, 3), np.uint8) + 90).save(tmp_path / "full.png")
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataFileError, match=r"cut\.png.*(truncated|corrupt)"):
        read_image(tmp_path / "cut.png")
    (tmp_path / "x.png").write_text("hello")
    with pytest.raises(DataFileError, match=r"x\.png.*cannot be opened"):
        read_image(tmp_path / "x.png")
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(DataFileError, match=r"x\.txt.*'\.txt'.*\.png.*\.nii\.gz.*\.dcm"):
        read_image(tmp_path / "x.txt")
    with pytest.raises(DataFileError, match="does not exist"):
        read_image(tmp_path / "missing.png")
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(DataFileError, match="empty"):
        read_image(tmp_path / "empty.png")
    with pytest.raises(DataFileError, match="folder"):
        read_image(tmp_path)
    with pytest.raises(InvalidInputError, match="width"):
        read_image(tmp_path / "full.png", window=(0.0, 40.0))


# --- prepare ---------------------------------------------------------------------------------


def test_prepare_grey_to_rgb_shrinking() -> None:
    grey = np.random.default_rng(2).random((1, 100, 100), dtype=np.float32)
    out = prepare(grey, 32, 3)
    assert out.shape == (3, 32, 32) and out.dtype == np.uint8
    assert np.array_equal(out[0], out[1]) and np.array_equal(out[0], out[2])
    # area averaging of noise is smooth: far from 0 and 255
    assert 90 < out.mean() < 165 and out.std() < 30


def test_prepare_rgb_to_grey_and_same_size() -> None:
    rgb = np.zeros((3, 16, 16), np.float32)
    rgb[0] = 1.0  # pure red
    out = prepare(rgb, 16, 1)
    assert out.shape == (1, 16, 16) and out.dtype == np.uint8
    assert np.all(out == round(0.299 * 255))
    exact = prepare(np.full((1, 4, 4), 0.5, np.float32), 4, 1)
    assert np.all(exact == 128)


def test_prepare_pads_non_square_centred() -> None:
    wide = np.ones((1, 10, 40), np.float32)
    out = prepare(wide, 40, 1)
    assert out.shape == (1, 40, 40)
    assert np.all(out[0, 15:25] == 255)
    assert np.all(out[0, :15] == 0) and np.all(out[0, 25:] == 0)
    grown = prepare(np.ones((3, 5, 3), np.float32), 20, 3)
    assert grown.shape == (3, 20, 20)
    assert grown[:, 10, 10].tolist() == [255, 255, 255]
    assert grown[:, 10, 0].tolist() == [0, 0, 0]


def test_prepare_rejects_bad_arguments() -> None:
    image = np.zeros((1, 4, 4), np.float32)
    with pytest.raises(InvalidInputError, match="channels"):
        prepare(image, 4, 2)
    with pytest.raises(InvalidInputError, match="size"):
        prepare(image, 0, 1)
    with pytest.raises(InvalidInputError, match="shape"):
        prepare(np.zeros((4, 4, 4), np.float32), 4, 1)


def test_prepare_on_real_dicom() -> None:
    out = prepare(read_image(dcm("CT_small.dcm"), window=WINDOWS["lung"]), 64, 3)
    assert out.shape == (3, 64, 64) and out.dtype == np.uint8 and out.max() > 200


# --- optional dependencies -------------------------------------------------------------------


def test_module_imports_without_the_imaging_extra() -> None:
    code = (
        "import sys\n"
        "for m in ('torch', 'pydicom', 'nibabel', 'PIL'):\n"
        "    sys.modules[m] = None\n"
        "import medai.imaging.io as io\n"
        "from medai.core.errors import MissingExtraError\n"
        "assert io.parse_window('lung') == (1500.0, -600.0)\n"
        "try:\n"
        "    io.read_image(sys.argv[1])\n"
        "except MissingExtraError as exc:\n"
        "    assert 'medai[imaging]' in str(exc), exc\n"
        "else:\n"
        "    raise SystemExit('no MissingExtraError')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(io.__file__).parents[2])}
    result = subprocess.run(
        [sys.executable, "-c", code, str(dcm("CT_small.dcm"))],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_prepare_without_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)
    monkeypatch.setitem(sys.modules, "torch.nn.functional", None)
    with pytest.raises(MissingExtraError, match="imaging"):
        prepare(np.zeros((1, 8, 8), np.float32), 4, 1)
