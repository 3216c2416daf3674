"""Registry of bundled and downloadable clinical datasets, with a checksummed cache.

Two kinds of dataset live in one registry:

``bundled``
    Shipped inside a pip package medai already depends on, so they load offline:
    scikit-learn's breast cancer Wisconsin set and scikit-survival's WHAS500, GBSG2, veterans
    lung cancer, FLCHAIN and AIDS sets (the latter need ``pip install 'medai[risk]'``).
``download``
    Fetched once from their public URL into the cache folder (:func:`cache_dir`) and read from
    there afterwards: the Pima Indians diabetes and the UCI Cleveland heart disease files.

Every table dataset loads as one :class:`pandas.DataFrame`. Binary sets carry a 0/1 target
column (:attr:`DatasetInfo.target`); survival sets carry a float ``time`` and a 0/1 ``event``
column next to their features. Categorical columns are turned into plain numbers or strings, so a frame
written with :meth:`~pandas.DataFrame.to_csv` reads back the same.

Image datasets (``modality="image"``) are downloads too: the MedMNIST v3 collections
(PneumoniaMNIST, BreastMNIST, DermaMNIST, BloodMNIST, OrganAMNIST, PathMNIST, ChestMNIST) at
28x28 (``pneumoniamnist``) and 64, 128 and 224 pixels (``pneumoniamnist_64`` ...), pinned to
the official Zenodo MD5s. They are ``.npz`` files, not tables: :func:`fetch` downloads and
verifies them and :func:`medai.imaging.data.load_medmnist` reads them (``load`` refuses them).
Their entries carry the task (``binary``, ``multiclass`` or ``multilabel``), the class names
(:attr:`DatasetInfo.classes`), the image size and the number of channels.

Downloads stream in chunks into a temporary file inside the cache folder, hash while they
stream and are renamed into place only after the checksum matched; a mismatch deletes the
temporary file and raises :class:`~medai.core.errors.DatasetError`. A cached file is verified
again every time it is used.

Checksums and trust on first use
--------------------------------
When a registry entry pins a ``sha256`` (or ``md5``), every download and every cached copy must
match it. The built-in downloadable entries could not be downloaded while this registry was
written, so they pin no checksum. For such entries :func:`fetch` records the sha256 it received
in a ``<file>.sha256`` file next to the cached file (trust on first use); later uses, and later
downloads, must match that record; :func:`recorded_sha256` reports it and ``medai datasets
fetch`` prints it. ``fetch(name, force=True)`` downloads again and records anew.

Where files come from
---------------------
In order of precedence: the ``url`` argument of :func:`fetch` / :func:`load`; the environment
variable ``MEDAI_DATASETS_URL``, a base URL under which each file is looked up by its file name
(a local mirror); the entry's own :attr:`DatasetInfo.url`. ``http``, ``https`` and ``file`` URLs
are accepted. Without network access, download the file yourself and put it at
:func:`cache_path`; it is then verified (or recorded) like a download.

Examples
--------
>>> from medai.core import datasets
>>> [d.name for d in datasets.list_datasets()][:2]
['breast_cancer', 'whas500']
>>> df = datasets.load("whas500")  # doctest: +SKIP
>>> df[["time", "event"]].dtypes.tolist()  # doctest: +SKIP
[dtype('float64'), dtype('int64')]
"""

from __future__ import annotations

import difflib
import hashlib
import http.client
import os
import re
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from medai.core.errors import DatasetError, InvalidInputError, require

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DATASETS_URL_ENV",
    "HOME_ENV",
    "MEDMNIST_FLAGS",
    "MEDMNIST_SIZES",
    "DatasetInfo",
    "ProgressCallback",
    "cache_dir",
    "cache_path",
    "fetch",
    "file_sha256",
    "get_info",
    "is_cached",
    "list_datasets",
    "load",
    "recorded_sha256",
    "register",
    "unregister",
]

Kind = Literal["bundled", "download"]
Task = Literal["binary", "multiclass", "multilabel", "survival"]
Modality = Literal["table", "image"]

ProgressCallback = Callable[[int, int | None], None]
"""``progress(done_bytes, total_bytes)``; ``total_bytes`` is None if the length is unknown."""

HOME_ENV = "MEDAI_HOME"
"""Environment variable naming medai's home folder; datasets are cached in its ``datasets/``."""

DATASETS_URL_ENV = "MEDAI_DATASETS_URL"
"""Environment variable with a base URL (a mirror) to download every dataset file from."""

_CHUNK = 64 * 1024
_TIMEOUT_S = 60.0
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")
_FILENAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]*$")
_HEX_LEN = {"sha256": 64, "md5": 32}
_URL_SCHEMES = ("http", "https", "file")
_RECORD_SUFFIX = ".sha256"


