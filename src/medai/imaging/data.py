"""Labelled image sets: class folders, CSV manifests, MedMNIST ``.npz`` files and downloads.

Every loader returns an :class:`ImageSet`: one uint8 array of same-sized images
``(N, C, H, W)``, their labels, the class names and the task, plus what is known about each
image (patient id, predefined split, source file) and which files were left out and why.

========================  =================================================================
source                    loader
========================  =================================================================
folder of class folders   :func:`load_folder` (PNG, JPEG, BMP, TIFF, DICOM, NIfTI)
CSV manifest              :func:`load_manifest` (``path,label[,patient_id]``; multi-label)
MedMNIST-style ``.npz``   :func:`load_npz` (``train_images``, ``train_labels``, ``val_*``...)
MedMNIST by name          :func:`load_medmnist` (checksummed download through the registry)
any of the above          :func:`load_images`
========================  =================================================================

Files are read with :mod:`medai.imaging.io` and resized with its ``prepare``. Files that are
not images (``notes.txt``, ``.DS_Store``) and image files that cannot be decoded are never
dropped silently: they are listed in :attr:`ImageSet.skipped` with the reason, and loading fails
if more than half of the image files cannot be read. Long loads report progress through an
optional ``progress(step, done, total)`` callback; nothing is printed.

Examples
--------
>>> from medai.imaging.data import load_images
>>> data = load_images("xrays/", size=64)  # doctest: +SKIP
>>> data.images.shape, data.classes, data.class_counts()  # doctest: +SKIP
((120, 1, 64, 64), ['normal', 'pneumonia'], {'normal': 60, 'pneumonia': 60})
"""

from __future__ import annotations

import dataclasses
import re
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from medai.core.errors import DataFileError, DatasetError, InvalidInputError

__all__ = [
    "NPZ_KEYS",
    "SPLITS",
    "TASKS",
    "ImageProgress",
    "ImageSet",
    "load_folder",
    "load_images",
    "load_manifest",
    "load_medmnist",
    "load_npz",
]

ImageProgress = Callable[[str, int, int], None]
"""``progress(step, done, total)``: what is being done, how many items are done, of how many
(``total`` is 0 while a download's length is unknown)."""

Window = tuple[float, float] | str | None
"""A CT/MR intensity window: ``(width, level)``, a name (``"lung"``, ``"bone"`` ...) or
``"WIDTH,LEVEL"`` (see :func:`medai.imaging.io.parse_window`); None uses each file's own."""

TASKS = ("binary", "multiclass", "multilabel")
"""Tasks an :class:`ImageSet` can describe."""

SPLITS = ("train", "val", "test")
"""Split names, in the order :func:`load_npz` concatenates them."""

NPZ_KEYS = tuple(f"{split}_{kind}" for split in SPLITS for kind in ("images", "labels"))
"""Arrays a MedMNIST-style ``.npz`` file must hold."""

_MAX_NAMED = 3  # how many bad files an error message names


