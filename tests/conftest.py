"""Fixtures shared by the whole test suite."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serve files from a folder without logging every request to stderr."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class LocalHTTPServer:
    """A folder served over HTTP on 127.0.0.1 (see the ``http_server`` fixture).

    Attributes
    ----------
    root : Path
        The served folder; ``url + "/a/b.csv"`` serves ``root / "a" / "b.csv"``.
    url : str
        Base URL without a trailing slash, e.g. ``http://127.0.0.1:41234``.
    requests : list of str
        Paths requested so far (to check that a cached file was reused).
    """

    root: Path
    url: str
    requests: list[str] = field(default_factory=list)

    def put(self, relpath: str, data: bytes) -> str:
        """Write ``data`` at ``root / relpath`` and return its URL."""
        path = self.root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return f"{self.url}/{relpath}"


@pytest.fixture(scope="session")
def http_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalHTTPServer]:
    """Serve a temporary folder over ``ThreadingHTTPServer`` on 127.0.0.1 and a free port.

    The server runs in a daemon thread for the whole session and is shut down at the end.
    Missing files answer 404. Requests bypass any configured HTTP proxy only if the test sets
    ``no_proxy``; use the ``no_proxy`` fixture for that.
    """
    root = tmp_path_factory.mktemp("http_root")
    served = LocalHTTPServer(root=root, url="")

    class Handler(_QuietHandler):
        def do_GET(self) -> None:
            served.requests.append(self.path)
            super().do_GET()

    handler = functools.partial(Handler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    host, port = server.server_address[:2]
    served.url = f"http://{host!s}:{port}"
    thread = threading.Thread(target=server.serve_forever, name="test-http-server", daemon=True)
    thread.start()
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make urllib reach 127.0.0.1 directly even where an HTTP proxy is configured."""
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@pytest.fixture
def medai_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point ``MEDAI_HOME`` at a fresh temporary folder (nothing touches ``~/.cache``)."""
    home = tmp_path / "medai_home"
    monkeypatch.setenv("MEDAI_HOME", str(home))
    monkeypatch.delenv("MEDAI_DATASETS_URL", raising=False)
    return home


# --- shared data and trained bundles for the risk tests --------------------------------------
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
PIMA = SHARED_DATA / "tabular" / "pima_diabetes.csv"
PIMA_ZERO_MISSING = ["Glucose", "BloodPressure", "SkinThickness", "Insulin", "BMI"]

FAST = {"cv_repeats": 1, "n_boot": 200, "seed": 0}


@pytest.fixture(scope="session")
def breast_cancer() -> Any:
    from medai.core.datasets import load

    return load("breast_cancer")


@pytest.fixture(scope="session")
def whas500() -> Any:
    from medai.core.datasets import load

    return load("whas500")


@pytest.fixture(scope="session")
def pima() -> Any:
    import pandas as pd

    if not PIMA.exists():
        pytest.skip(f"shared data {PIMA} is absent")
    return pd.read_csv(PIMA)


@pytest.fixture(scope="session")
def binary_bundle(breast_cancer: Any) -> Any:
    from medai.risk import train

    return train(breast_cancer, target="malignant", **FAST)


@pytest.fixture(scope="session")
def survival_bundle(whas500: Any) -> Any:
    from medai.risk import train

    return train(whas500, time="time", event="event", horizons=[365, 730], **FAST)


@pytest.fixture(scope="session")
def binary_bundle_dir(binary_bundle: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return Path(binary_bundle.save(tmp_path_factory.mktemp("bundles") / "bc"))
