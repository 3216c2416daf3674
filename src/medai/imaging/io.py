"""Read medical images (PNG/JPEG/BMP/TIFF, DICOM, NIfTI) into float arrays, with clear errors.

Every reader returns a float32 array of shape (C, H, W) with values in [0, 1], C = 1 (grey)
or 3 (RGB), so that one model can learn from any mix of formats; :func:`prepare` then turns
such an array into the uint8 (channels, size, size) tensor a network takes.

Intensities
    * Pillow images are scaled by their pixel type's range (8-bit by 255, 16-bit by 65535),
      floating-point images by their own minimum and maximum.
    * DICOM: the Modality LUT is applied first (``RescaleSlope``/``RescaleIntercept``, so CT
      values are Hounsfield units), then an explicit ``window`` (width, level) if given, else
      the file's own VOI LUT or ``WindowCenter``/``WindowWidth``, then min-max scaling.
      ``MONOCHROME1`` images are inverted so that a high value is always bright.
    * NIfTI: the stored scaling (``scl_slope``/``scl_inter``), then the window or min-max.

Orientation of NIfTI slices
    The volume is read in its closest canonical RAS+ orientation (as
    :func:`nibabel.as_closest_canonical` would give: axis 0 runs to the patient's Right,
    axis 1 to Anterior, axis 2 to Superior), so ``axis=0`` is a sagittal, ``axis=1`` a coronal
    and ``axis=2`` an axial slice whatever the order the file stores its voxels in. The slice is
    then rotated by 90 degrees and shown in the radiological convention that radiology viewers
    use: superior (or anterior, for axial slices) at the top, the patient's right on the
    image's left, and anterior on the left of sagittal slices. In array terms, with ``s`` the
    canonical slice indexed ``s[u, v]`` (u, v the two remaining RAS axes in order), the image
    is ``s.T[::-1, ::-1]``.

Errors
    Every problem with a file raises :class:`~medai.core.errors.DataFileError` naming the file,
    what is wrong and how to fix it; bad arguments raise
    :class:`~medai.core.errors.InvalidInputError`. Messages never contain patient data.

torch, pydicom, nibabel and Pillow are imported only when a function needs them (the
``imaging`` extra); importing this module needs only numpy.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from medai.core.errors import DataFileError, InvalidInputError, require

__all__ = [
    "DICOM_SUFFIXES",
    "IMAGE_SUFFIXES",
    "NIFTI_SUFFIXES",
    "WINDOWS",
    "dicom_patient_id",
    "is_dicom",
    "parse_window",
    "prepare",
    "read_dicom_series",
    "read_image",
]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
NIFTI_SUFFIXES = (".nii", ".nii.gz")
DICOM_SUFFIXES = (".dcm", ".dicom")

#: Named CT windows, name -> (width, level) in Hounsfield units.
WINDOWS: dict[str, tuple[float, float]] = {
    "lung": (1500.0, -600.0),
    "mediastinum": (350.0, 50.0),
    "bone": (1800.0, 400.0),
    "brain": (80.0, 40.0),
}

_WINDOW_FORMS = (
    f"a window name ({', '.join(WINDOWS)}) or 'WIDTH,LEVEL' in Hounsfield units, e.g. '400,40'"
)

# ITU-R BT.601 luma weights (R, G, B), as used by Pillow's convert("L").
_LUMA = (0.299, 0.587, 0.114)

_DECODER_HINTS = (
    "install a decoder plugin, e.g. `pip install pylibjpeg pylibjpeg-libjpeg "
    "pylibjpeg-openjpeg` (JPEG, JPEG-LS, JPEG 2000) or `pip install python-gdcm`, "
    "or decompress the file first (e.g. `gdcmconv --raw in.dcm out.dcm`)"
)


def _lazy(module: str) -> Any:
    """Import an optional dependency of the ``imaging`` extra (fails naming the extra)."""
    return require(module, "imaging")


def _name(path: Path) -> str:
    return repr(str(path))


# ---------------------------------------------------------------------------------------------
# small public helpers


def parse_window(spec: str | None) -> tuple[float, float] | None:
    """Parse a window given on the command line or in a config.

    Parameters
    ----------
    spec : str or None
        None, a name from :data:`WINDOWS` (``"lung"``, ``"mediastinum"``, ``"bone"``,
        ``"brain"``; case-insensitive) or ``"WIDTH,LEVEL"`` in Hounsfield units, e.g.
        ``"400,40"``.

    Returns
    -------
    (float, float) or None
        ``(width, level)``, or None when ``spec`` is None or empty.

    Raises
    ------
    InvalidInputError
        ``spec`` is none of the accepted forms, or the width is not positive.
    """
    if spec is None:
        return None
    if not isinstance(spec, str):
        raise InvalidInputError(f"window must be a string, {_WINDOW_FORMS}; received {spec!r}")
    text = spec.strip().lower()
    if not text:
        return None
    if text in WINDOWS:
        return WINDOWS[text]
    parts = [p.strip() for p in text.split(",")]
    try:
        if len(parts) != 2:
            raise ValueError(spec)
        width, level = float(parts[0]), float(parts[1])
    except ValueError:
        raise InvalidInputError(
            f"window {spec!r} is not understood; expected {_WINDOW_FORMS}"
        ) from None
    return _check_window((width, level), source=repr(spec))


def _check_window(window: Any, *, source: str | None = None) -> tuple[float, float]:
    """Validate a ``(width, level)`` pair; return it as floats."""
    try:
        width, level = (float(v) for v in window)
    except (TypeError, ValueError):
        raise InvalidInputError(
            f"window must be a (width, level) pair of numbers; received {window!r}"
        ) from None
    if not (math.isfinite(width) and math.isfinite(level)) or width <= 0:
        shown = source or repr(window)
        raise InvalidInputError(
            f"window {shown} needs a positive, finite width and a finite level "
            f"(width, level); received width={width:g}, level={level:g}"
        )
    return width, level


def is_dicom(path: Path) -> bool:
    """Tell whether ``path`` is a DICOM file.

    Parameters
    ----------
    path : Path
        Any file path (it need not exist).

    Returns
    -------
    bool
        True when the file carries the ``DICM`` marker at byte 128 (the DICOM Part 10
        preamble) or its name ends in ``.dcm`` or ``.dicom`` (case-insensitive).
    """
    path = Path(path)
    if path.name.lower().endswith(DICOM_SUFFIXES):
        return True
    try:
        with path.open("rb") as fh:
            fh.seek(128)
            return fh.read(4) == b"DICM"
    except OSError:
        return False


# ---------------------------------------------------------------------------------------------
# read_image


def read_image(
    path: str | Path,
    *,
    window: tuple[float, float] | None = None,
    frame: int | None = None,
    axis: int = 2,
    index: int | None = None,
) -> np.ndarray:
    """Read any supported image file into a float array.

    Parameters
    ----------
    path : str or Path
        A PNG/JPEG/BMP/TIFF file, a DICOM file (``.dcm``/``.dicom`` or any name with the
        DICOM preamble) or a NIfTI volume (``.nii``/``.nii.gz``).
    window : (float, float), optional
        ``(width, level)``, e.g. ``WINDOWS["lung"]`` or :func:`parse_window` output. For
        DICOM it applies to the Modality-LUT output (Hounsfield units for CT), for NIfTI to
        the stored values; values are clipped to ``[level - width/2, level + width/2]`` and
        scaled to [0, 1]. Ignored for Pillow images and colour DICOM.
    frame : int, optional
        Multi-frame DICOM: the frame to read (0-based; default the middle frame).
        4D NIfTI: the volume (default 0). Multi-page TIFF: the page (default 0).
    axis : {0, 1, 2}
        NIfTI only: slice across this axis of the volume's canonical RAS+ orientation
        (0 sagittal, 1 coronal, 2 axial; see the module docstring).
    index : int, optional
        NIfTI only: the slice number along ``axis``, counted in RAS+ direction
        (default the middle slice).

    Returns
    -------
    numpy.ndarray
        float32, shape (C, H, W), values in [0, 1]; C = 1 (grey) or 3 (RGB).

    Raises
    ------
    DataFileError
        The file is missing, empty, of an unsupported kind, corrupt or truncated, has no pixel
        data, needs a decoder that is not installed, or ``frame``/``index`` is out of range.
    InvalidInputError
        ``window`` or ``axis`` is malformed.
    MissingExtraError
        A package of the ``imaging`` extra is not installed.
    """
    path = Path(path)
    _check_file(path)
    if window is not None:
        window = _check_window(window)
    name = path.name.lower()
    if name.endswith(NIFTI_SUFFIXES):
        return _read_nifti(path, window=window, frame=frame, axis=axis, index=index)
    if is_dicom(path):
        ds = _read_dicom_dataset(path)
        return _dicom_pixels(ds, path, window=window, frame=frame)
    if name.endswith(IMAGE_SUFFIXES):
        return _read_pillow(path, frame=frame)
    suffix = path.suffix or "(no suffix)"
    raise DataFileError(
        f"{_name(path)} has suffix {suffix!r}, which medai cannot read; supported: "
        f"{', '.join(IMAGE_SUFFIXES + NIFTI_SUFFIXES + DICOM_SUFFIXES)}, or DICOM files of any "
        "name that carry the DICOM preamble. Convert the image to one of these formats"
    )


def _check_file(path: Path) -> None:
    if not path.exists():
        raise DataFileError(f"image file {_name(path)} does not exist; check the path")
    if path.is_dir():
        raise DataFileError(
            f"{_name(path)} is a folder; expected an image file "
            "(use read_dicom_series for a folder of DICOM slices)"
        )
    if path.stat().st_size == 0:
        raise DataFileError(f"image file {_name(path)} is empty (0 bytes); copy it again")


def _minmax(arr: np.ndarray) -> np.ndarray:
    """Scale to [0, 1] by the array's own finite min and max (a constant array gives 0)."""
    arr = np.asarray(arr, dtype=np.float64)
    finite = np.isfinite(arr)
    if not finite.all():
        fill = float(arr[finite].min()) if finite.any() else 0.0
        arr = np.where(finite, arr, fill)
    lo, hi = float(arr.min()), float(arr.max())
    if hi <= lo:
        return np.zeros(arr.shape, dtype=np.float32)
    return ((arr - lo) / (hi - lo)).astype(np.float32)


