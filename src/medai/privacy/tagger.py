"""Placeholder: the trained tagger comes next."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def default_tagger_path() -> Path | None:
    return None


def default_tagger() -> Any:
    return None
