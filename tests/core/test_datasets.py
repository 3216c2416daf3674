"""Tests for medai.core.datasets: registry, bundled loaders and the checksummed downloader.

Downloads run for real against a local ``ThreadingHTTPServer`` (fixture ``http_server`` in
tests/conftest.py); nothing here reaches the internet.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from medai.core import datasets
from medai.core.datasets import DatasetInfo
from medai.core.errors import DatasetError, InvalidInputError, MedaiError

pytestmark = pytest.mark.usefixtures("medai_home", "no_proxy")

PIMA_COLUMNS = (
    "Pregnancies",
    "Glucose",
    "BloodPressure",
    "SkinThickness",
    "Insulin",
    "BMI",
    "DiabetesPedigreeFunction",
    "Age",
    "Outcome",
)
PIMA_ROWS = (
    b"6,148,72,35,0,33.6,0.627,50,1\n1,85,66,29,0,26.6,0.351,31,0\n8,183,64,0,0,23.3,0.672,32,1\n"
)
SHARED_PIMA = Path(__file__).resolve().parents[2].parent / "shared/data/tabular/pima_diabetes.csv"

BUNDLED = {
    # name: (rows, label columns, a few feature columns that must be there)
    "breast_cancer": (569, ("malignant",), ("mean radius", "worst fractal dimension")),
    "whas500": (500, ("time", "event"), ("age", "gender", "bmi", "chf")),
    "gbsg2": (686, ("time", "event"), ("age", "horTh", "tgrade", "pnodes")),
    "veterans": (137, ("time", "event"), ("Age_in_years", "Celltype", "Karnofsky_score")),
    "flchain": (7874, ("time", "event"), ("age", "sex", "kappa", "lambda", "mgus")),
    "aids": (1151, ("time", "event"), ("age", "cd4", "tx", "karnof")),
}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_info(name: str, url: str | None, data: bytes | None = None, **kw: object) -> DatasetInfo:
    """A headerless Pima-like download entry pinned to the sha256 of ``data``."""
    fields: dict[str, object] = {
        "title": "test set",
        "kind": "download",
        "task": "binary",
        "target": "Outcome",
        "columns": PIMA_COLUMNS,
        "url": url,
        "sha256": None if data is None else sha256(data),
    }
    fields.update(kw)
    return DatasetInfo(name=name, **fields)  # type: ignore[arg-type]


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


@pytest.fixture
def registered() -> Iterator[list[str]]:
    """Names registered during a test; unregistered afterwards."""
    names: list[str] = []
    yield names
    for name in names:
        if name in {info.name for info in datasets.list_datasets()}:
            datasets.unregister(name)


# --- registry --------------------------------------------------------------------------------


def test_list_datasets_has_the_documented_entries() -> None:
    infos = {info.name: info for info in datasets.list_datasets()}
    assert set(BUNDLED) | {"pima_diabetes", "heart_disease"} <= set(infos)
    for name in BUNDLED:
        assert infos[name].kind == "bundled"
        assert infos[name].n_rows == BUNDLED[name][0]
        assert infos[name].source and infos[name].licence
    pima, heart = infos["pima_diabetes"], infos["heart_disease"]
    assert pima.kind == heart.kind == "download"
    assert pima.url == (
        "https://raw.githubusercontent.com/jbrownlee/Datasets/master/pima-indians-diabetes.data.csv"
    )
    assert heart.url is not None and heart.url.endswith("heart-disease/processed.cleveland.data")
    assert pima.columns == PIMA_COLUMNS and pima.target == "Outcome"
    assert heart.na_values == ("?",) and heart.target == "disease"


@pytest.mark.parametrize(
    "call",
    [datasets.load, datasets.fetch, datasets.get_info, datasets.cache_path, datasets.is_cached],
)
def test_unknown_name_lists_known_names(call: object) -> None:
    with pytest.raises(DatasetError) as info:
        call("no_such_set")  # type: ignore[operator]
    message = str(info.value)
    assert "'no_such_set'" in message
    for name in ("breast_cancer", "whas500", "pima_diabetes", "heart_disease"):
        assert name in message
    assert info.value.exit_code == 2


def test_unknown_name_suggests_a_close_one() -> None:
    with pytest.raises(DatasetError, match="Did you mean 'pima_diabetes'"):
        datasets.get_info("pima")


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"name": "../etc"}, "name"),
        ({"name": "Upper"}, "name"),
        ({"kind": "zip"}, "kind"),
        ({"task": "regression"}, "task"),
        ({"sha256": "abc"}, "sha256"),
        ({"md5": "z" * 32}, "md5"),
        ({"url": "ftp://example.org/x.csv"}, "URL"),
        ({"url": None}, "url= or filename="),
        ({"filename": "../x.csv"}, "file name"),
        ({"target": None}, "target"),
    ],
)
def test_dataset_info_rejects_bad_fields(kw: dict[str, object], match: str) -> None:
    fields: dict[str, object] = {
        "name": "ok",
        "title": "t",
        "kind": "download",
        "task": "binary",
        "target": "y",
        "url": "https://example.org/x.csv",
    }
    fields.update(kw)
    with pytest.raises(InvalidInputError, match=match):
        DatasetInfo(**fields)  # type: ignore[arg-type]


def test_dataset_info_defaults_and_normalises() -> None:
    info = DatasetInfo(
        name="s",
        title="t",
        kind="download",
        task="survival",
        url="https://example.org/path/data.csv?raw=1",
        md5="A" * 32,
    )
    assert (info.time, info.event) == ("time", "event")
    assert info.label_columns == ("time", "event")
    assert info.checksum == ("md5", "a" * 32)
    assert info.cache_filename == "data.csv"


def test_register_and_unregister(registered: list[str], http_server: Any) -> None:
    info = make_info("test_registered", "https://example.org/x.csv")
    assert datasets.register(info) is info
    registered.append(info.name)
    assert datasets.get_info("test_registered") is info
    assert info in datasets.list_datasets()
    with pytest.raises(InvalidInputError, match="already registered"):
        datasets.register(info)
    datasets.register(dataclasses.replace(info, title="new"), replace=True)
    assert datasets.get_info("test_registered").title == "new"
    with pytest.raises(InvalidInputError, match="built-in"):
        datasets.register(dataclasses.replace(info, name="pima_diabetes"), replace=True)
    with pytest.raises(InvalidInputError, match="download"):
        datasets.register(
            DatasetInfo(name="b", title="t", kind="bundled", task="binary", target="y")
        )
    with pytest.raises(InvalidInputError):
        datasets.unregister("whas500")
    datasets.unregister("test_registered")
    with pytest.raises(DatasetError):
        datasets.get_info("test_registered")


# --- cache folder ----------------------------------------------------------------------------


def test_cache_dir_respects_medai_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDAI_HOME", str(tmp_path / "home"))
    assert datasets.cache_dir() == tmp_path / "home" / "datasets"
    assert datasets.cache_path("pima_diabetes") == (
        tmp_path / "home" / "datasets" / "pima_diabetes" / "pima-indians-diabetes.data.csv"
    )
    assert not (tmp_path / "home").exists(), "cache_dir() must not create anything"


def test_cache_dir_default_is_user_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEDAI_HOME", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert datasets.cache_dir() == tmp_path / ".cache" / "medai" / "datasets"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert datasets.cache_dir() == tmp_path / "xdg" / "medai" / "datasets"
    assert list(tmp_path.iterdir()) == []


def test_import_has_no_side_effects(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {**os.environ, "MEDAI_HOME": str(home), "HOME": str(tmp_path)}
    code = "import medai.core.datasets as d; d.list_datasets(); d.cache_dir(); print('ok')"
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "ok"
    assert list(tmp_path.iterdir()) == []


# --- bundled datasets ------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(BUNDLED))
def test_bundled_dataset_loads_with_documented_columns(name: str) -> None:
    rows, labels, features = BUNDLED[name]
    info = datasets.get_info(name)
    frame = datasets.load(name)
    assert isinstance(frame, pd.DataFrame)
    assert frame.shape[0] == rows
    assert info.label_columns == labels
    assert set(labels) | set(features) <= set(frame.columns)
    assert not any(isinstance(dtype, pd.CategoricalDtype) for dtype in frame.dtypes)
    binary = labels[-1]
    assert set(np.unique(frame[binary])) == {0, 1}
    assert frame[binary].dtype == np.int64
    if info.task == "survival":
        assert frame["time"].dtype == np.float64
        assert (frame["time"] >= 0).all()
    # The frame survives a CSV round trip unchanged.
    back = pd.read_csv(io.StringIO(frame.to_csv(index=False)))
    assert list(back.columns) == list(frame.columns)
    for col in frame.columns:
        if pd.api.types.is_numeric_dtype(frame[col]):
            np.testing.assert_allclose(back[col].to_numpy(float), frame[col].to_numpy(float))
        else:
            assert back[col].astype(object).where(back[col].notna(), None).tolist() == (
                frame[col].astype(object).where(frame[col].notna(), None).tolist()
            )
    assert datasets.is_cached(name)


def test_breast_cancer_target_is_one_for_malignant() -> None:
    frame = datasets.load("breast_cancer")
    # Wisconsin diagnostic: 212 malignant, 357 benign.
    assert int(frame["malignant"].sum()) == 212
    # Malignant tumours are larger on average.
    means = frame.groupby("malignant")["mean radius"].mean()
    assert means[1] > means[0]


def test_survival_columns_come_from_the_right_fields() -> None:
    from sksurv.datasets import load_veterans_lung_cancer, load_whas500

    frame = datasets.load("whas500")
    _, y = load_whas500()
    np.testing.assert_array_equal(frame["time"], y["lenfol"])
    np.testing.assert_array_equal(frame["event"], y["fstat"].astype(int))
    vets = datasets.load("veterans")
    _, y = load_veterans_lung_cancer()
    np.testing.assert_array_equal(vets["time"], y["Survival_in_days"])
    assert int(vets["event"].sum()) == int(y["Status"].sum()) == 128
    assert vets["Celltype"].dtype == object
    assert set(vets["Celltype"]) == {"adeno", "large", "smallcell", "squamous"}


def test_numeric_categories_become_numbers_and_missing_stays_missing() -> None:
    flchain = datasets.load("flchain")
    assert pd.api.types.is_integer_dtype(flchain["sample.yr"])
    assert flchain["chapter"].isna().sum() == 5705
    aids = datasets.load("aids")
    assert set(aids["karnof"]) == {70, 80, 90, 100}


def test_bundled_dataset_has_nothing_to_fetch() -> None:
    with pytest.raises(DatasetError, match="bundled"):
        datasets.fetch("whas500")
    with pytest.raises(DatasetError, match="bundled"):
        datasets.cache_path("breast_cancer")


# --- downloads -------------------------------------------------------------------------------


def test_download_lands_in_cache_and_is_reused(medai_home: Path, http_server: Any) -> None:
    server = http_server
    url = server.put("ok/pima.csv", PIMA_ROWS)
    info = make_info("test_ok", url, PIMA_ROWS, n_rows=3)
    seen: list[tuple[int, int | None]] = []
    assert not medai_home.exists()

    path = datasets.fetch(info, progress=lambda done, total: seen.append((done, total)))

    assert path == medai_home / "datasets" / "test_ok" / "pima.csv"
    assert path.read_bytes() == PIMA_ROWS
    assert files_under(medai_home) == [path], "no temp files or records for a pinned checksum"
    assert seen[0] == (0, len(PIMA_ROWS)) and seen[-1] == (len(PIMA_ROWS), len(PIMA_ROWS))
    assert datasets.is_cached(info)

    before = len(server.requests)
    assert datasets.fetch(info) == path
    frame = datasets.load(info)
    assert len(server.requests) == before, "a verified cached file is used without network"
    assert list(frame.columns) == list(PIMA_COLUMNS)
    assert frame["Outcome"].tolist() == [1, 0, 1]
    assert frame["BMI"].tolist() == [33.6, 26.6, 23.3]

    datasets.fetch(info, force=True)
    assert len(server.requests) == before + 1


def test_md5_checksum_is_verified(medai_home: Path, http_server: Any) -> None:
    url = http_server.put("md5/pima.csv", PIMA_ROWS)
    good = make_info("test_md5", url, md5=hashlib.md5(PIMA_ROWS).hexdigest())
    assert datasets.fetch(good).read_bytes() == PIMA_ROWS
    bad = make_info("test_md5_bad", url, md5="0" * 32)
    with pytest.raises(DatasetError, match=r"expected md5 0{32}"):
        datasets.fetch(bad)


def test_checksum_mismatch_is_rejected_and_nothing_cached(
    medai_home: Path, http_server: Any
) -> None:
    corrupted = PIMA_ROWS.replace(b"148", b"149")
    url = http_server.put("bad/pima.csv", corrupted)
    info = make_info("test_bad", url, PIMA_ROWS)

    with pytest.raises(DatasetError) as caught:
        datasets.fetch(info)

    message = str(caught.value)
    assert "'test_bad'" in message
    assert f"expected sha256 {sha256(PIMA_ROWS)}" in message
    assert f"received {sha256(corrupted)}" in message
    assert url in message
    assert files_under(medai_home) == []
    assert not datasets.is_cached(info)
    with pytest.raises(DatasetError):
        datasets.load(info)
    assert files_under(medai_home) == []


def test_http_404_raises_dataset_error_with_url_and_hint(
    medai_home: Path, http_server: Any
) -> None:
    url = f"{http_server.url}/missing/nothing.csv"
    info = make_info("test_404", url, PIMA_ROWS)
    with pytest.raises(DatasetError) as caught:
        datasets.fetch(info)
    message = str(caught.value)
    assert "HTTP 404" in message and url in message
    assert f"put it at {datasets.cache_path(info)}" in message
    assert not medai_home.exists(), "a failed download leaves no folders behind"


def test_unreachable_host_raises_dataset_error(medai_home: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/pima.csv"
    with pytest.raises(DatasetError, match=f"cannot reach {url}.*put it at"):
        datasets.fetch(make_info("test_down", url, PIMA_ROWS), timeout=5)
    assert files_under(medai_home) == []


def test_tampered_cache_is_downloaded_again(medai_home: Path, http_server: Any) -> None:
    url = http_server.put("tamper/pima.csv", PIMA_ROWS)
    info = make_info("test_tamper", url, PIMA_ROWS)
    path = datasets.fetch(info)
    path.write_bytes(b"1,2,3\n")
    assert datasets.fetch(info).read_bytes() == PIMA_ROWS


def test_tampered_cache_is_never_used_offline(medai_home: Path, http_server: Any) -> None:
    url = http_server.put("tamper2/pima.csv", PIMA_ROWS)
    info = make_info("test_tamper2", url, PIMA_ROWS)
    path = datasets.fetch(info)
    path.write_bytes(PIMA_ROWS + b"0,0,0,0,0,0,0,0,1\n")
    offline = f"{http_server.url}/gone/pima.csv"
    with pytest.raises(DatasetError, match="did not match its sha256"):
        datasets.load(info, url=offline)


def test_trust_on_first_use_records_and_enforces_sha256(medai_home: Path, http_server: Any) -> None:
    server = http_server
    url = server.put("tofu/pima.csv", PIMA_ROWS)
    info = make_info("test_tofu", url, None)
    assert info.checksum is None
    assert datasets.recorded_sha256(info) is None

    path = datasets.fetch(info)
    assert datasets.recorded_sha256(info) == sha256(PIMA_ROWS) == datasets.file_sha256(path)
    record = path.with_name(path.name + ".sha256")
    assert record.read_text() == f"{sha256(PIMA_ROWS)}  pima.csv\n"

    # The source changes and the cached copy is damaged: the new download must match the record.
    changed = PIMA_ROWS + b"2,100,70,20,80,30.1,0.5,40,0\n"
    server.put("tofu/pima.csv", changed)
    path.write_bytes(b"damaged")
    with pytest.raises(DatasetError, match=f"expected sha256 {sha256(PIMA_ROWS)}"):
        datasets.fetch(info)
    # --force trusts the source anew.
    assert datasets.fetch(info, force=True).read_bytes() == changed
    assert datasets.recorded_sha256(info) == sha256(changed)


def test_file_put_in_cache_by_hand_is_used(medai_home: Path) -> None:
    info = make_info("test_manual", "http://127.0.0.1:9/never.csv", PIMA_ROWS)
    target = datasets.cache_path(info)
    target.parent.mkdir(parents=True)
    target.write_bytes(PIMA_ROWS)
    assert datasets.load(info)["Outcome"].sum() == 2


def test_url_argument_and_mirror_environment_override_the_registry(
    medai_home: Path, http_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = http_server
    nowhere = "http://127.0.0.1:9/pima.csv"
    url = server.put("override/pima.csv", PIMA_ROWS)
    info = make_info("test_override", nowhere, PIMA_ROWS)
    assert datasets.fetch(info, url=url).read_bytes() == PIMA_ROWS

    server.put("mirror/pima.csv", PIMA_ROWS)
    monkeypatch.setenv("MEDAI_DATASETS_URL", f"{server.url}/mirror/")
    mirrored = make_info("test_mirror", nowhere, PIMA_ROWS)
    before = len(server.requests)
    assert datasets.fetch(mirrored).read_bytes() == PIMA_ROWS
    assert server.requests[before:] == ["/mirror/pima.csv"]


def test_load_without_download_does_not_touch_the_network(medai_home: Path) -> None:
    with pytest.raises(DatasetError, match="not in the cache"):
        datasets.load("pima_diabetes", download=False)
    assert not medai_home.exists()


def test_registered_dataset_loads_by_name(
    medai_home: Path, http_server: Any, registered: list[str]
) -> None:
    url = http_server.put("reg/pima.csv", PIMA_ROWS)
    datasets.register(make_info("test_by_name", url, PIMA_ROWS))
    registered.append("test_by_name")
    assert datasets.load("test_by_name").shape == (3, 9)
    assert datasets.is_cached("test_by_name")


def test_loaded_target_and_row_count_are_checked(medai_home: Path, http_server: Any) -> None:
    bad_target = PIMA_ROWS + b"1,1,1,1,1,1,1,1,2\n"
    url = http_server.put("target/pima.csv", bad_target)
    with pytest.raises(DatasetError, match="'Outcome' must hold 0/1 values; row 3"):
        datasets.load(make_info("test_target", url, bad_target))
    url = http_server.put("rows/pima.csv", PIMA_ROWS)
    with pytest.raises(DatasetError, match="expected 768 rows, received 3"):
        datasets.load(make_info("test_rows", url, PIMA_ROWS, n_rows=768))


def test_heart_disease_parser(medai_home: Path, http_server: Any) -> None:
    # Three rows in the layout of processed.cleveland.data, with '?' for missing values.
    data = (
        b"63.0,1.0,1.0,145.0,233.0,1.0,2.0,150.0,0.0,2.3,3.0,0.0,6.0,0\n"
        b"67.0,1.0,4.0,160.0,286.0,0.0,2.0,108.0,1.0,1.5,2.0,3.0,3.0,2\n"
        b"38.0,1.0,3.0,138.0,175.0,0.0,0.0,173.0,0.0,0.0,1.0,?,3.0,0\n"
    )
    url = http_server.put("heart/processed.cleveland.data", data)
    info = dataclasses.replace(datasets.get_info("heart_disease"), n_rows=3, sha256=sha256(data))
    frame = datasets.load(info, url=url)
    assert frame["disease"].tolist() == [0, 1, 0]
    assert frame["num"].tolist() == [0, 2, 0]
    assert frame["ca"].isna().tolist() == [False, False, True]
    assert frame["ca"].dtype == np.float64


@pytest.mark.skipif(not SHARED_PIMA.is_file(), reason=f"{SHARED_PIMA} is not available")
def test_real_pima_file_through_the_builtin_entry(medai_home: Path, http_server: Any) -> None:
    # The jbrownlee file is this table without its header row.
    lines = SHARED_PIMA.read_bytes().splitlines(keepends=True)
    assert lines[0].decode().strip() == ",".join(PIMA_COLUMNS)
    url = http_server.put("real/pima-indians-diabetes.data.csv", b"".join(lines[1:]))
    frame = datasets.load("pima_diabetes", url=url)
    assert frame.shape == (768, 9)
    assert list(frame.columns) == list(PIMA_COLUMNS)
    assert int(frame["Outcome"].sum()) == 268
    assert datasets.recorded_sha256("pima_diabetes") is not None


def test_errors_are_medai_errors() -> None:
    assert issubclass(DatasetError, MedaiError)