def _apply_window(arr: np.ndarray, window: tuple[float, float]) -> np.ndarray:
    """Clip to ``[level - width/2, level + width/2]`` and scale to [0, 1]."""
    width, level = window
    lo = level - width / 2.0
    arr = np.nan_to_num(np.asarray(arr, dtype=np.float64), nan=lo)
    return np.clip((arr - lo) / width, 0.0, 1.0).astype(np.float32)


def _frame_error(path: Path, what: str, value: int, count: int) -> DataFileError:
    valid = "0" if count == 1 else f"0 to {count - 1}"
    return DataFileError(
        f"{what} {value} is out of range for {_name(path)}, which has {count} "
        f"{what}{'s' if count != 1 else ''}; valid {what}s are {valid}"
    )


def _pick(path: Path, what: str, value: int | None, count: int, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InvalidInputError(f"{what} must be an integer; received {value!r}")
    if not 0 <= int(value) < count:
        raise _frame_error(path, what, int(value), count)
    return int(value)


# --- Pillow ----------------------------------------------------------------------------------


def _read_pillow(path: Path, *, frame: int | None) -> np.ndarray:
    image_mod = _lazy("PIL.Image")
    ops = _lazy("PIL.ImageOps")
    try:
        img = image_mod.open(path)
    except image_mod.DecompressionBombError as exc:
        raise DataFileError(
            f"{_name(path)} is too large to read safely ({exc}); downscale it first"
        ) from exc
    except Exception as exc:
        raise DataFileError(
            f"{_name(path)} cannot be opened as an image ({type(exc).__name__}); it is "
            f"not a {path.suffix.lower()} image or is corrupt. Re-export or copy the file again"
        ) from exc
    with img:
        n_frames = int(getattr(img, "n_frames", 1))
        page = _pick(path, "frame", frame, n_frames, 0)
        try:
            if page:
                img.seek(page)
            img.load()
            img = ops.exif_transpose(img)
        except Exception as exc:
            raise DataFileError(
                f"{_name(path)} cannot be decoded ({type(exc).__name__}: {exc}); the file is "
                "truncated or corrupt. Copy it again or re-export it"
            ) from exc
        return _pillow_to_array(img)


def _pillow_to_array(img: Any) -> np.ndarray:
    mode = img.mode
    if mode in ("RGB", "RGBA", "RGBX", "RGBa", "P", "PA", "LA", "La", "CMYK", "YCbCr", "HSV"):
        rgb = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
        return np.ascontiguousarray(rgb.transpose(2, 0, 1))
    if mode == "1":
        grey = np.asarray(img, dtype=np.float32)
    elif mode == "LAB":
        grey = np.asarray(img)[..., 0].astype(np.float32) / 255.0
    else:
        raw = np.asarray(img)
        if raw.ndim == 3:  # any other multi-band mode: first band
            raw = raw[..., 0]
        if raw.dtype == np.uint8:
            grey = raw.astype(np.float32) / 255.0
        elif raw.dtype.kind == "u" and raw.dtype.itemsize == 2:  # I;16, I;16B ...
            grey = raw.astype(np.float32) / 65535.0
        elif raw.dtype.kind in "iu":
            # mode "I" (int32) mostly holds 16-bit data: scale by 65535 when it fits
            lo, hi = int(raw.min()), int(raw.max())
            if lo >= 0 and hi <= 65535:
                grey = raw.astype(np.float32) / 65535.0
            else:
                grey = _minmax(raw)
        else:  # "F" (float32) and anything else
            grey = _minmax(raw)
    return np.ascontiguousarray(grey[None], dtype=np.float32)


# --- DICOM -----------------------------------------------------------------------------------


def _read_dicom_dataset(path: Path, *, stop_before_pixels: bool = False) -> Any:
    """dcmread with clear errors; files without the preamble are read with ``force``."""
    pydicom = _lazy("pydicom")
    errors = _lazy("pydicom.errors")
    try:
        return pydicom.dcmread(path, stop_before_pixels=stop_before_pixels)
    except errors.InvalidDicomError:
        pass  # no preamble: maybe an old file without one, try harder below
    except Exception as exc:
        raise DataFileError(
            f"{_name(path)} cannot be read as DICOM ({type(exc).__name__}); the file is "
            "truncated or corrupt. Copy or export it again"
        ) from exc
    ds = None
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=stop_before_pixels, force=True)
        looks_dicom = "SOPClassUID" in ds or ("Rows" in ds and "Columns" in ds)
    except Exception:
        looks_dicom = False
    if not looks_dicom:
        raise DataFileError(
            f"{_name(path)} is not a DICOM file (no 'DICM' marker at byte 128 and no DICOM "
            "elements could be read). Give a DICOM file, or rename it with its real suffix "
            f"({', '.join(IMAGE_SUFFIXES + NIFTI_SUFFIXES)})"
        )
    return ds


