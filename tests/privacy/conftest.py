"""Fixtures for the de-identification tests."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

if importlib.util.find_spec("faker") is None:  # the privacy extra is not installed
    collect_ignore_glob = ["test_*.py"]

GOLD = Path(__file__).resolve().parents[1] / "data" / "deid"


@pytest.fixture(scope="session")
def rules():
    from medai.privacy.deid import Deidentifier

    return Deidentifier(tagger=None, key="test-key-0123456789")