@dataclass
class ImageSet:
    """Labelled images of one size, ready for training or evaluation.

    Attributes
    ----------
    images : numpy.ndarray of uint8, shape (N, C, H, W)
        The images; ``C`` is 1 (grey) or 3 (RGB); all the same size.
    labels : numpy.ndarray
        ``binary`` / ``multiclass``: int64, shape (N,), class indices into :attr:`classes`.
        ``multilabel``: uint8, shape (N, K) of 0/1, one column per entry of :attr:`classes`.
    classes : list of str
        Class names (multilabel: finding names), in label-index order.
    task : {"binary", "multiclass", "multilabel"}
        ``binary`` when there are exactly two mutually exclusive classes.
    groups : numpy.ndarray of str, shape (N,), optional
        Patient id of each image, when the source gives one (DICOM ``PatientID`` or a
        manifest's ``patient_id`` column). Images without one get a group of their own
        (``"file:<path>"``). None when no image has a patient id.
    split : numpy.ndarray of str, shape (N,), optional
        ``"train"``, ``"val"`` or ``"test"`` per image, when the source defines splits (npz).
    paths : list of str, optional
        Source file of each image, when loaded from files.
    source : str
        Where the set came from (folder, file or dataset name).
    skipped : list of (str, str)
        ``(file, reason)`` for every file left out.
    """

    images: np.ndarray
    labels: np.ndarray
    classes: list[str]
    task: str
    groups: np.ndarray | None = None
    split: np.ndarray | None = None
    paths: list[str] | None = None
    source: str = ""
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        images = np.asarray(self.images)
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1] not in (1, 3):
            raise InvalidInputError(
                f"ImageSet.images must be a uint8 array (N, C, H, W) with C 1 or 3; received "
                f"dtype {images.dtype} and shape {images.shape}"
            )
        self.images = images
        self.classes = [str(c) for c in self.classes]
        n, k = len(images), len(self.classes)
        if self.task not in TASKS:
            raise InvalidInputError(
                f"ImageSet.task {self.task!r} is not valid; expected one of {list(TASKS)}"
            )
        if k < 2 or len(set(self.classes)) != k:
            raise InvalidInputError(
                f"ImageSet needs at least two distinct class names; received {self.classes}"
            )
        if self.task == "binary" and k != 2:
            raise InvalidInputError(f"a binary ImageSet needs 2 classes; received {k}")
        labels = np.asarray(self.labels)
        if self.task == "multilabel":
            if labels.shape != (n, k) or not np.isin(labels, (0, 1)).all():
                raise InvalidInputError(
                    f"multilabel ImageSet.labels must be 0/1 of shape ({n}, {k}); received "
                    f"shape {labels.shape}"
                )
            self.labels = labels.astype(np.uint8)
        else:
            if labels.shape != (n,):
                raise InvalidInputError(
                    f"ImageSet.labels must have shape ({n},); received {labels.shape}"
                )
            if n and (labels.min() < 0 or labels.max() >= k):
                raise InvalidInputError(
                    f"ImageSet.labels must be class indices 0..{k - 1}; received values "
                    f"{int(labels.min())}..{int(labels.max())}"
                )
            self.labels = labels.astype(np.int64, copy=False)
        for name in ("groups", "split"):
            value = getattr(self, name)
            if value is not None:
                value = np.asarray(value).astype(str)
                if value.shape != (n,):
                    raise InvalidInputError(
                        f"ImageSet.{name} must have shape ({n},); received {value.shape}"
                    )
                setattr(self, name, value)
        if self.paths is not None:
            self.paths = [str(p) for p in self.paths]
            if len(self.paths) != n:
                raise InvalidInputError(
                    f"ImageSet.paths must list {n} files; received {len(self.paths)}"
                )

    def __len__(self) -> int:
        return len(self.images)

    @property
    def n_channels(self) -> int:
        """Channels per image: 1 (grey) or 3 (RGB)."""
        return int(self.images.shape[1])

    @property
    def size(self) -> int:
        """Image height in pixels (images are square when loaded from files or MedMNIST)."""
        return int(self.images.shape[2])

    def subset(self, idx: Sequence[int] | np.ndarray) -> ImageSet:
        """Return the images at ``idx`` (integer indices or a boolean mask of length N).

        Parameters
        ----------
        idx : array-like of int, shape (M,), or of bool, shape (N,)

        Returns
        -------
        ImageSet
            The same classes, task, source and skipped list; images, labels, groups, split
            and paths restricted to ``idx`` (in its order).
        """
        index = np.asarray(idx)
        if index.dtype == bool:
            if index.shape != (len(self),):
                raise InvalidInputError(
                    f"a boolean mask for subset() must have shape ({len(self)},); received "
                    f"{index.shape}"
                )
            index = np.flatnonzero(index)
        elif index.size == 0:
            index = index.astype(np.int64)
        elif not np.issubdtype(index.dtype, np.integer):
            raise InvalidInputError(
                f"subset() expects integer indices or a boolean mask; received dtype {index.dtype}"
            )
        index = index.reshape(-1)
        if index.size and (index.min() < -len(self) or index.max() >= len(self)):
            raise InvalidInputError(
                f"subset() index out of range for {len(self)} images: "
                f"{int(index.min())}..{int(index.max())}"
            )
        return ImageSet(
            images=self.images[index],
            labels=self.labels[index],
            classes=list(self.classes),
            task=self.task,
            groups=None if self.groups is None else self.groups[index],
            split=None if self.split is None else self.split[index],
            paths=None if self.paths is None else [self.paths[int(i)] for i in index],
            source=self.source,
            skipped=list(self.skipped),
        )

    def class_counts(self) -> dict[str, int]:
        """Images per class (multilabel: images positive for each finding), every class listed.

        Returns
        -------
        dict of str to int
        """
        if self.task == "multilabel":
            counts = self.labels.astype(np.int64).sum(axis=0)
        else:
            counts = np.bincount(self.labels, minlength=len(self.classes))
        return {name: int(c) for name, c in zip(self.classes, counts, strict=True)}


# ---------------------------------------------------------------------------------------------
# reading files


def _io() -> Any:
    """Import :mod:`medai.imaging.io` (it imports the imaging extra's packages lazily)."""
    import importlib

    return importlib.import_module("medai.imaging.io")


def _image_kind(path: Path, io: Any) -> tuple[bool, bool, str]:
    """Return ``(is_image, is_dicom, reason_if_not)`` for a file found in a folder."""
    name = path.name.lower()
    if name.startswith("."):
        return False, False, "hidden file, not an image"
    if name.endswith(tuple(io.IMAGE_SUFFIXES) + tuple(io.NIFTI_SUFFIXES)):
        return True, bool(io.is_dicom(path)), ""
    if io.is_dicom(path):
        return True, True, ""
    suffix = path.suffix or "(no suffix)"
    known = ", ".join(
        sorted({*io.IMAGE_SUFFIXES, *io.NIFTI_SUFFIXES, *getattr(io, "DICOM_SUFFIXES", ())})
    )
    return (
        False,
        False,
        f"not an image: suffix {suffix!r} is none of {known} and the file is not DICOM",
    )