@dataclass(frozen=True)
class DatasetInfo:
    """Description of one dataset in the registry.

    Parameters
    ----------
    name : str
        Registry key: lower-case letters, digits, ``_`` and ``-``; also the cache sub-folder.
    title : str
        Human-readable title.
    kind : {"bundled", "download"}
        ``bundled`` datasets ship with a pip package; ``download`` ones are fetched and cached.
    task : {"binary", "survival", "multiclass", "multilabel"}
        What the target describes; ``multiclass`` and ``multilabel`` only for image datasets.
    target : str, optional
        Name of the 0/1 target column (binary task).
    time, event : str, optional
        Names of the survival time (float) and event (0/1) columns (survival task);
        default ``"time"`` and ``"event"``.
    n_rows : int, optional
        Number of rows, if known; loading a downloaded file with another count fails.
    source : str
        Citation / origin of the data.
    url : str, optional
        Where a ``download`` dataset is fetched from.
    sha256, md5 : str, optional
        Expected checksum (lower-case hex) of the downloaded file; sha256 wins if both are
        given. None means trust on first use (see the module docstring).
    licence : str
        Licence and citation note.
    filename : str, optional
        File name in the cache; default: the last path segment of ``url``.
    columns : tuple of str, optional
        Column names for a downloaded file that has no header row; None if it has one.
    na_values : tuple of str
        Extra strings that mean "missing" in a downloaded file (e.g. ``("?",)``).
    modality : {"table", "image"}
        ``table`` datasets load as a DataFrame with :func:`load`; ``image`` datasets are
        downloads of labelled image arrays (MedMNIST ``.npz``) read by ``medai.imaging.data``.
    classes : tuple of str, optional
        Image datasets: the class (or, multilabel, the finding) names, in label-index order.
    image_size : int, optional
        Image datasets: the side of the square images, in pixels.
    n_channels : int, optional
        Image datasets: 1 (grey) or 3 (RGB).
    """

    name: str
    title: str
    kind: Kind
    task: Task
    target: str | None = None
    time: str | None = None
    event: str | None = None
    n_rows: int | None = None
    source: str = ""
    url: str | None = None
    sha256: str | None = None
    md5: str | None = None
    licence: str = ""
    filename: str | None = None
    columns: tuple[str, ...] | None = None
    na_values: tuple[str, ...] = ()
    modality: Modality = "table"
    classes: tuple[str, ...] | None = None
    image_size: int | None = None
    n_channels: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME_RE.fullmatch(self.name):
            raise InvalidInputError(
                f"dataset name {self.name!r} is not valid; expected lower-case letters, digits, "
                "'_' or '-', starting with a letter or digit (e.g. 'my_cohort')"
            )
        if self.kind not in ("bundled", "download"):
            raise InvalidInputError(
                f"dataset {self.name!r}: kind {self.kind!r} is not valid; "
                "expected 'bundled' or 'download'"
            )
        if self.modality not in ("table", "image"):
            raise InvalidInputError(
                f"dataset {self.name!r}: modality {self.modality!r} is not valid; "
                "expected 'table' or 'image'"
            )
        if self.modality == "image":
            self._check_image_fields()
        elif self.task not in ("binary", "survival"):
            raise InvalidInputError(
                f"dataset {self.name!r}: task {self.task!r} is not valid; "
                "expected 'binary' or 'survival' (or, for modality='image', 'binary', "
                "'multiclass' or 'multilabel')"
            )
        elif (self.classes, self.image_size, self.n_channels) != (None, None, None):
            raise InvalidInputError(
                f"dataset {self.name!r}: classes=, image_size= and n_channels= describe image "
                "datasets; pass modality='image' or leave them out"
            )
        if self.task == "binary" and self.modality == "table" and not self.target:
            raise InvalidInputError(
                f"dataset {self.name!r}: a binary dataset needs target=<column name>"
            )
        if self.task == "survival":
            if self.target is not None:
                raise InvalidInputError(
                    f"dataset {self.name!r}: a survival dataset has time= and event= columns, "
                    f"not target={self.target!r}"
                )
            if self.time is None:
                object.__setattr__(self, "time", "time")
            if self.event is None:
                object.__setattr__(self, "event", "event")
        for algo in ("sha256", "md5"):
            value = getattr(self, algo)
            if value is None:
                continue
            if not isinstance(value, str) or not re.fullmatch(
                rf"[0-9a-fA-F]{{{_HEX_LEN[algo]}}}", value
            ):
                raise InvalidInputError(
                    f"dataset {self.name!r}: {algo} {value!r} is not a {_HEX_LEN[algo]}-digit "
                    "hex digest"
                )
            object.__setattr__(self, algo, value.lower())
        if self.url is not None:
            _check_url(self.url, self.name)
        if self.kind == "download":
            if self.url is None and self.filename is None:
                raise InvalidInputError(
                    f"dataset {self.name!r}: a download dataset needs url= or filename="
                )
            fname = self.cache_filename
            if not _FILENAME_RE.fullmatch(fname) or fname.endswith(_RECORD_SUFFIX):
                raise InvalidInputError(
                    f"dataset {self.name!r}: file name {fname!r} is not usable in the cache; "
                    "pass filename= with letters, digits, '.', '_' or '-' only"
                )
        if self.n_rows is not None and self.n_rows < 0:
            raise InvalidInputError(f"dataset {self.name!r}: n_rows must be >= 0")
        if self.columns is not None:
            object.__setattr__(self, "columns", tuple(self.columns))
        object.__setattr__(self, "na_values", tuple(self.na_values))

    def _check_image_fields(self) -> None:
        """Validate (and normalise) the fields of a ``modality="image"`` entry."""
        if self.task not in ("binary", "multiclass", "multilabel"):
            raise InvalidInputError(
                f"dataset {self.name!r}: task {self.task!r} is not valid for an image dataset; "
                "expected 'binary', 'multiclass' or 'multilabel'"
            )
        if self.kind != "download":
            raise InvalidInputError(
                f"dataset {self.name!r}: image datasets must be kind='download'"
            )
        extra = [
            field
            for field in ("target", "time", "event", "columns")
            if getattr(self, field) is not None
        ]
        if extra:
            raise InvalidInputError(
                f"dataset {self.name!r}: {', '.join(extra)}= describe table columns; an image "
                "dataset names its labels with classes="
            )
        classes = tuple(str(c) for c in self.classes) if self.classes is not None else ()
        if len(classes) < 2 or len(set(classes)) != len(classes):
            raise InvalidInputError(
                f"dataset {self.name!r}: an image dataset needs classes= with at least two "
                f"distinct names, received {self.classes!r}"
            )
        if self.task == "binary" and len(classes) != 2:
            raise InvalidInputError(
                f"dataset {self.name!r}: task 'binary' needs exactly 2 classes, received "
                f"{len(classes)}; use task='multiclass'"
            )
        object.__setattr__(self, "classes", classes)
        if self.image_size is not None and (
            not isinstance(self.image_size, int) or self.image_size < 1
        ):
            raise InvalidInputError(
                f"dataset {self.name!r}: image_size must be a positive integer, received "
                f"{self.image_size!r}"
            )
        if self.n_channels is not None and self.n_channels not in (1, 3):
            raise InvalidInputError(
                f"dataset {self.name!r}: n_channels must be 1 or 3, received {self.n_channels!r}"
            )

    @property
    def checksum(self) -> tuple[str, str] | None:
        """The pinned ``(algorithm, hex digest)``, sha256 preferred; None if none is pinned."""
        if self.sha256 is not None:
            return ("sha256", self.sha256)
        if self.md5 is not None:
            return ("md5", self.md5)
        return None

    @property
    def cache_filename(self) -> str:
        """File name of the cached download: ``filename`` or the last segment of ``url``."""
        if self.filename is not None:
            return self.filename
        if self.url is None:
            return ""
        return Path(urllib.parse.urlsplit(self.url).path).name

    @property
    def label_columns(self) -> tuple[str, ...]:
        """The target column, or ``(time, event)``, or ``()`` for an image dataset.

        Image datasets name their labels with :attr:`classes` instead of columns.
        """
        if self.modality == "image":
            return ()
        if self.task == "survival":
            return (str(self.time), str(self.event))
        return (str(self.target),)


