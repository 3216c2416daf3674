"""The medai exception tree.

Every error medai raises on purpose derives from :class:`MedaiError`; the CLI prints its
message on one line and exits 2 (bad input) or 1 (anything else); the REST API answers 4xx.

::

    MedaiError
    ├── InvalidInputError (also ValueError)    bad data, arguments or options from the user
    │   ├── DataFileError                        a data file missing, empty, ragged, undecodable
    │   ├── SchemaError                          columns missing, extra, wrong type, bad target
    │   └── BundleError                          a bundle folder missing, edited or incompatible
    ├── DatasetError                             a dataset unknown, download failed or corrupted
    └── MissingExtraError (also ImportError)     an optional dependency is not installed

Messages say what was received, what was expected and how to fix it, naming the file, row or
column, never patient values beyond that.
"""

from __future__ import annotations

from types import ModuleType

__all__ = [
    "BundleError",
    "DataFileError",
    "DatasetError",
    "InvalidInputError",
    "MedaiError",
    "MissingExtraError",
    "SchemaError",
    "require",
]


class MedaiError(Exception):
    """Base class of every error medai raises on purpose."""

    exit_code = 1


class InvalidInputError(MedaiError, ValueError):
    """The user's data, arguments or options are not usable as given."""

    exit_code = 2


class DataFileError(InvalidInputError):
    """A data file is missing, empty, ragged or not decodable."""


class SchemaError(InvalidInputError):
    """Columns are missing, extra or of the wrong type, or the target is unusable."""


class BundleError(InvalidInputError):
    """A model bundle is missing, was edited by hand, or is not one medai can load."""


class DatasetError(MedaiError):
    """A dataset is unknown, cannot be downloaded, or failed its checksum."""

    exit_code = 2


class MissingExtraError(MedaiError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""

    exit_code = 2


def require(module: str, extra: str) -> ModuleType:
    """Import ``module`` or fail with a message naming the ``medai[extra]`` to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(
            f"{module!r} is needed for this and is not installed; "
            f"install it with: pip install 'medai[{extra}]'"
        ) from exc