def _read_images(
    files: Sequence[Path],
    *,
    size: int,
    channels: int | None,
    window: Window,
    progress: ImageProgress | None,
    where: str,
) -> tuple[list[np.ndarray | None], list[tuple[str, str]]]:
    """Read and resize ``files``; return one uint8 (C, size, size) array (or None) per file.

    Unreadable files are returned as None and listed with the reason. Raises if more than
    half of the files fail, or if ``channels`` is None and grey and RGB images are mixed.
    """
    _check_size(size, channels)
    io = _io()
    if isinstance(window, str):
        window = io.parse_window(window)
    out: list[np.ndarray | None] = []
    skipped: list[tuple[str, str]] = []
    first_of: dict[int, Path] = {}
    total = len(files)
    if progress is not None:
        progress("reading images", 0, total)
    for done, path in enumerate(files, start=1):
        try:
            image = io.read_image(path, window=window)
            c = int(image.shape[0])
            prepared = io.prepare(image, size, channels if channels is not None else c)
        except (DataFileError, OSError) as exc:  # a bad file; bad arguments propagate
            skipped.append((str(path), f"cannot be read as an image: {exc}"))
            out.append(None)
        else:
            first_of.setdefault(c, path)
            out.append(np.asarray(prepared, dtype=np.uint8))
        if progress is not None:
            progress("reading images", done, total)
    failed = sum(item is None for item in out)
    if total and 2 * failed > total:
        named = "; ".join(f"{Path(f).name}: {why}" for f, why in skipped[:_MAX_NAMED])
        raise DataFileError(
            f"{failed} of {total} image files in {where} could not be read (more than half), "
            f"e.g. {named}. Check that the files are images medai reads (PNG, JPEG, BMP, TIFF, "
            "DICOM, NIfTI) and not truncated"
        )
    if channels is None and len(first_of) > 1:
        kinds = ", ".join(
            f"{str(first_of[c])!r} has {c} channel{'s' if c > 1 else ''}"
            f" ({'grey' if c == 1 else 'RGB' if c == 3 else 'other'})"
            for c in sorted(first_of)
        )
        raise DataFileError(
            f"images in {where} have different channel counts: {kinds}. Pass channels=1 "
            "(grey) or channels=3 (RGB) (CLI: --channels 1 or 3) to convert all of them"
        )
    return out, skipped


def _stack(images: Sequence[np.ndarray | None]) -> np.ndarray:
    """Stack the images that were read, shape (N, C, H, W) uint8."""
    kept = [image for image in images if image is not None]
    return np.stack(kept).astype(np.uint8, copy=False)


def _check_size(size: int, channels: int | None) -> None:
    if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 1:
        raise InvalidInputError(f"size must be a positive number of pixels; received {size!r}")
    if channels is not None and channels not in (1, 3):
        raise InvalidInputError(f"channels must be 1, 3 or None; received {channels!r}")


def _patient_groups(ids: Sequence[str | None], paths: Sequence[str]) -> np.ndarray | None:
    """Patient id per image, ``"file:<path>"`` where unknown; None if no id is known."""
    if not any(ids):
        return None
    return np.array(
        [pid if pid else f"file:{path}" for pid, path in zip(ids, paths, strict=True)],
        dtype=str,
    )


def _dicom_patient(path: Path, is_dicom: bool, io: Any) -> str | None:
    if not is_dicom:
        return None
    try:
        pid = io.dicom_patient_id(path)
    except (OSError, ValueError):
        return None
    pid = str(pid).strip() if pid is not None else ""
    return pid or None


def _task_for(n_classes: int, multilabel: bool) -> str:
    if multilabel:
        return "multilabel"
    return "binary" if n_classes == 2 else "multiclass"


# ---------------------------------------------------------------------------------------------
# folders


