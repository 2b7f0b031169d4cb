"""The install page test's virtualenv, kept in ``.test-cache/install-page/`` between runs.

Made afresh (by the test) when ``pyproject.toml``, the page, Python or the day changed;
otherwise kept, and given this checkout's package again whenever the package's files
differ from those it was last installed from. The xdist scheduler (``tests/conftest.py``)
asks :func:`kept_venv_ready` to put the install page first on a fresh clone.
"""

from __future__ import annotations

import datetime
import fcntl
import hashlib
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, List

REPO = Path(__file__).resolve().parents[2]
PAGE = REPO / "docs" / "source" / "tutorials" / "install.md"
CACHE = REPO / ".test-cache" / "install-page"
PIP_QUIET = ["--quiet", "--disable-pip-version-check"]
_COMPLETE = ".made-by-the-install-page-test"


def run_pip(args: List[str]) -> None:
    installed = subprocess.run([*args, *PIP_QUIET], capture_output=True, text=True, timeout=600)
    assert installed.returncode == 0, installed.stdout[-2000:] + installed.stderr[-4000:]


def venv_key(page: str) -> str:
    """What the page's install depends on: the dependencies, the page, Python, the day
    (PyPI's releases of the dependencies change what pip resolves)."""
    digest = hashlib.sha256()
    for part in (
        (REPO / "pyproject.toml").read_bytes(),
        page.encode(),
        sys.version.encode(),
        datetime.date.today().isoformat().encode(),
    ):
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()[:16]


def kept_venv_ready() -> bool:
    """Whether a kept virtualenv fits the page (the test then takes ~10 s, not 70 s+)."""
    return (CACHE / venv_key(PAGE.read_text()) / _COMPLETE).exists()


def package_digest() -> str:
    """What pip builds the package from: its files and pyproject.toml."""
    digest = hashlib.sha256((REPO / "pyproject.toml").read_bytes())
    for path in sorted((REPO / "ltiauthenticator").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


@contextmanager
def page_venv(page: str, make: Callable[[Path], None]) -> Iterator[Path]:
    """The page's virtualenv with this checkout's package: kept, or made by ``make``.

    A lock keeps another test run in this checkout from changing it meanwhile.
    """
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        venv = CACHE / venv_key(page)
        complete = venv / _COMPLETE
        installed = venv / ".package-digest"
        if complete.exists():
            if not installed.exists() or installed.read_text() != package_digest():
                pip = str(venv / "bin" / "pip")
                run_pip([pip, "install", "--no-deps", "--force-reinstall", str(REPO)])
        else:
            for old in CACHE.iterdir():
                if old.is_dir():
                    shutil.rmtree(old)
            make(venv)
            complete.touch()
        installed.write_text(package_digest())
        yield venv
