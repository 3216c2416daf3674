"""Tests for ``medai datasets`` (medai.cli.datasets), run through typer's CliRunner."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from medai.cli.datasets import app
from medai.core import datasets
from medai.core.datasets import DatasetInfo

pytestmark = pytest.mark.usefixtures("medai_home", "no_proxy")

ROWS = b"6,148,1\n1,85,0\n8,183,1\n"
runner = CliRunner()


@pytest.fixture
def served_set(http_server: Any) -> Iterator[DatasetInfo]:
    """A registered download dataset served by the local HTTP server, pinned to its sha256."""
    url = http_server.put("cli/tiny.csv", ROWS)
    info = datasets.register(
        DatasetInfo(
            name="cli_tiny",
            title="Tiny test set",
            kind="download",
            task="binary",
            target="y",
            columns=("a", "b", "y"),
            n_rows=3,
            url=url,
            sha256=hashlib.sha256(ROWS).hexdigest(),
            source="tests",
        )
    )
    yield info
    datasets.unregister(info.name)


def test_list_mentions_every_dataset() -> None:
    result = runner.invoke(app, ["list"])
    assert result.exit_code == 0, result.output
    for info in datasets.list_datasets():
        assert info.name in result.stdout
    assert "jbrownlee" in result.stdout
    assert "trust on first use" in result.stdout


def test_list_json_reports_cached_state(medai_home: Path, served_set: DatasetInfo) -> None:
    rows = json.loads(runner.invoke(app, ["list", "--json"]).stdout)
    by_name = {row["name"]: row for row in rows}
    assert set(by_name) == {info.name for info in datasets.list_datasets()}
    assert by_name["cli_tiny"]["cached"] is False
    assert by_name["whas500"]["target"] == ["time", "event"]
    assert by_name["cli_tiny"]["checksum"] == f"sha256:{served_set.sha256[:16]}"  # type: ignore[index]

    assert runner.invoke(app, ["fetch", "cli_tiny"]).exit_code == 0
    rows = json.loads(runner.invoke(app, ["list", "--json"]).stdout)
    assert {row["name"]: row for row in rows}["cli_tiny"]["cached"] is True


def test_fetch_downloads_and_prints_the_path(medai_home: Path, served_set: DatasetInfo) -> None:
    result = runner.invoke(app, ["fetch", "cli_tiny"])
    assert result.exit_code == 0, result.output
    path = Path(result.stdout.strip())
    assert path == medai_home / "datasets" / "cli_tiny" / "tiny.csv"
    assert path.read_bytes() == ROWS
    assert "verified" in result.stderr
    again = runner.invoke(app, ["fetch", "cli_tiny", "--force"])
    assert again.exit_code == 0 and Path(again.stdout.strip()) == path


def test_fetch_reports_a_checksum_mismatch(
    medai_home: Path, http_server: Any, served_set: DatasetInfo
) -> None:
    bad = http_server.put("cli/tiny-bad.csv", ROWS + b"0,0,0\n")
    result = runner.invoke(app, ["fetch", "cli_tiny", "--url", bad])
    assert result.exit_code == 2
    assert "error: dataset 'cli_tiny': checksum mismatch" in result.stderr
    assert result.stdout == ""
    assert not datasets.cache_path("cli_tiny").exists()


def test_fetch_unknown_dataset_exits_2() -> None:
    result = runner.invoke(app, ["fetch", "no_such_set"])
    assert result.exit_code == 2
    assert "error: unknown dataset 'no_such_set'" in result.stderr
    assert "pima_diabetes" in result.stderr


def test_fetch_bundled_dataset_is_a_no_op(medai_home: Path) -> None:
    result = runner.invoke(app, ["fetch", "whas500"])
    assert result.exit_code == 0
    assert "nothing to download" in result.stderr
    assert not medai_home.exists()


def test_fetch_http_404_exits_2(http_server: Any, served_set: DatasetInfo) -> None:
    result = runner.invoke(app, ["fetch", "cli_tiny", "--url", f"{http_server.url}/nope.csv"])
    assert result.exit_code == 2
    assert "HTTP 404" in result.stderr and "put it at" in result.stderr


def test_show_prints_shape_and_rows() -> None:
    result = runner.invoke(app, ["show", "breast_cancer", "--rows", "3"])
    assert result.exit_code == 0, result.output
    assert "569 rows x 31 columns" in result.stdout
    assert "malignant" in result.stdout


def test_show_downloads_if_needed(served_set: DatasetInfo) -> None:
    result = runner.invoke(app, ["show", "cli_tiny"])
    assert result.exit_code == 0, result.output
    assert "3 rows x 3 columns" in result.stdout
    assert datasets.is_cached("cli_tiny")


def test_no_arguments_shows_help() -> None:
    result = runner.invoke(app, [])
    assert "list" in result.output and "fetch" in result.output and "show" in result.output