def load_folder(
    path: str | Path,
    *,
    size: int,
    channels: int | None = None,
    window: Window = None,
    progress: ImageProgress | None = None,
) -> ImageSet:
    """Load a folder holding one sub-folder of images per class.

    ``root/normal/a.png``, ``root/pneumonia/b.dcm`` ... Class names are the sub-folder names,
    sorted. Sub-folders of a class folder are searched too (e.g. one folder per patient).
    Files of any kind :func:`medai.imaging.io.read_image` reads are accepted, DICOM with or
    without a ``.dcm`` suffix. Other files (``notes.txt``, ``.DS_Store``) and files directly in
    ``root`` are left out and listed in :attr:`ImageSet.skipped`; so are image files that cannot
    be decoded.

    Parameters
    ----------
    path : str or Path
        The root folder.
    size : int
        Side of the square output images, in pixels.
    channels : {1, 3}, optional
        Convert every image to grey (1) or RGB (3). None keeps the images' own channel count,
        which must then be the same for all.
    window : (float, float) or str, optional
        Intensity window for DICOM and NIfTI files: ``(width, level)`` (e.g. ``(400, 40)``),
        a name from :data:`medai.imaging.io.WINDOWS` (``"lung"``, ``"bone"`` ...) or the text
        ``"WIDTH,LEVEL"``. None uses each file's own window, else its full range.
    progress : callable, optional
        ``progress(step, done, total)`` while files are read.

    Returns
    -------
    ImageSet
        ``images`` uint8 (N, C, size, size); ``labels`` int64 (N,); ``paths``; ``groups`` from
        DICOM ``PatientID`` when any file has one.

    Raises
    ------
    DataFileError
        ``path`` is not a folder; fewer than two class folders; a class folder holds no
        readable image (it is named); grey and RGB images mixed without ``channels`` (one file
        of each kind is named); more than half of the image files cannot be read.
    """
    root = Path(path)
    if not root.is_dir():
        raise DataFileError(
            f"{str(root)!r} is not a folder; expected a folder with one sub-folder of images per "
            "class (e.g. data/normal/*.png, data/pneumonia/*.png)"
        )
    io = _io()
    skipped: list[tuple[str, str]] = []
    class_dirs: list[Path] = []
    for entry in sorted(root.iterdir()):
        if entry.is_dir() and not entry.name.startswith("."):
            class_dirs.append(entry)
        elif entry.is_file():
            skipped.append((str(entry), "not inside a class folder"))
    if len(class_dirs) < 2:
        found = [d.name for d in class_dirs]
        raise DataFileError(
            f"{str(root)!r} holds {len(class_dirs)} class folder(s) {found}; expected at least "
            "two sub-folders, one per class, each holding that class's images"
        )
    files: list[Path] = []
    file_class: list[int] = []
    dicom: list[bool] = []
    for index, folder in enumerate(class_dirs):
        found_images = 0
        others: list[Path] = []
        for file in sorted(p for p in folder.rglob("*") if p.is_file()):
            if any(part.startswith(".") for part in file.relative_to(folder).parts[:-1]):
                skipped.append((str(file), "inside a hidden folder"))
                continue
            is_image, is_dcm, reason = _image_kind(file, io)
            if not is_image:
                skipped.append((str(file), reason))
                others.append(file)
                continue
            files.append(file)
            file_class.append(index)
            dicom.append(is_dcm)
            found_images += 1
        if not found_images:
            extra = (
                f" (only {len(others)} other file(s), e.g. {others[0].name!r}, which are not "
                "images)"
                if others
                else ""
            )
            raise DataFileError(
                f"class folder {str(folder)!r} holds no image files{extra}; add its images or "
                "remove the folder"
            )
    images, bad = _read_images(
        files, size=size, channels=channels, window=window, progress=progress, where=str(root)
    )
    skipped.extend(bad)
    keep = [i for i, image in enumerate(images) if image is not None]
    for index, folder in enumerate(class_dirs):
        if not any(file_class[i] == index for i in keep):
            reasons = [why for f, why in bad if Path(f).is_relative_to(folder)]
            raise DataFileError(
                f"none of the image files in class folder {str(folder)!r} could be read, e.g. "
                f"{reasons[0] if reasons else 'unknown reason'}"
            )
    paths = [str(files[i]) for i in keep]
    ids = [_dicom_patient(files[i], dicom[i], io) for i in keep]
    return ImageSet(
        images=_stack(images),
        labels=np.array([file_class[i] for i in keep], dtype=np.int64),
        classes=[d.name for d in class_dirs],
        task=_task_for(len(class_dirs), False),
        groups=_patient_groups(ids, paths),
        paths=paths,
        source=str(root),
        skipped=skipped,
    )


# ---------------------------------------------------------------------------------------------
# CSV manifests

_INT_RE = re.compile(r"^[+-]?\d+$")


def _sorted_names(names: set[str]) -> list[str]:
    """Sort class names; numerically when every name is an integer."""
    if all(_INT_RE.fullmatch(n) for n in names):
        return sorted(names, key=int)
    return sorted(names)