def _has_pixels(ds: Any) -> bool:
    return any(k in ds for k in ("PixelData", "FloatPixelData", "DoubleFloatPixelData"))


def _check_pixels_decodable(ds: Any, path: Path) -> None:
    """Fail clearly when there is no pixel data or no installed decoder for it."""
    if not _has_pixels(ds):
        size = path.stat().st_size
        raise DataFileError(
            f"{_name(path)} has no pixel data: the PixelData element (7FE0,0010) is missing. "
            "It is either a DICOM object without an image (a structured report, presentation "
            f"state, DICOMDIR ...) or a file cut short (it is {size} bytes long); give an image "
            "file, or copy or export it again"
        )
    uid = _lazy("pydicom.uid")
    meta = getattr(ds, "file_meta", None)
    ts = meta.get("TransferSyntaxUID") if meta is not None else None
    if ts is None:
        # read with force and no file meta: infer the encoding pydicom read it with
        implicit, little = getattr(ds, "original_encoding", (True, True))
        if implicit is None:
            implicit, little = True, True
        if meta is None:
            ds.file_meta = _lazy("pydicom").FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = (
            uid.ImplicitVRLittleEndian
            if implicit
            else (uid.ExplicitVRLittleEndian if little else uid.ExplicitVRBigEndian)
        )
        return
    ts = uid.UID(str(ts))
    if not ts.is_compressed:
        return
    pixels = _lazy("pydicom.pixels")
    try:
        decoder = pixels.get_decoder(ts)
    except NotImplementedError:
        raise DataFileError(
            f"{_name(path)} uses transfer syntax {ts.name or str(ts)!r}, which no installed "
            f"DICOM decoder supports; decompress the file first (e.g. `gdcmconv --raw in.dcm "
            "out.dcm` or `dcmdjpeg`)"
        ) from None
    if not decoder.is_available:
        missing = "; ".join(decoder.missing_dependencies) or "no plugin"
        raise DataFileError(
            f"{_name(path)} is compressed with {ts.name!r} and no decoder for it is installed "
            f"(plugins: {missing}); {_DECODER_HINTS}"
        )