def _check_url(url: str, name: str) -> None:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in _URL_SCHEMES:
        raise InvalidInputError(
            f"dataset {name!r}: URL {url!r} is not usable; expected an "
            f"{', '.join(_URL_SCHEMES)} URL"
        )


# ---------------------------------------------------------------------------------------------
# bundled loaders


def _plain_categoricals(frame: pd.DataFrame) -> pd.DataFrame:
    """Replace categorical columns by numbers (if every category is numeric) or strings."""
    import numpy as np
    import pandas as pd

    out = frame.copy()
    for col in out.columns:
        series = out[col]
        if not isinstance(series.dtype, pd.CategoricalDtype):
            continue
        cats = pd.Series(np.asarray(series.cat.categories, dtype=object))
        if len(cats) and pd.to_numeric(cats, errors="coerce").notna().all():
            values = pd.to_numeric(series.astype(object), errors="coerce")
            if values.notna().all() and bool((values == np.round(values)).all()):
                out[col] = values.astype("int64")
            else:
                out[col] = values.astype("float64")
        else:
            out[col] = series.astype(object)
    return out


def _load_breast_cancer() -> pd.DataFrame:
    import numpy as np
    import pandas as pd
    from sklearn.datasets import load_breast_cancer

    bunch: Any = load_breast_cancer(as_frame=True)
    frame = bunch.data.copy()
    # sklearn codes 0 = malignant, 1 = benign; medai's target is 1 = malignant.
    frame["malignant"] = (np.asarray(bunch.target) == 0).astype("int64")
    return pd.DataFrame(frame)


def _sksurv_loader(function: str, event_field: str, time_field: str) -> Callable[[], pd.DataFrame]:
    def load_set() -> pd.DataFrame:
        import numpy as np
        import pandas as pd

        module: Any = require("sksurv.datasets", "risk")
        x, y = getattr(module, function)()
        names = y.dtype.names or ()
        if event_field not in names or time_field not in names:
            raise DatasetError(
                f"scikit-survival's {function}() returned fields {list(names)}; expected "
                f"{event_field!r} and {time_field!r}. Please report this with your "
                "scikit-survival version"
            )
        frame = _plain_categoricals(pd.DataFrame(x)).reset_index(drop=True)
        clash = {"time", "event"} & set(frame.columns)
        if clash:
            raise DatasetError(f"{function}() has feature columns {sorted(clash)} already")
        frame["time"] = np.asarray(y[time_field], dtype="float64")
        frame["event"] = np.asarray(y[event_field], dtype=bool).astype("int64")
        return frame

    return load_set


_BUNDLED_LOADERS: dict[str, Callable[[], pd.DataFrame]] = {
    "breast_cancer": _load_breast_cancer,
    "whas500": _sksurv_loader("load_whas500", "fstat", "lenfol"),
    "gbsg2": _sksurv_loader("load_gbsg2", "cens", "time"),
    "veterans": _sksurv_loader("load_veterans_lung_cancer", "Status", "Survival_in_days"),
    "flchain": _sksurv_loader("load_flchain", "death", "futime"),
    "aids": _sksurv_loader("load_aids", "censor", "time"),
}