def load_manifest(
    csv_path: str | Path,
    *,
    size: int,
    channels: int | None = None,
    window: Window = None,
    progress: ImageProgress | None = None,
) -> ImageSet:
    """Load the images listed in a CSV manifest.

    The CSV has a header row with the columns ``path`` and ``label`` and, optionally,
    ``patient_id``. Paths are relative to the CSV's folder (absolute paths are used as they
    are). A label is a class name (or number); a label holding ``|``-separated names
    (``"effusion|mass"``) makes the whole set multi-label, each row positive for the names it
    lists. Class names are sorted (numerically when all are integers).

    Parameters
    ----------
    csv_path : str or Path
        The manifest.
    size, channels, window, progress
        As for :func:`load_folder`.

    Returns
    -------
    ImageSet
        ``labels`` int64 (N,) or, multi-label, uint8 (N, K); ``groups`` from ``patient_id``
        (or DICOM ``PatientID``) when known; ``paths`` in manifest order.

    Raises
    ------
    DataFileError
        The file is missing, empty or not CSV; a column is missing (the columns found are
        listed); a row has an empty path or label, or names a file that does not exist (the
        line is named); fewer than two classes; grey and RGB images mixed without
        ``channels``; more than half of the files cannot be read.
    """
    import pandas as pd

    csv = Path(csv_path)
    if not csv.is_file():
        raise DataFileError(f"manifest {str(csv)!r} does not exist or is not a file")
    try:
        frame = pd.read_csv(csv, dtype=str, keep_default_na=False, skipinitialspace=True)
    except pd.errors.EmptyDataError as exc:
        raise DataFileError(
            f"manifest {str(csv)!r} is empty; expected a header row path,label[,patient_id] "
            "and one row per image"
        ) from exc
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise DataFileError(f"manifest {str(csv)!r} cannot be read as CSV: {exc}") from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in ("path", "label") if c not in frame.columns]
    if missing:
        raise DataFileError(
            f"manifest {str(csv)!r} lacks column(s) {missing}; found {list(frame.columns)}; "
            "expected a header row path,label[,patient_id]"
        )
    if frame.empty:
        raise DataFileError(f"manifest {str(csv)!r} has a header but no rows")
    has_pid = "patient_id" in frame.columns
    files: list[Path] = []
    raw_labels: list[list[str]] = []
    given_ids: list[str | None] = []
    multilabel = bool(frame["label"].str.contains("|", regex=False).any())
    for row, (cell, label) in enumerate(zip(frame["path"], frame["label"], strict=True)):
        line = row + 2  # 1-based, after the header
        where = f"manifest {str(csv)!r} line {line}"
        cell, label = str(cell).strip(), str(label).strip()
        if not cell:
            raise DataFileError(f"{where}: the 'path' cell is empty; give the image file")
        if not label:
            raise DataFileError(f"{where}: the 'label' cell is empty; give a class name")
        file = Path(cell) if Path(cell).is_absolute() else csv.parent / cell
        if not file.is_file():
            raise DataFileError(
                f"{where}: file {cell!r} does not exist (paths are relative to the manifest's "
                f"folder {str(csv.parent)!r})"
            )
        names = [part.strip() for part in label.split("|")] if multilabel else [label]
        if not all(names):
            raise DataFileError(
                f"{where}: label {label!r} has an empty name between '|'; write names "
                "separated by single '|' (e.g. 'effusion|mass')"
            )
        files.append(file)
        raw_labels.append(names)
        pid = str(frame["patient_id"].iloc[row]).strip() if has_pid else ""
        given_ids.append(pid or None)
    classes = _sorted_names({n for names in raw_labels for n in names})
    if len(classes) < 2:
        raise DataFileError(
            f"manifest {str(csv)!r} has {len(classes)} class(es) {classes}; expected at least two"
        )
    images, bad = _read_images(
        files, size=size, channels=channels, window=window, progress=progress, where=str(csv)
    )
    keep = [i for i, image in enumerate(images) if image is not None]
    position = {name: i for i, name in enumerate(classes)}
    labels: np.ndarray
    if multilabel:
        labels = np.zeros((len(keep), len(classes)), dtype=np.uint8)
        for out_row, i in enumerate(keep):
            labels[out_row, [position[n] for n in raw_labels[i]]] = 1
    else:
        labels = np.array([position[raw_labels[i][0]] for i in keep], dtype=np.int64)
    io = _io()
    paths = [str(files[i]) for i in keep]
    ids = [given_ids[i] or _dicom_patient(files[i], bool(io.is_dicom(files[i])), io) for i in keep]
    return ImageSet(
        images=_stack(images),
        labels=labels,
        classes=classes,
        task=_task_for(len(classes), multilabel),
        groups=_patient_groups(ids, paths),
        paths=paths,
        source=str(csv),
        skipped=bad,
    )


# ---------------------------------------------------------------------------------------------
# MedMNIST npz


def _medmnist_classes(path: Path) -> tuple[str, tuple[str, ...], str] | None:
    """``(flag, classes, task)`` of the MedMNIST collection a file name starts with, if any."""
    from medai.core.datasets import MEDMNIST_FLAGS, get_info

    stem = path.name.lower().removesuffix(".npz")
    for flag in sorted(MEDMNIST_FLAGS, key=len, reverse=True):
        if stem == flag or stem.startswith(flag + "_"):
            info = get_info(flag)
            return flag, tuple(info.classes or ()), info.task
    return None


def _first_bad(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask.reshape(len(mask), -1).any(axis=1))[0])


