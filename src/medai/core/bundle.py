"""Model bundles: a folder with ``card.json``, the model in safe formats, ``report.html`` and a
sha256 manifest that :func:`read_bundle` verifies.

A bundle never holds a pickle: weights are JSON, safetensors or a library's own text format
(LightGBM). ``manifest.json`` lists the sha256 of every other file; loading refuses a bundle
with a missing, extra or edited file.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import importlib
import json
import os
import shutil
import tempfile
from abc import ABC, abstractmethod
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from medai import __version__
from medai.core.errors import BundleError

__all__ = [
    "CARD",
    "MANIFEST",
    "REPORT",
    "SCHEMA_VERSION",
    "Bundle",
    "base_card",
    "load_bundle",
    "package_versions",
    "read_bundle",
    "write_bundle",
]

SCHEMA_VERSION = 1
CARD = "card.json"
MANIFEST = "manifest.json"
REPORT = "report.html"

#: pillar name -> "module:Class" of its Bundle subclass, imported only when needed.
PILLARS: dict[str, str] = {
    "risk": "medai.risk.model:RiskBundle",
    "imaging": "medai.imaging.model:ImageBundle",
    "text": "medai.text.model:TextBundle",
    "text-ner": "medai.text.ner:NerBundle",
    "molecules": "medai.molecules.model:MolBundle",
}

B = TypeVar("B", bound="Bundle")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def package_versions(*names: str) -> dict[str, str]:
    """Installed versions of ``medai`` and the given distributions (absent ones skipped)."""
    out = {"medai": __version__}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def base_card(pillar: str, task: str, *, seed: int) -> dict[str, Any]:
    """The fields every model card starts with; pillars add the rest."""
    return {
        "schema_version": SCHEMA_VERSION,
        "pillar": pillar,
        "task": task,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "seed": seed,
    }


def write_bundle(path: str | Path, card: dict[str, Any], files: dict[str, bytes]) -> Path:
    """Write a bundle folder atomically.

    The folder is assembled next to ``path`` and renamed into place, so a failure leaves
    no half-written bundle. An existing bundle at ``path`` is replaced; an existing folder
    that is not a bundle is refused.

    Parameters
    ----------
    path
        Destination folder.
    card
        The model card (JSON-serialisable), written as ``card.json``.
    files
        Other files by relative name (no sub-folders), e.g. ``{"model.json": b"..."}``.
    """
    path = Path(path)
    if path.exists() and (
        not path.is_dir() or (any(path.iterdir()) and not (path / MANIFEST).exists())
    ):
        raise BundleError(
            f"{str(path)!r} exists and is not a medai bundle; choose a new folder for --out"
        )
    for name in files:
        if name in (CARD, MANIFEST) or "/" in name or "\\" in name or name.startswith("."):
            raise BundleError(f"invalid bundle file name {name!r}")
    content = {CARD: json.dumps(card, indent=2, sort_keys=False, allow_nan=False).encode()}
    content.update(files)
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "files": {name: _sha256(data) for name, data in sorted(content.items())},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        for name, data in content.items():
            (tmp / name).write_bytes(data)
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def read_bundle(path: str | Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    """Read and verify a bundle folder.

    Returns
    -------
    card, files
        The parsed ``card.json`` and the bytes of every other listed file.

    Raises
    ------
    BundleError
        The folder is missing, has no manifest, or a file is missing, extra or changed.
    """
    path = Path(path)
    if not path.is_dir():
        raise BundleError(f"bundle folder {str(path)!r} does not exist; pass the --out of a train")
    mpath = path / MANIFEST
    if not mpath.is_file():
        raise BundleError(f"{str(path)!r} is not a medai bundle: it has no {MANIFEST}")
    try:
        manifest = json.loads(mpath.read_text())
        listed: dict[str, str] = dict(manifest["files"])
    except (ValueError, KeyError, TypeError):
        raise BundleError(f"{MANIFEST} in {str(path)!r} is not a valid manifest") from None
    if manifest.get("schema_version") != SCHEMA_VERSION:
        raise BundleError(
            f"bundle {str(path)!r} has schema version {manifest.get('schema_version')!r}; "
            f"this medai reads version {SCHEMA_VERSION}"
        )
    present = {p.name for p in path.iterdir() if p.name != MANIFEST}
    extra = sorted(present - set(listed))
    if extra:
        raise BundleError(
            f"bundle {str(path)!r} holds files not in its manifest: {extra}; "
            "the folder was changed after it was saved; re-train or restore it"
        )
    files: dict[str, bytes] = {}
    for name, digest in listed.items():
        fpath = path / name
        if not fpath.is_file():
            raise BundleError(f"bundle {str(path)!r} is missing {name!r}; restore or re-train it")
        data = fpath.read_bytes()
        if _sha256(data) != digest:
            raise BundleError(
                f"bundle file {name!r} in {str(path)!r} does not match its sha256 in {MANIFEST}: "
                "it was edited or corrupted after saving; medai refuses to load it"
            )
        files[name] = data
    try:
        card = json.loads(files.pop(CARD))
    except (KeyError, ValueError):
        raise BundleError(f"bundle {str(path)!r} has no valid {CARD}") from None
    return card, files


class Bundle(ABC):
    """A trained model with its card and report; one subclass per pillar.

    Subclasses implement :meth:`predict`, :meth:`explain`, :meth:`_to_files` and
    :meth:`_from_files`.
    """

    pillar: ClassVar[str]

    def __init__(self, card: dict[str, Any], report_html: str | None = None) -> None:
        self.card = card
        self.report_html = report_html

    @abstractmethod
    def predict(self, x: Any) -> Any:
        """Predictions for new inputs."""

    @abstractmethod
    def explain(self, x: Any) -> Any:
        """Per-input explanations."""

    @abstractmethod
    def _to_files(self) -> dict[str, bytes]:
        """The model's files (safe formats only), by name."""

    @classmethod
    @abstractmethod
    def _from_files(cls: type[B], card: dict[str, Any], files: dict[str, bytes]) -> B:
        """Rebuild the model from :meth:`_to_files` output."""

    def save(self, path: str | Path) -> Path:
        """Write the bundle folder (atomically) and return its path."""
        files = self._to_files()
        if self.report_html is not None:
            files[REPORT] = self.report_html.encode()
        return write_bundle(path, self.card, files)

    @classmethod
    def load(cls: type[B], path: str | Path) -> B:
        """Load and verify a bundle saved by :meth:`save`."""
        card, files = read_bundle(path)
        if card.get("pillar") != cls.pillar:
            raise BundleError(
                f"bundle {str(path)!r} is a {card.get('pillar')!r} model; "
                f"expected a {cls.pillar!r} model"
            )
        report = files.pop(REPORT, None)
        bundle = cls._from_files(card, files)
        bundle.report_html = report.decode() if report is not None else None
        return bundle


def load_bundle(path: str | Path) -> Bundle:
    """Load a bundle of any pillar (the card says which)."""
    card, _ = read_bundle(path)
    pillar = card.get("pillar")
    target = PILLARS.get(str(pillar))
    if target is None:
        raise BundleError(f"bundle {str(path)!r} names an unknown pillar {pillar!r}")
    module, _, name = target.partition(":")
    cls: type[Bundle] = getattr(importlib.import_module(module), name)
    return cls.load(path)
