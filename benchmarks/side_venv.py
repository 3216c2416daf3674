"""Side virtualenvs for the tools medai is compared with (medspaCy, chemprop).

They pin packages medai cannot share a venv with, so each lives in its own folder under
``benchmarks/`` and is built on first use.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAMP = ".medai-stamp.json"


def build_venv(path: str | Path, requirements: Sequence[str], python: str = "python3") -> Path:
    """The virtualenv's python, creating the virtualenv first if needed.

    A relative ``path`` is taken from the repository root. Built with ``python -m venv``, then
    one ``pip install`` per requirement, in order (so an earlier pin, e.g. a CPU torch wheel,
    is in place before a later package asks for it). A stamp file written last, with the
    requirements and ``pip freeze``, makes later calls return at once; a half-built virtualenv
    or one for other requirements is removed and built again.
    """
    path = Path(path)
    if not path.is_absolute():
        path = ROOT / path
    bindir = "Scripts" if os.name == "nt" else "bin"
    exe = path / bindir / ("python.exe" if os.name == "nt" else "python")
    stamp = path / STAMP
    want = list(requirements)
    try:
        if json.loads(stamp.read_text())["requirements"] == want and exe.exists():
            return exe
    except (OSError, ValueError, KeyError, TypeError):
        pass
    if path.exists():
        if not (path / "pyvenv.cfg").is_file():
            raise SystemExit(f"{path} exists and is not a virtualenv; move it away")
        shutil.rmtree(path)
    print(f"building {path} ({', '.join(want)}) ...", file=sys.stderr, flush=True)
    pip = [str(exe), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    for cmd in ([python, "-m", "venv", str(path)], *([*pip, req] for req in want)):
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode:
            raise SystemExit(
                f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}"
                f"{proc.stderr[-3000:]}"
            )
    freeze = subprocess.run(
        [str(exe), "-m", "pip", "freeze", "--disable-pip-version-check"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    stamp.write_text(json.dumps({"requirements": want, "packages": freeze}, indent=1) + "\n")
    return exe