def _heart_target(frame: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    out = frame.copy()
    # 'num' is the angiographic diagnosis 0 (< 50 % narrowing) to 4; any narrowing > 50 % = 1.
    out["disease"] = (pd.to_numeric(out["num"], errors="coerce") > 0).astype("int64")
    return out


_POSTPROCESS: dict[str, Callable[[pd.DataFrame], pd.DataFrame]] = {
    "heart_disease": _heart_target,
}

_SKSURV_LICENCE = (
    "Redistributed by scikit-survival (GPL-3.0) for teaching and research; cite the original "
    "publication."
)

_BUILTIN: tuple[DatasetInfo, ...] = (
    DatasetInfo(
        name="breast_cancer",
        title="Breast cancer Wisconsin (diagnostic)",
        kind="bundled",
        task="binary",
        target="malignant",
        n_rows=569,
        source=(
            "Wolberg, Street & Mangasarian (1995), UCI ML Repository, doi:10.24432/C5DW2B; "
            "shipped with scikit-learn"
        ),
        licence="CC BY 4.0 (UCI ML Repository)",
    ),
    DatasetInfo(
        name="whas500",
        title="Worcester Heart Attack Study (WHAS500)",
        kind="bundled",
        task="survival",
        n_rows=500,
        source=(
            "Hosmer, Lemeshow & May (2008), Applied Survival Analysis, 2nd ed., Wiley; "
            "shipped with scikit-survival"
        ),
        licence=_SKSURV_LICENCE,
    ),
    DatasetInfo(
        name="gbsg2",
        title="German Breast Cancer Study Group 2 (GBSG2)",
        kind="bundled",
        task="survival",
        n_rows=686,
        source=(
            "Schumacher et al. (1994), J Clin Oncol 12:2086-2093; shipped with scikit-survival"
        ),
        licence=_SKSURV_LICENCE,
    ),
    DatasetInfo(
        name="veterans",
        title="Veterans' Administration lung cancer trial",
        kind="bundled",
        task="survival",
        n_rows=137,
        source=(
            "Kalbfleisch & Prentice (1980), The Statistical Analysis of Failure Time Data, "
            "Wiley; shipped with scikit-survival"
        ),
        licence=_SKSURV_LICENCE,
    ),
    DatasetInfo(
        name="flchain",
        title="Serum free light chain and mortality (FLCHAIN)",
        kind="bundled",
        task="survival",
        n_rows=7874,
        source=(
            "Dispenzieri et al. (2012), Mayo Clin Proc 87:517-523; shipped with scikit-survival"
        ),
        licence=_SKSURV_LICENCE,
    ),
    DatasetInfo(
        name="aids",
        title="AIDS Clinical Trials Group 320 (time to AIDS or death)",
        kind="bundled",
        task="survival",
        n_rows=1151,
        source=(
            "Hammer et al. (1997), N Engl J Med 337:725-733; Hosmer, Lemeshow & May (2008); "
            "shipped with scikit-survival"
        ),
        licence=_SKSURV_LICENCE,
    ),
    DatasetInfo(
        name="pima_diabetes",
        title="Pima Indians diabetes",
        kind="download",
        task="binary",
        target="Outcome",
        n_rows=768,
        source=(
            "Smith et al. (1988), Proc Annu Symp Comput Appl Med Care 261-265; National "
            "Institute of Diabetes and Digestive and Kidney Diseases; mirror by J. Brownlee"
        ),
        url="https://raw.githubusercontent.com/jbrownlee/Datasets/master/pima-indians-diabetes.data.csv",
        licence=(
            "No licence stated by the mirror; originally distributed by the UCI ML Repository. "
            "Zeros mean missing in Glucose, BloodPressure, SkinThickness, Insulin, BMI."
        ),
        columns=(
            "Pregnancies",
            "Glucose",
            "BloodPressure",
            "SkinThickness",
            "Insulin",
            "BMI",
            "DiabetesPedigreeFunction",
            "Age",
            "Outcome",
        ),
    ),
    DatasetInfo(
        name="heart_disease",
        title="Heart disease, Cleveland Clinic (UCI, processed)",
        kind="download",
        task="binary",
        target="disease",
        n_rows=303,
        source=(
            "Janosi, Steinbrunn, Pfisterer & Detrano (1989), Heart Disease, UCI ML Repository, "
            "doi:10.24432/C52P4X; 'disease' = 1 when 'num' > 0"
        ),
        url="https://archive.ics.uci.edu/ml/machine-learning-databases/heart-disease/processed.cleveland.data",
        licence="CC BY 4.0 (UCI ML Repository)",
        columns=(
            "age",
            "sex",
            "cp",
            "trestbps",
            "chol",
            "fbs",
            "restecg",
            "thalach",
            "exang",
            "oldpeak",
            "slope",
            "ca",
            "thal",
            "num",
        ),
        na_values=("?",),
    ),
)

# --- MedMNIST v3 (image datasets) --------------------------------------------------------------
# Facts from the medmnist 3.0.2 package, medmnist/info.py (INFO[flag]: url, MD5, url_64, MD5_64,
# url_128, MD5_128, url_224, MD5_224, task, label, n_channels, n_samples, license). MedMNIST's
# "multi-label, binary-class" is medai's "multilabel"; "binary-class" is "binary";
# "multi-class" (and "ordinal-regression") is "multiclass".

MEDMNIST_SIZES = (28, 64, 128, 224)
"""Image sizes MedMNIST v3 publishes for every 2D collection; 28 has no name suffix."""

_MEDMNIST_URL = "https://zenodo.org/records/10519652/files/{file}?download=1"
_MEDMNIST_SOURCE = (
    "Yang, Shi, Wei et al. (2023), MedMNIST v2 - A large-scale lightweight benchmark for 2D and "
    "3D biomedical image classification, Scientific Data 10:41, doi:10.1038/s41597-022-01721-8; "
    "files from Zenodo record 10519652 (MedMNIST v3); original source: {origin}"
)
_MEDMNIST_LICENCE = "{licence} (MedMNIST); cite MedMNIST and the original source."

# flag: (title, task, n_channels, (train, val, test), origin, licence, classes, MD5 by size)
_MEDMNIST_FACTS: dict[
    str,
    tuple[str, Task, int, tuple[int, int, int], str, str, tuple[str, ...], tuple[str, ...]],
] = {
    "pneumoniamnist": (
        "PneumoniaMNIST: paediatric chest X-rays, pneumonia vs normal",
        "binary",
        1,
        (4708, 524, 624),
        "Kermany et al. (2018), Cell 172:1122-1131",
        "CC BY 4.0",
        ("normal", "pneumonia"),
        (
            "28209eda62fecd6e6a2d98b1501bb15f",
            "8f4eceb4ccffa70c672198ea285246c6",
            "05b46931834c231683c68f40c47b2971",
            "d6a3c71de1b945ea11211b03746c1fe1",
        ),
    ),
    "breastmnist": (
        "BreastMNIST: breast ultrasound, malignant vs normal/benign",
        "binary",
        1,
        (546, 78, 156),
        "Al-Dhabyani et al. (2020), Data in Brief 28:104863",
        "CC BY 4.0",
        ("malignant", "normal, benign"),
        (
            "750601b1f35ba3300ea97c75c52ff8f6",
            "742edef2a1fd1524b2efff4bd7ba9364",
            "363e4b3f8d712e9b5de15470a2aaadf1",
            "b56378a6eefa9fed602bb16d192d4c8b",
        ),
    ),
    "dermamnist": (
        "DermaMNIST: dermatoscopic images of pigmented skin lesions (HAM10000), 7 classes",
        "multiclass",
        3,
        (7007, 1003, 2005),
        "Tschandl et al. (2018), Scientific Data 5:180161 (HAM10000)",
        "CC BY-NC 4.0",
        (
            "actinic keratoses and intraepithelial carcinoma",
            "basal cell carcinoma",
            "benign keratosis-like lesions",
            "dermatofibroma",
            "melanoma",
            "melanocytic nevi",
            "vascular lesions",
        ),
        (
            "0744692d530f8e62ec473284d019b0c7",
            "b70a2f5635c6199aeaa28c31d7202e1f",
            "2defd784463fa5243564e855ed717de1",
            "8974907d8e169bef5f5b96bc506ae45d",
        ),
    ),
    "bloodmnist": (
        "BloodMNIST: blood cell microscopy, 8 cell types",
        "multiclass",
        3,
        (11959, 1712, 3421),
        "Acevedo et al. (2020), Data in Brief 30:105474",
        "CC BY 4.0",
        (
            "basophil",
            "eosinophil",
            "erythroblast",
            "immature granulocytes(myelocytes, metamyelocytes and promyelocytes)",
            "lymphocyte",
            "monocyte",
            "neutrophil",
            "platelet",
        ),
        (
            "7053d0359d879ad8a5505303e11de1dc",
            "2b94928a2ae4916078ca51e05b6b800b",
            "adace1e0ed228fccda1f39692059dd4c",
            "b718ff6835fcbdb22ba9eacccd7b2601",
        ),
    ),
    "organamnist": (
        "OrganAMNIST: abdominal CT, axial slices, 11 organs",
        "multiclass",
        1,
        (34561, 6491, 17778),
        "Bilic et al. (2023), Medical Image Analysis 84:102680 (LiTS)",
        "CC BY 4.0",
        (
            "bladder",
            "femur-left",
            "femur-right",
            "heart",
            "kidney-left",
            "kidney-right",
            "liver",
            "lung-left",
            "lung-right",
            "pancreas",
            "spleen",
        ),
        (
            "68e3f8846a6bd62f0c9bf841c0d9eacc",
            "2dcccc29b88e6da5a01161ef20cda288",
            "eeae80d0a227a8d099027e1b3cfd3b60",
            "50747347e05c87dd3aaf92c49f9f3170",
        ),
    ),
    "pathmnist": (
        "PathMNIST: colorectal cancer histology patches (NCT-CRC-HE-100K), 9 tissue types",
        "multiclass",
        3,
        (89996, 10004, 7180),
        "Kather et al. (2019), PLOS Medicine 16:e1002730",
        "CC BY 4.0",
        (
            "adipose",
            "background",
            "debris",
            "lymphocytes",
            "mucus",
            "smooth muscle",
            "normal colon mucosa",
            "cancer-associated stroma",
            "colorectal adenocarcinoma epithelium",
        ),
        (
            "a8b06965200029087d5bd730944a56c1",
            "55aa9c1e0525abe5a6b9d8343a507616",
            "ac42d08fb904d92c244187169d1fd1d9",
            "2c51a510bcdc9cf8ddb2af93af1eadec",
        ),
    ),
    "chestmnist": (
        "ChestMNIST: chest X-rays (NIH ChestX-ray14), 14 findings, multi-label",
        "multilabel",
        1,
        (78468, 11219, 22433),
        "Wang et al. (2017), CVPR 2097-2106 (NIH ChestX-ray14)",
        "CC BY 4.0",
        (
            "atelectasis",
            "cardiomegaly",
            "effusion",
            "infiltration",
            "mass",
            "nodule",
            "pneumonia",
            "pneumothorax",
            "consolidation",
            "edema",
            "emphysema",
            "fibrosis",
            "pleural",
            "hernia",
        ),
        (
            "02c8a6516a18b556561a56cbdd36c4a8",
            "9de6cd0b934ebb5b7426cfba5efbae16",
            "db107e5590b27930b62dbaf558aebee3",
            "45bd33e6f06c3e8cdb481c74a89152aa",
        ),
    ),
}


def _medmnist_entries() -> tuple[DatasetInfo, ...]:
    entries = []
    for flag, facts in _MEDMNIST_FACTS.items():
        title, task, channels, split, origin, licence, classes, md5s = facts
        for size, md5 in zip(MEDMNIST_SIZES, md5s, strict=True):
            name = flag if size == 28 else f"{flag}_{size}"
            entries.append(
                DatasetInfo(
                    name=name,
                    title=f"{title} ({size}x{size}; train/val/test {split[0]}/{split[1]}/"
                    f"{split[2]})",
                    kind="download",
                    task=task,
                    n_rows=sum(split),
                    source=_MEDMNIST_SOURCE.format(origin=origin),
                    url=_MEDMNIST_URL.format(file=f"{name}.npz"),
                    md5=md5,
                    licence=_MEDMNIST_LICENCE.format(licence=licence),
                    modality="image",
                    classes=classes,
                    image_size=size,
                    n_channels=channels,
                )
            )
    return tuple(entries)


_MEDMNIST = _medmnist_entries()
MEDMNIST_FLAGS = tuple(_MEDMNIST_FACTS)
"""The MedMNIST collections in the registry (registry names at 28x28)."""
_BUILTIN = (*_BUILTIN, *_MEDMNIST)

_BUILTIN_NAMES = frozenset(info.name for info in _BUILTIN)
_REGISTRY: dict[str, DatasetInfo] = {info.name: info for info in _BUILTIN}


# ---------------------------------------------------------------------------------------------
# registry


def list_datasets() -> list[DatasetInfo]:
    """Return every registered dataset, built-in ones first, in registration order.

    Returns
    -------
    list of DatasetInfo
    """
    return list(_REGISTRY.values())


def get_info(name: str | DatasetInfo) -> DatasetInfo:
    """Look a dataset up by name (a :class:`DatasetInfo` is returned as is).

    Raises
    ------
    DatasetError
        If no dataset of that name is registered; the message lists the known names.
    """
    if isinstance(name, DatasetInfo):
        return name
    info = _REGISTRY.get(name)
    if info is None:
        known = ", ".join(sorted(_REGISTRY))
        close = [known for known in _REGISTRY if str(name) and known.startswith(str(name))]
        close += difflib.get_close_matches(str(name), list(_REGISTRY), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise DatasetError(f"unknown dataset {name!r}; known datasets: {known}.{hint}")
    return info


def register(info: DatasetInfo, *, replace: bool = False) -> DatasetInfo:
    """Add a downloadable dataset to the registry.

    Parameters
    ----------
    info : DatasetInfo
        Entry of kind ``"download"`` (bundled datasets need a loader shipped with medai).
    replace : bool
        Allow replacing an entry of the same name (never a built-in one).

    Returns
    -------
    DatasetInfo
        ``info``, for chaining.

    Raises
    ------
    InvalidInputError
        If ``info`` is bundled, or the name is taken and ``replace`` is false.
    """
    if not isinstance(info, DatasetInfo):
        raise InvalidInputError(f"register() expects a DatasetInfo, received {type(info)!r}")
    if info.kind != "download":
        raise InvalidInputError(
            f"dataset {info.name!r}: only kind='download' datasets can be registered"
        )
    if info.name in _BUILTIN_NAMES:
        raise InvalidInputError(
            f"dataset name {info.name!r} is a built-in dataset; choose another name"
        )
    if info.name in _REGISTRY and not replace:
        raise InvalidInputError(
            f"dataset {info.name!r} is already registered; pass replace=True to replace it"
        )
    _REGISTRY[info.name] = info
    return info


def unregister(name: str) -> None:
    """Remove a dataset added with :func:`register` (cached files are left alone).

    Raises
    ------
    InvalidInputError
        If ``name`` is a built-in dataset.
    DatasetError
        If ``name`` is not registered.
    """
    if name in _BUILTIN_NAMES:
        raise InvalidInputError(f"dataset {name!r} is built in and cannot be unregistered")
    get_info(name)
    del _REGISTRY[name]


# ---------------------------------------------------------------------------------------------
# cache


def cache_dir() -> Path:
    """Folder holding downloaded datasets: ``$MEDAI_HOME/datasets``.

    ``MEDAI_HOME`` defaults to ``$XDG_CACHE_HOME/medai``, i.e. ``~/.cache/medai``. The folder is
    not created here; :func:`fetch` creates it when it first downloads.

    Returns
    -------
    pathlib.Path
    """
    home = os.environ.get(HOME_ENV, "").strip()
    if home:
        root = Path(home).expanduser()
    else:
        xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
        root = (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "medai"
    return root / "datasets"


def cache_path(name: str | DatasetInfo) -> Path:
    """Where the file of a downloadable dataset is (or will be) cached.

    Returns
    -------
    pathlib.Path
        ``cache_dir() / name / file name``.

    Raises
    ------
    DatasetError
        If the dataset is unknown or bundled (bundled datasets have no file).
    """
    info = get_info(name)
    if info.kind != "download":
        raise DatasetError(
            f"dataset {info.name!r} is bundled with a Python package and has no cached file; "
            f"load it with load({info.name!r})"
        )
    return cache_dir() / info.name / info.cache_filename


def is_cached(name: str | DatasetInfo) -> bool:
    """True for bundled datasets and for downloads whose file is in the cache (not re-hashed)."""
    info = get_info(name)
    return info.kind == "bundled" or cache_path(info).is_file()


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Return the lower-case hex sha256 of a file, read in chunks."""
    return _file_digest(Path(path), "sha256")


def recorded_sha256(name: str | DatasetInfo) -> str | None:
    """The sha256 recorded on first download of a dataset that pins no checksum, if any."""
    info = get_info(name)
    if info.kind != "download":
        return None
    return _read_record(_record_path(cache_path(info)))


def _file_digest(path: Path, algo: str) -> str:
    digest = hashlib.new(algo, usedforsecurity=False) if algo == "md5" else hashlib.new(algo)
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _record_path(target: Path) -> Path:
    return target.with_name(target.name + _RECORD_SUFFIX)


def _read_record(record: Path) -> str | None:
    try:
        text = record.read_text(encoding="ascii").split()
    except (OSError, UnicodeDecodeError):
        return None
    if text and re.fullmatch(r"[0-9a-f]{64}", text[0]):
        return text[0]
    return None


def _write_record(target: Path, sha256: str) -> None:
    """Record ``sha256`` for trust on first use, atomically, in ``<target>.sha256``."""
    record = _record_path(target)
    tmp_name = ""
    try:
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{record.name}.", suffix=".part", dir=record.parent
        )
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(f"{sha256}  {target.name}\n")
        os.replace(tmp_name, record)
    except OSError as exc:
        raise DatasetError(
            f"cannot record the sha256 of {target} in {record}: {exc}; "
            f"set {HOME_ENV} to a writable folder"
        ) from exc
    finally:
        if tmp_name:
            Path(tmp_name).unlink(missing_ok=True)


@dataclass(frozen=True)
class _Checksum:
    """An expected digest and where it came from (for error messages)."""

    algo: str
    digest: str
    origin: str


def _expected_checksum(info: DatasetInfo, target: Path, *, trust_record: bool) -> _Checksum | None:
    pinned = info.checksum
    if pinned is not None:
        return _Checksum(pinned[0], pinned[1], "pinned in the registry")
    recorded = _read_record(_record_path(target)) if trust_record else None
    if recorded is not None:
        return _Checksum("sha256", recorded, f"recorded on first download in {target.name}.sha256")
    return None


# ---------------------------------------------------------------------------------------------
# download


def _source_url(info: DatasetInfo, url: str | None) -> str:
    if url is not None:
        _check_url(url, info.name)
        return url
    base = os.environ.get(DATASETS_URL_ENV, "").strip()
    if base:
        full = base.rstrip("/") + "/" + urllib.parse.quote(info.cache_filename)
        _check_url(full, info.name)
        return full
    if info.url is None:
        raise DatasetError(
            f"dataset {info.name!r} has no URL; pass url=, set {DATASETS_URL_ENV} to a mirror, "
            f"or put the file at {cache_path(info)}"
        )
    return info.url


def fetch(
    name: str | DatasetInfo,
    *,
    force: bool = False,
    progress: ProgressCallback | None = None,
    url: str | None = None,
    timeout: float = _TIMEOUT_S,
) -> Path:
    """Download a dataset file into the cache (once) and return its verified path.

    A cached file that still matches its checksum is returned without any network access; one
    that does not is downloaded again (and replaced only once the new download verified).

    Parameters
    ----------
    name : str or DatasetInfo
        Registry name, or an entry built by the caller (not necessarily registered).
    force : bool
        Download again even if a verified copy is cached. For entries without a pinned
        checksum this also discards the sha256 recorded on first download and records anew.
    progress : callable, optional
        ``progress(done_bytes, total_bytes)`` called as chunks arrive; ``total_bytes`` is None
        when the server sends no Content-Length. Nothing is printed by this function.
    url : str, optional
        Download from this URL instead of ``$MEDAI_DATASETS_URL`` or the registry URL.
    timeout : float
        Seconds to wait for the server to connect or send data.

    Returns
    -------
    pathlib.Path
        The cached file, ``cache_path(name)``.

    Raises
    ------
    DatasetError
        Unknown or bundled dataset; the server is unreachable or answers an HTTP error (the
        message gives the URL and where to put a manual download); the download is truncated
        or does not match the expected checksum (expected and received digests are named; the
        partial file is removed and nothing is cached).
    """
    info = get_info(name)
    if info.kind != "download":
        raise DatasetError(
            f"dataset {info.name!r} is bundled with a Python package and needs no download; "
            f"load it with load({info.name!r})"
        )
    target = cache_path(info)
    problem = ""
    if not force and target.is_file():
        expected = _expected_checksum(info, target, trust_record=True)
        if expected is None:
            # A file put there by hand, or a record lost: trust it on first use.
            _write_record(target, file_sha256(target))
            return target
        received = _file_digest(target, expected.algo)
        if received == expected.digest:
            return target
        problem = (
            f" (the cached file {target} did not match its {expected.algo} "
            f"{expected.digest} {expected.origin}: received {received})"
        )
    source = _source_url(info, url)
    expected = _expected_checksum(info, target, trust_record=not force)
    sha256 = _download(info, source, target, expected, progress, timeout, problem)
    if info.checksum is None:
        _write_record(target, sha256)
    return target


def _download(
    info: DatasetInfo,
    url: str,
    target: Path,
    expected: _Checksum | None,
    progress: ProgressCallback | None,
    timeout: float,
    problem: str,
) -> str:
    """Stream ``url`` into ``target`` through a verified temporary file; return its sha256."""
    hint = f"download it yourself and put it at {target}{problem}"
    created = [folder for folder in (target.parent, *target.parent.parents) if not folder.exists()]
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=".part", dir=target.parent
        )
    except OSError as exc:
        _remove_empty(created)
        raise DatasetError(
            f"dataset {info.name!r}: cannot write to the cache folder {target.parent}: {exc}; "
            f"set {HOME_ENV} to a writable folder"
        ) from exc
    tmp = Path(tmp_name)
    sha256 = hashlib.sha256()
    md5 = (
        hashlib.md5(usedforsecurity=False)
        if expected is not None and expected.algo == "md5"
        else None
    )
    done = 0
    total: int | None = None
    try:
        with os.fdopen(fd, "wb") as out:
            request = urllib.request.Request(url, headers={"User-Agent": _user_agent()})
            with urllib.request.urlopen(request, timeout=timeout) as response:
                total = _content_length(response)
                if progress is not None:
                    progress(0, total)
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    sha256.update(chunk)
                    if md5 is not None:
                        md5.update(chunk)
                    done += len(chunk)
                    if progress is not None:
                        progress(done, total)
        if total is not None and done != total:
            raise DatasetError(
                f"dataset {info.name!r}: the download from {url} stopped after {done} of "
                f"{total} bytes; try again, or {hint}"
            )
        if done == 0:
            raise DatasetError(
                f"dataset {info.name!r}: the server at {url} sent an empty file; {hint}"
            )
        received_sha256 = sha256.hexdigest()
        if expected is not None:
            received = md5.hexdigest() if md5 is not None else received_sha256
            if received != expected.digest:
                raise DatasetError(
                    f"dataset {info.name!r}: checksum mismatch for the file downloaded from "
                    f"{url}: expected {expected.algo} {expected.digest} ({expected.origin}), "
                    f"received {received}. The download was discarded and nothing was cached. "
                    "The file may be corrupted or changed at the source; try again, use "
                    "force=True / --force if the source changed on purpose and no checksum is "
                    "pinned, or "
                    f"{hint}"
                )
        os.replace(tmp, target)
        return received_sha256
    except urllib.error.HTTPError as exc:
        raise DatasetError(
            f"dataset {info.name!r}: downloading {url} failed with HTTP {exc.code} "
            f"{exc.reason}; {hint}"
        ) from exc
    except urllib.error.URLError as exc:
        raise DatasetError(
            f"dataset {info.name!r}: cannot reach {url}: {exc.reason}; {hint}"
        ) from exc
    except (OSError, http.client.HTTPException) as exc:
        raise DatasetError(
            f"dataset {info.name!r}: downloading {url} failed: {exc!r}; {hint}"
        ) from exc
    finally:
        tmp.unlink(missing_ok=True)
        if not target.exists():
            _remove_empty(created)


def _remove_empty(folders: list[Path]) -> None:
    """Remove the folders a failed download created, innermost first, if they are empty."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return


def _content_length(response: Any) -> int | None:
    value = response.headers.get("Content-Length") if response.headers is not None else None
    try:
        length = int(value) if value is not None else None
    except ValueError:
        return None
    return length if length is not None and length >= 0 else None


def _user_agent() -> str:
    from medai import __version__

    return f"medai/{__version__} (+dataset downloader; Python urllib)"


# ---------------------------------------------------------------------------------------------
# load


def load(
    name: str | DatasetInfo,
    *,
    download: bool = True,
    url: str | None = None,
    progress: ProgressCallback | None = None,
) -> pd.DataFrame:
    """Load a dataset as one DataFrame of features plus label column(s).

    Parameters
    ----------
    name : str or DatasetInfo
        Registry name, or an entry built by the caller.
    download : bool
        For ``download`` datasets: fetch the file if it is not cached yet. If false and it is
        missing, raise instead of touching the network.
    url, progress
        Passed to :func:`fetch`.

    Returns
    -------
    pandas.DataFrame, shape (n_rows, n_features + n_label_columns)
        Binary sets: the features and the 0/1 ``info.target`` column. Survival sets: the
        features, ``time`` (float64) and ``event`` (int64, 1 = event observed). Categorical
        columns are plain integers, floats or strings.

    Raises
    ------
    DatasetError
        Unknown dataset; an image dataset (read those with
        ``medai.imaging.data.load_medmnist``); download or verification failed; the file does
        not parse or lacks the documented label columns.
    MissingExtraError
        A scikit-survival dataset was asked for and ``medai[risk]`` is not installed.
    """
    info = get_info(name)
    if info.modality == "image":
        raise DatasetError(
            f"dataset {info.name!r} is an image dataset, not a table; load it with "
            f"medai.imaging.data.load_medmnist({info.name!r}) or fetch({info.name!r}) for "
            "the file"
        )
    if info.kind == "bundled":
        loader = _BUNDLED_LOADERS.get(info.name)
        if loader is None:
            raise DatasetError(f"dataset {info.name!r} is marked bundled but has no loader")
        frame = loader()
    else:
        path = cache_path(info)
        if not download and not path.is_file():
            raise DatasetError(
                f"dataset {info.name!r} is not in the cache ({path}); run "
                f"`medai datasets fetch {info.name}` or load(..., download=True)"
            )
        path = fetch(info, url=url, progress=progress)
        frame = _read_downloaded(info, path)
    _check_frame(info, frame)
    return frame


def _read_downloaded(info: DatasetInfo, path: Path) -> pd.DataFrame:
    import pandas as pd

    try:
        frame = pd.read_csv(
            path,
            header=None if info.columns is not None else "infer",
            names=list(info.columns) if info.columns is not None else None,
            na_values=list(info.na_values) or None,
            skipinitialspace=True,
        )
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise DatasetError(
            f"dataset {info.name!r}: cannot read {path} as CSV: {exc}; delete it and fetch "
            "again with force=True"
        ) from exc
    post = _POSTPROCESS.get(info.name)
    if post is not None:
        frame = post(frame)
    return frame


def _check_frame(info: DatasetInfo, frame: pd.DataFrame) -> None:
    import numpy as np
    import pandas as pd

    missing = [col for col in info.label_columns if col not in frame.columns]
    if missing:
        raise DatasetError(
            f"dataset {info.name!r}: expected label column(s) {missing} but the data has "
            f"columns {list(frame.columns)}"
        )
    if info.n_rows is not None and len(frame) != info.n_rows:
        raise DatasetError(
            f"dataset {info.name!r}: expected {info.n_rows} rows, received {len(frame)}; the "
            "source file may have changed"
        )
    binary = [str(info.event)] if info.task == "survival" else [str(info.target)]
    for col in binary:
        values = frame[col]
        bad = ~values.isin([0, 1])
        if bool(bad.any()):
            first = int(np.flatnonzero(bad.to_numpy())[0])
            raise DatasetError(
                f"dataset {info.name!r}: column {col!r} must hold 0/1 values; row {first} does not"
            )
    if info.task == "survival":
        time = pd.to_numeric(frame[str(info.time)], errors="coerce")
        if bool(time.isna().any()):
            raise DatasetError(
                f"dataset {info.name!r}: column {info.time!r} must be numeric with no gaps"
            )