def _decode_error(ds: Any, path: Path, exc: Exception) -> DataFileError:
    """A clear error for an exception raised while pydicom decoded the pixel data."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    detail = " ".join(lines)[:300]
    kind = type(exc).__name__
    ts = ds.file_meta.get("TransferSyntaxUID") if hasattr(ds, "file_meta") else None
    if isinstance(exc, AttributeError) and "Missing required element" in detail:
        return DataFileError(
            f"{_name(path)} lacks an image attribute needed to decode its pixels ({detail}); "
            "the file was written incompletely. Export it again from the source system"
        )
    if ts is not None and getattr(ts, "is_compressed", False):
        return DataFileError(
            f"the {ts.name or str(ts)!r} pixel data of {_name(path)} could not be decoded "
            f"({kind}: {detail}); the file is corrupt, or the installed decoder does not "
            f"support this variant (e.g. 12-bit JPEG). To try another decoder, {_DECODER_HINTS}"
        )
    return DataFileError(
        f"the pixel data of {_name(path)} cannot be decoded ({kind}: {detail}); the file is "
        "truncated or corrupt, or its image attributes (Rows, Columns, BitsAllocated ...) do "
        "not match its pixel data. Copy or export it again"
    )


def _frame_rescale(ds: Any, frame: int) -> tuple[float, float] | None:
    """RescaleSlope/Intercept of an enhanced multi-frame file (functional groups), if any."""
    if "RescaleSlope" in ds or "RescaleIntercept" in ds or "ModalityLUTSequence" in ds:
        return None
    for seq_name, item_index in (
        ("PerFrameFunctionalGroupsSequence", frame),
        ("SharedFunctionalGroupsSequence", 0),
    ):
        groups = ds.get(seq_name)
        if not groups or item_index >= len(groups):
            continue
        transform = groups[item_index].get("PixelValueTransformationSequence")
        if transform:
            item = transform[0]
            return float(item.get("RescaleSlope", 1.0)), float(item.get("RescaleIntercept", 0.0))
    return None


def _dicom_pixels(
    ds: Any, path: Path, *, window: tuple[float, float] | None, frame: int | None
) -> np.ndarray:
    """Decode one frame of a dataset into (C, H, W) float32 in [0, 1]."""
    pixels = _lazy("pydicom.pixels")
    _check_pixels_decodable(ds, path)
    try:
        n_frames = int(ds.get("NumberOfFrames") or 1)
    except (TypeError, ValueError):
        n_frames = 1
    n_frames = max(n_frames, 1)
    chosen = _pick(path, "frame", frame, n_frames, n_frames // 2)
    try:
        if n_frames > 1:
            ds.pixel_array_options(index=chosen)
        arr = np.asarray(ds.pixel_array)
    except Exception as exc:
        raise _decode_error(ds, path, exc) from exc
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).upper()
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    if arr.ndim == (4 if samples == 3 else 3):
        arr = arr[chosen]  # all frames were decoded
    if photometric == "PALETTE COLOR":
        rgb = np.asarray(pixels.apply_color_lut(arr, ds))
        scale = float(np.iinfo(rgb.dtype).max) if rgb.dtype.kind in "iu" else 1.0
        out = np.clip(rgb.astype(np.float64) / scale, 0.0, 1.0)
        return np.ascontiguousarray(out.transpose(2, 0, 1), dtype=np.float32)
    if samples == 3:
        # RGB, or YBR_* that pydicom has converted to RGB already
        if arr.dtype.kind in "iu":
            bits = int(ds.get("BitsStored") or arr.dtype.itemsize * 8)
            out = np.clip(arr.astype(np.float64) / float(2**bits - 1), 0.0, 1.0)
        else:
            out = _minmax(arr)
        return np.ascontiguousarray(out.transpose(2, 0, 1), dtype=np.float32)
    rescale = _frame_rescale(ds, chosen)
    if rescale is not None:
        values = arr.astype(np.float64) * rescale[0] + rescale[1]
    else:
        values = np.asarray(pixels.apply_modality_lut(arr, ds), dtype=np.float64)
    if window is not None:
        grey = _apply_window(values, window)
    elif "VOILUTSequence" in ds or ("WindowCenter" in ds and "WindowWidth" in ds):
        try:
            grey = _minmax(pixels.apply_voi_lut(values, ds))
        except Exception:  # a malformed VOI LUT: fall back to the full range
            grey = _minmax(values)
    else:
        grey = _minmax(values)
    if photometric == "MONOCHROME1":
        grey = 1.0 - grey
    return np.ascontiguousarray(grey[None], dtype=np.float32)


# --- NIfTI -----------------------------------------------------------------------------------


def _read_nifti(
    path: Path,
    *,
    window: tuple[float, float] | None,
    frame: int | None,
    axis: int,
    index: int | None,
) -> np.ndarray:
    nib = _lazy("nibabel")
    if isinstance(axis, bool) or axis not in (0, 1, 2):
        raise InvalidInputError(
            f"axis must be 0 (sagittal), 1 (coronal) or 2 (axial); received {axis!r}"
        )
    try:
        img = nib.load(str(path))
        shape = tuple(int(n) for n in img.shape)
        affine = np.asarray(img.affine, dtype=np.float64)
    except Exception as exc:
        raise DataFileError(
            f"{_name(path)} cannot be read as NIfTI ({type(exc).__name__}); the file is not "
            "a NIfTI-1/2 image or is truncated or corrupt. Copy or export it again"
        ) from exc
    if len(shape) < 2 or 0 in shape:
        raise DataFileError(
            f"{_name(path)} holds an image of shape {shape}; expected a 2D, 3D or 4D volume"
        )
    spatial = (*shape[:3], *(1,) * (3 - min(len(shape), 3)))
    if len(shape) > 3:
        volume = _pick(path, "frame", frame, shape[3], 0)
    else:
        volume = _pick(path, "frame", frame, 1, 0)
    ornt = _orientation(nib, affine)
    arr_axis = int(np.flatnonzero(ornt[:, 0] == axis)[0])
    count = spatial[arr_axis]
    try:
        chosen = _pick(path, "index", index, count, count // 2)
    except DataFileError as exc:
        raise DataFileError(f"{exc} (along axis {axis})") from None
    stored = count - 1 - chosen if ornt[arr_axis, 1] < 0 else chosen
    slicer: list[Any] = [slice(None)] * 3
    slicer[arr_axis] = stored
    if len(shape) > 3:
        slicer += [volume] + [0] * (len(shape) - 4)
    try:
        if len(shape) == 2:
            raw = np.asanyarray(img.dataobj)[..., None][tuple(slicer)]
        else:
            raw = np.asanyarray(img.dataobj[tuple(slicer)])
        if raw.dtype.names is not None or raw.dtype.kind == "c":
            raise DataFileError(
                f"{_name(path)} stores {raw.dtype} voxels (colour or complex); medai reads "
                "scalar NIfTI volumes only. Convert it to a scalar volume"
            )
        data = np.asarray(raw, dtype=np.float64)
    except DataFileError:
        raise
    except Exception as exc:
        raise DataFileError(
            f"the voxels of {_name(path)} cannot be read ({type(exc).__name__}); the file is "
            "truncated or corrupt. Copy or export it again"
        ) from exc
    # the two remaining array axes, in order, flipped and ordered into RAS+
    rest = [a for a in range(3) if a != arr_axis]
    for k, a in enumerate(rest):
        if ornt[a, 1] < 0:
            data = np.flip(data, axis=k)
    if ornt[rest[0], 0] > ornt[rest[1], 0]:
        data = data.T
    view = data.T[::-1, ::-1]  # radiological view: up = S (or A), image left = patient R (or A)
    grey = _apply_window(view, window) if window is not None else _minmax(view)
    return np.ascontiguousarray(grey[None], dtype=np.float32)


def _orientation(nib: Any, affine: np.ndarray) -> np.ndarray:
    """``io_orientation`` of the affine: (3, 2) rows ``[RAS axis, +1/-1]`` per array axis."""
    identity = np.array([[0.0, 1.0], [1.0, 1.0], [2.0, 1.0]])
    try:
        ornt = np.asarray(nib.orientations.io_orientation(affine), dtype=np.float64)[:3]
    except Exception:
        return identity
    if ornt.shape != (3, 2) or not np.isfinite(ornt).all():
        return identity
    if sorted(ornt[:, 0].astype(int).tolist()) != [0, 1, 2]:
        return identity
    return ornt


# ---------------------------------------------------------------------------------------------
# DICOM series and metadata


def read_dicom_series(
    folder: str | Path, *, window: tuple[float, float] | None = None
) -> tuple[np.ndarray, list[Path]]:
    """Read the DICOM slices of one series from a folder into a stack.

    Parameters
    ----------
    folder : str or Path
        A folder holding the single-frame DICOM files of one series (not searched
        recursively). Files that are not DICOM (no preamble and no ``.dcm``/``.dicom``
        suffix) and DICOM files without pixel data (DICOMDIR, reports) are ignored.
    window : (float, float), optional
        ``(width, level)`` applied to every slice as in :func:`read_image`; otherwise each
        slice is scaled on its own (its VOI LUT / window, else min-max).

    Returns
    -------
    images : numpy.ndarray
        float32, shape (N, 1, H, W), values in [0, 1]; colour slices are turned grey with the
        ITU-R 601 luma weights.
    paths : list of Path
        The N files, in slice order: by InstanceNumber, then the z of ImagePositionPatient,
        then file name.

    Raises
    ------
    DataFileError
        The folder is missing or holds no DICOM image, a ``.dcm`` file is not readable, the
        files belong to more than one series, a file is multi-frame, or slices differ in size.
    """
    folder = Path(folder)
    if not folder.exists():
        raise DataFileError(f"DICOM folder {_name(folder)} does not exist; check the path")
    if not folder.is_dir():
        raise DataFileError(
            f"{_name(folder)} is a file; read_dicom_series expects a folder of DICOM slices "
            "(use read_image for one file)"
        )
    if window is not None:
        window = _check_window(window)
    found: list[tuple[Any, Path]] = []
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        if path.name.startswith(".") or not is_dicom(path) or path.stat().st_size == 0:
            continue
        ds = _read_dicom_dataset(path)
        if _has_pixels(ds):
            found.append((ds, path))
    if not found:
        raise DataFileError(
            f"folder {_name(folder)} holds no DICOM image files (files with the DICOM preamble "
            "or a .dcm/.dicom suffix and pixel data); check the folder"
        )
    series: dict[str, int] = {}
    for ds, _ in found:
        uid = str(ds.get("SeriesInstanceUID", "") or "")
        series[uid] = series.get(uid, 0) + 1
    if len(series) > 1:
        counts = ", ".join(str(n) for n in sorted(series.values(), reverse=True))
        raise DataFileError(
            f"folder {_name(folder)} holds {len(series)} DICOM series (with {counts} files); "
            "expected one series per folder. Move each series into its own folder"
        )
    found.sort(key=lambda item: _slice_key(item[0], item[1]))
    slices: list[np.ndarray] = []
    for ds, path in found:
        try:
            n_frames = int(ds.get("NumberOfFrames") or 1)
        except (TypeError, ValueError):
            n_frames = 1
        if n_frames > 1:
            raise DataFileError(
                f"{_name(path)} is a multi-frame DICOM file ({n_frames} frames); "
                "read_dicom_series expects one slice per file. Read its frames with "
                "read_image(path, frame=i)"
            )
        image = _dicom_pixels(ds, path, window=window, frame=None)
        if image.shape[0] == 3:
            image = np.tensordot(np.asarray(_LUMA, dtype=np.float32), image, axes=1)[None]
        if slices and image.shape != slices[0].shape:
            raise DataFileError(
                f"{_name(path)} is {image.shape[1]}x{image.shape[2]} pixels but "
                f"{_name(found[0][1])} is {slices[0].shape[1]}x{slices[0].shape[2]}; all "
                "slices of a series must have the same size"
            )
        slices.append(image.astype(np.float32, copy=False))
    return np.stack(slices).astype(np.float32, copy=False), [p for _, p in found]


def _slice_key(ds: Any, path: Path) -> tuple[int, float, int, float, str]:
    """Sort key: InstanceNumber, then ImagePositionPatient z, then name (missing last)."""
    try:
        number = float(ds.get("InstanceNumber"))
        has_number = 0 if math.isfinite(number) else 1
    except (TypeError, ValueError):
        number, has_number = 0.0, 1
    try:
        z = float(ds.get("ImagePositionPatient")[2])
        has_z = 0 if math.isfinite(z) else 1
    except (TypeError, ValueError, IndexError):
        z, has_z = 0.0, 1
    return (
        has_number,
        number if has_number == 0 else 0.0,
        has_z,
        z if has_z == 0 else 0.0,
        path.name,
    )


def dicom_patient_id(path: str | Path) -> str | None:
    """Return the PatientID of a DICOM file (for patient-level splits).

    Only the header is read (``stop_before_pixels``).

    Parameters
    ----------
    path : str or Path
        A DICOM file.

    Returns
    -------
    str or None
        The PatientID with surrounding spaces stripped, or None when it is absent or empty.

    Raises
    ------
    DataFileError
        The file is missing or not readable as DICOM.
    """
    path = Path(path)
    _check_file(path)
    ds = _read_dicom_dataset(path, stop_before_pixels=True)
    value = ds.get("PatientID")
    text = str(value).strip() if value is not None else ""
    return text or None


# ---------------------------------------------------------------------------------------------
# prepare


def prepare(image: np.ndarray, size: int, channels: int) -> np.ndarray:
    """Turn a read image into the square uint8 array a network takes.

    The image is padded with zeros to a centred square (keeping its aspect ratio), resized
    with antialiasing (area averaging when shrinking, bilinear when enlarging) and converted
    to ``channels`` (grey -> RGB by repeating, RGB -> grey by the ITU-R 601 luma weights
    0.299, 0.587, 0.114).

    Parameters
    ----------
    image : numpy.ndarray
        Shape (C, H, W) with C = 1 or 3 (or (H, W), taken as grey), values in [0, 1]
        (values outside are clipped), as :func:`read_image` returns.
    size : int
        Side of the output square, in pixels.
    channels : {1, 3}
        Channels of the output.

    Returns
    -------
    numpy.ndarray
        uint8, shape (channels, size, size), ``round(255 * value)``.

    Raises
    ------
    InvalidInputError
        ``image`` has another shape, or ``size``/``channels`` is invalid.
    MissingExtraError
        torch is not installed.
    """
    if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 1:
        raise InvalidInputError(f"size must be a positive number of pixels; received {size!r}")
    if isinstance(channels, bool) or channels not in (1, 3):
        raise InvalidInputError(f"channels must be 1 (grey) or 3 (RGB); received {channels!r}")
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[0] not in (1, 3) or arr.shape[1] < 1 or arr.shape[2] < 1:
        raise InvalidInputError(
            f"image must have shape (C, H, W) with C = 1 or 3; received shape {arr.shape}"
        )
    if arr.dtype.kind not in "fiub":
        raise InvalidInputError(f"image must hold numbers in [0, 1]; received dtype {arr.dtype}")
    arr = np.clip(np.nan_to_num(arr.astype(np.float32), nan=0.0), 0.0, 1.0)
    if channels == 1 and arr.shape[0] == 3:
        arr = np.tensordot(np.asarray(_LUMA, dtype=np.float32), arr, axes=1)[None]
    _, h, w = arr.shape
    side = max(h, w)
    if h != w:
        square = np.zeros((arr.shape[0], side, side), dtype=np.float32)
        top, left = (side - h) // 2, (side - w) // 2
        square[:, top : top + h, left : left + w] = arr
        arr = square
    if side != size:
        torch = _lazy("torch")
        functional = _lazy("torch.nn.functional")
        tensor = torch.from_numpy(np.ascontiguousarray(arr))[None]
        if side > size:
            tensor = functional.interpolate(tensor, size=(size, size), mode="area")
        else:
            tensor = functional.interpolate(
                tensor, size=(size, size), mode="bilinear", align_corners=False
            )
        arr = tensor[0].numpy()
    if channels == 3 and arr.shape[0] == 1:
        arr = np.repeat(arr, 3, axis=0)
    out = np.rint(np.clip(arr, 0.0, 1.0) * 255.0)
    return np.ascontiguousarray(out, dtype=np.uint8)