def load_npz(path: str | Path, *, classes: Sequence[str] | None = None) -> ImageSet:
    """Load a MedMNIST-style ``.npz`` file (never unpickling anything).

    The file holds ``train_images``, ``train_labels``, ``val_images``, ``val_labels``,
    ``test_images`` and ``test_labels``. Images are uint8, ``(N, H, W)`` grey or
    ``(N, H, W, 3)`` RGB; labels ``(N,)`` or ``(N, 1)`` class indices (binary / multi-class) or
    ``(N, K)`` 0/1 (multi-label). The three splits are concatenated in that order and
    :attr:`ImageSet.split` says which image came from which.

    Class names come from ``classes``; else from the registry when the file name starts with a
    MedMNIST flag (``pneumoniamnist.npz``, ``chestmnist_64.npz``,
    ``pneumoniamnist_28_balanced.npz`` ...); else they are ``"0"``, ``"1"``, ...

    Parameters
    ----------
    path : str or Path
        The ``.npz`` file.
    classes : sequence of str, optional
        Class names in label-index order.

    Returns
    -------
    ImageSet
        ``images`` uint8 (N, C, H, W); ``labels`` int64 (N,) or uint8 (N, K); ``split``.

    Raises
    ------
    DataFileError
        The file is missing or not an ``.npz`` archive; arrays are missing (all missing keys
        are listed), hold Python objects, or have the wrong dtype or shape; the splits differ in
        image size, channels or label columns; labels are negative, beyond the known classes,
        or (multi-label) not 0/1.
    """
    file = Path(path)
    if not file.is_file():
        raise DataFileError(f"{str(file)!r} does not exist or is not a file")
    try:
        loaded = np.load(file, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise DataFileError(
                f"{str(file)!r} holds a single array, not an .npz archive with the keys "
                f"{list(NPZ_KEYS)}"
            )
        with loaded as npz:
            missing = [k for k in NPZ_KEYS if k not in npz.files]
            if missing:
                raise DataFileError(
                    f"{str(file)!r} lacks the array(s) {missing}; it holds {sorted(npz.files)}. "
                    f"A MedMNIST-style file needs {list(NPZ_KEYS)}"
                )
            # labels first (small), so that bad labels fail before megabytes of pixels are read
            labels = [_npz_labels(file, split, npz[f"{split}_labels"]) for split in SPLITS]
            names, multilabel = _npz_classes(file, labels, classes)
            counts = [len(block) for block in labels]
            n = sum(counts)
            if n == 0:
                raise DataFileError(f"{str(file)!r} holds no images in any split")
            # then the images, one split at a time, into one (N, C, H, W) array
            images: np.ndarray | None = None
            begin = 0
            for split, count in zip(SPLITS, counts, strict=True):
                block = npz[f"{split}_images"]
                shape = _npz_image_shape(file, split, block, count)
                if images is None:
                    images = np.empty((n, *shape), dtype=np.uint8)
                elif shape != images.shape[1:]:
                    raise DataFileError(
                        f"{str(file)!r}: {split}_images holds images of (C, H, W) {shape} but "
                        f"train_images holds {images.shape[1:]}; all splits must match"
                    )
                if block.ndim == 3:
                    images[begin : begin + count, 0] = block
                else:
                    images[begin : begin + count] = block.transpose(0, 3, 1, 2)
                begin += count
                del block
    except DataFileError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise DataFileError(
            f"{str(file)!r} cannot be read as an .npz archive of plain arrays: {exc}"
        ) from exc
    if images is None:  # pragma: no cover - SPLITS is not empty
        raise DataFileError(f"{str(file)!r} holds no splits")
    all_labels = np.concatenate(labels)
    return ImageSet(
        images=images,
        labels=all_labels.astype(np.uint8) if multilabel else all_labels[:, 0],
        classes=names,
        task=_task_for(len(names), multilabel),
        split=np.repeat(np.array(SPLITS), counts),
        source=str(file),
    )


def _npz_labels(file: Path, split: str, labels: np.ndarray) -> np.ndarray:
    """Check one split's labels; return them as int64 of shape (N, K) (K = 1 single-label)."""
    key = f"{split}_labels"
    if labels.ndim == 1:
        labels = labels.reshape(-1, 1)
    if labels.ndim != 2 or labels.shape[1] < 1:
        raise DataFileError(
            f"{str(file)!r}: {key} has shape {labels.shape}; expected (N, 1) class indices or "
            "(N, K) 0/1 multi-label columns"
        )
    if labels.dtype.kind not in "biuf":
        raise DataFileError(
            f"{str(file)!r}: {key} has dtype {labels.dtype}; expected integer class indices"
        )
    if labels.dtype.kind == "f" and labels.size:
        bad = ~np.isfinite(labels) | (labels != np.round(labels))
        if bad.any():
            raise DataFileError(
                f"{str(file)!r}: {key} holds a non-integer value in row {_first_bad(bad)}"
            )
    if labels.size and (labels < 0).any():
        raise DataFileError(
            f"{str(file)!r}: {key} holds a negative label in row {_first_bad(labels < 0)}; "
            "labels must be class indices 0, 1, ... (or 0/1 per column, multi-label)"
        )
    if labels.shape[1] > 1 and labels.size and (labels > 1).any():
        raise DataFileError(
            f"{str(file)!r}: {key} has {labels.shape[1]} columns (multi-label) but row "
            f"{_first_bad(labels > 1)} holds a value other than 0 or 1"
        )
    return labels.astype(np.int64)


def _npz_classes(
    file: Path, labels: list[np.ndarray], classes: Sequence[str] | None
) -> tuple[list[str], bool]:
    """Class names and whether the set is multi-label; checks labels against the names."""
    columns = {block.shape[1] for block in labels}
    if len(columns) > 1:
        found = {split: block.shape[1] for split, block in zip(SPLITS, labels, strict=True)}
        raise DataFileError(
            f"{str(file)!r}: the label arrays have different numbers of columns {found}; all "
            "splits must match"
        )
    n_cols = columns.pop()
    multilabel = n_cols > 1
    top = max((int(block.max()) for block in labels if block.size), default=0)
    origin = "the classes given"
    known = _medmnist_classes(file) if classes is None else None
    if classes is not None:
        names = [str(c) for c in classes]
    elif known is not None:
        flag, known_classes, known_task = known
        names = list(known_classes)
        origin = f"MedMNIST {flag!r} (from the file name)"
        if (known_task == "multilabel") != multilabel:
            raise DataFileError(
                f"{str(file)!r}: the file name says MedMNIST {flag!r} ({known_task}) but the "
                f"labels have {n_cols} column(s); rename the file or pass classes="
            )
    elif multilabel:
        names = [str(i) for i in range(n_cols)]
    else:
        names = [str(i) for i in range(max(top + 1, 2))]
    if multilabel and n_cols != len(names):
        raise DataFileError(
            f"{str(file)!r}: labels have {n_cols} columns but {origin} name {len(names)} classes"
        )
    if not multilabel and top >= len(names):
        raise DataFileError(
            f"{str(file)!r}: label {top} is out of range for the {len(names)} classes of "
            f"{origin} (0..{len(names) - 1})"
        )
    return names, multilabel


def _npz_image_shape(file: Path, split: str, images: np.ndarray, n: int) -> tuple[int, int, int]:
    """Check one split's images against its ``n`` labels; return their (C, H, W)."""
    key = f"{split}_images"
    if images.dtype != np.uint8:
        raise DataFileError(
            f"{str(file)!r}: {key} has dtype {images.dtype}; expected uint8 pixels 0-255"
        )
    if images.ndim == 3:
        shape = (1, images.shape[1], images.shape[2])
    elif images.ndim == 4 and images.shape[3] in (1, 3):
        shape = (images.shape[3], images.shape[1], images.shape[2])
    else:
        raise DataFileError(
            f"{str(file)!r}: {key} has shape {images.shape}; expected (N, H, W) grey or "
            "(N, H, W, 3) RGB"
        )
    if len(images) != n:
        raise DataFileError(
            f"{str(file)!r}: {key} holds {len(images)} images but {split}_labels has {n} rows; "
            "there must be one label row per image"
        )
    return shape


def load_medmnist(
    name: str,
    *,
    size: int = 28,
    progress: ImageProgress | None = None,
    url: str | None = None,
) -> ImageSet:
    """Download (once, checksummed) and load a MedMNIST collection from the dataset registry.

    Parameters
    ----------
    name : str
        A MedMNIST flag in the registry (``pneumoniamnist``, ``breastmnist``, ``dermamnist``,
        ``bloodmnist``, ``organamnist``, ``pathmnist``, ``chestmnist``) or any other
        registered image dataset; ``pneumoniamnist_64`` style names work too.
    size : {28, 64, 128, 224}
        Image size; picks the registry entry ``name`` (28) or ``name_<size>``.
    progress : callable, optional
        ``progress(step, done_bytes, total_bytes)`` while downloading (total 0 if unknown).
    url : str, optional
        Download from this URL instead of ``$MEDAI_DATASETS_URL`` or the registry URL.

    Returns
    -------
    ImageSet
        As :func:`load_npz`, with the registry's class names; ``source`` is the dataset name.

    Raises
    ------
    DatasetError
        Unknown dataset or size; not an image dataset; the download failed or did not match
        its pinned MD5 (nothing is cached then); the file does not match its registry entry.
    """
    from medai.core import datasets as ds

    info = _image_info(name, size)
    fetch_progress = None
    if progress is not None:
        report = progress
        step = f"downloading {info.name}"

        def fetch_progress(done: int, total: int | None) -> None:
            report(step, done, total or 0)

    path = ds.fetch(info, progress=fetch_progress, url=url)
    try:
        data = load_npz(path, classes=info.classes)
    except DataFileError as exc:
        raise DatasetError(
            f"dataset {info.name!r}: the cached file is not usable: {exc}. Delete it or fetch "
            "again with force=True"
        ) from exc
    problems = []
    if info.n_rows is not None and len(data) != info.n_rows:
        problems.append(f"{len(data)} images instead of {info.n_rows}")
    if info.image_size is not None and data.images.shape[2:] != (info.image_size,) * 2:
        problems.append(f"images of {data.images.shape[2:]} instead of {info.image_size} px")
    if info.n_channels is not None and data.n_channels != info.n_channels:
        problems.append(f"{data.n_channels} channel(s) instead of {info.n_channels}")
    if data.task != info.task:
        problems.append(f"a {data.task} task instead of {info.task}")
    if problems:
        raise DatasetError(
            f"dataset {info.name!r}: {path} holds {', '.join(problems)}; the file does not match "
            "its registry entry. Delete it or fetch again with force=True"
        )
    data.source = info.name
    return data


def _image_info(name: str, size: int) -> Any:
    """The registry entry of image dataset ``name`` at ``size`` pixels."""
    from medai.core import datasets as ds

    if not isinstance(name, str) or not name.strip():
        raise InvalidInputError(f"expected a dataset name, received {name!r}")
    key = name.strip().lower()
    registered = {info.name: info for info in ds.list_datasets()}
    candidates = [key] if size == 28 else [f"{key}_{size}", key]
    for candidate in candidates:
        info = registered.get(candidate)
        if info is not None and info.image_size in (None, size):
            if info.modality != "image":
                raise DatasetError(
                    f"dataset {info.name!r} is a table, not an image dataset; load it with "
                    "medai.core.datasets.load"
                )
            return info
    base = ds.get_info(key)  # unknown name -> DatasetError listing the known ones
    if base.modality != "image":
        raise DatasetError(
            f"dataset {base.name!r} is a table, not an image dataset; load it with "
            "medai.core.datasets.load"
        )
    flag = re.sub(r"_\d+$", "", key)
    sizes = sorted(
        int(info.image_size)
        for info in registered.values()
        if info.image_size is not None
        and (info.name == flag or re.fullmatch(rf"{re.escape(flag)}_\d+", info.name))
    )
    held = f" (it holds {base.image_size}x{base.image_size} images)" if base.image_size else ""
    raise DatasetError(
        f"dataset {base.name!r}{held} is not available at size={size!r}; sizes available for "
        f"{flag!r}: {sizes}; pass one of them as size"
    )


# ---------------------------------------------------------------------------------------------
# dispatch


def _resize_set(
    data: ImageSet, size: int, channels: int | None, progress: ImageProgress | None
) -> ImageSet:
    """Resize (and convert) every image with ``io.prepare`` unless it already fits."""
    _check_size(size, channels)
    target_c = channels if channels is not None else data.n_channels
    if data.images.shape[1:] == (target_c, size, size):
        return data
    io = _io()
    out = np.empty((len(data), target_c, size, size), dtype=np.uint8)
    total = len(data)
    for i in range(total):
        image = data.images[i].astype(np.float32) / 255.0
        out[i] = io.prepare(image, size, target_c)
        if progress is not None and (i + 1 == total or (i + 1) % 256 == 0):
            progress("resizing images", i + 1, total)
    return dataclasses.replace(data, images=out)


def load_images(
    source: str | Path | None = None,
    *,
    dataset: str | None = None,
    size: int | None = None,
    channels: int | None = None,
    window: Window = None,
    progress: ImageProgress | None = None,
) -> ImageSet:
    """Load labelled images from a folder, a CSV manifest, an ``.npz`` file or a dataset name.

    Parameters
    ----------
    source : str or Path, optional
        A folder of class folders (:func:`load_folder`), a ``.csv`` manifest
        (:func:`load_manifest`) or a MedMNIST-style ``.npz`` file (:func:`load_npz`).
    dataset : str, optional
        Instead of ``source``: a MedMNIST name from the registry (:func:`load_medmnist`).
    size : int, optional
        Side of the output images. Files are resized to it (default 64); a dataset is
        downloaded at that size (28, 64, 128 or 224; default 28); ``.npz`` images are resized
        when it differs from theirs (default: keep their size).
    channels : {1, 3}, optional
        Convert every image to grey (1) or RGB (3); None keeps the source's channels.
    window : (float, float) or str, optional
        DICOM / NIfTI intensity window for files, as for :func:`load_folder`.
    progress : callable, optional
        ``progress(step, done, total)``.

    Returns
    -------
    ImageSet
        Images uint8 (N, C, size, size).

    Raises
    ------
    InvalidInputError
        Neither or both of ``source`` and ``dataset`` given.
    DataFileError
        ``source`` does not exist or is none of the above; see the loaders.
    DatasetError
        See :func:`load_medmnist`.
    """
    if (source is None) == (dataset is None):
        raise InvalidInputError(
            "give either a source (folder, .csv manifest or .npz file) or dataset=<name>, "
            f"not {'both' if source is not None else 'neither'}"
        )
    if dataset is not None:
        _check_size(size or 28, channels)
        data = load_medmnist(dataset, size=size or 28, progress=progress)
        return _resize_set(data, size or 28, channels, progress)
    if size is not None or channels is not None:
        _check_size(size or 64, channels)
    path = Path(str(source))
    if path.is_dir():
        return load_folder(
            path, size=size or 64, channels=channels, window=window, progress=progress
        )
    if not path.exists():
        raise DataFileError(
            f"{str(path)!r} does not exist; expected a folder of class folders, a .csv "
            "manifest or an .npz file"
        )
    suffix = path.suffix.lower()
    if suffix == ".npz":
        data = load_npz(path)
        return _resize_set(data, size or data.images.shape[-1], channels, progress)
    if suffix == ".csv":
        return load_manifest(
            path, size=size or 64, channels=channels, window=window, progress=progress
        )
    raise DataFileError(
        f"{str(path)!r} is not a folder, a .csv manifest or an .npz file (suffix {suffix!r}); "
        "point at a folder with one sub-folder per class, a CSV with columns path,label, or a "
        "MedMNIST .npz file"
    )
