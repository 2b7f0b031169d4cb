"""A real, throwaway PostgreSQL server for the tests, from Debian's ``postgresql`` package.

One server per test session: ``initdb`` into a temporary directory, started on a free
loopback port with its socket in that directory, trust authentication, stopped and
removed at the end. ``postgres_url`` is a database for the whole session;
``fresh_postgres_url`` is an empty database of the test's own (``CREATE DATABASE`` is
quick). Without the binaries the tests that need the server are skipped, saying how
to install them.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator, List, Optional

import pytest

from ltiauthenticator._localhub import free_port

MISSING = "PostgreSQL binaries not found: install Debian's postgresql package: make postgres-deps"
USER = "postgres"

_databases = itertools.count()


def find_bin_dir() -> Optional[Path]:
    """The newest ``/usr/lib/postgresql/<version>/bin`` that has ``initdb`` and ``pg_ctl``."""
    found = [
        Path(initdb).parent
        for initdb in glob.glob("/usr/lib/postgresql/*/bin/initdb")
        if Path(initdb).with_name("pg_ctl").exists()
    ]
    return max(found, key=lambda d: int(d.parent.name), default=None)


def _as_server_user() -> List[str]:
    """PostgreSQL refuses to run as root: as root, run its programs as ``postgres``."""
    return ["runuser", "-u", USER, "--"] if os.geteuid() == 0 else []


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


class PostgresServer:
    """A PostgreSQL cluster in a temporary directory, serving on ``127.0.0.1:port``."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        # Not under pytest's tmp dirs: those are private to root, and the server runs
        # as postgres.
        self.root = Path(tempfile.mkdtemp(prefix="lti-postgres-"))
        self.data = self.root / "data"
        self.port = 0

    def _run(self, *args: str) -> None:
        done = subprocess.run(
            [*_as_server_user(), *args], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed: {done.stdout}{done.stderr}")

    def start(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.root, USER, USER)
        initdb = str(self.bin_dir / "initdb")
        self._run(
            initdb, "-D", str(self.data), "-U", USER, "-A", "trust", "-E", "UTF8",
            "--locale=C", "--no-sync", "--no-instructions",
        )  # fmt: skip
        # A port can be taken between picking and binding by another test run on this
        # machine: then try another.
        failures = []
        for _ in range(3):
            self.port = free_port()
            try:
                self._pg_ctl(
                    "-w", "-l", str(self.root / "server.log"), "start",
                    "-o", f"-h 127.0.0.1 -p {self.port} -k {self.root} -F",
                )  # fmt: skip
                return
            except RuntimeError as e:
                failures.append(e)
        raise RuntimeError(f"PostgreSQL did not start: {failures}")

    def _pg_ctl(self, *args: str) -> None:
        self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), *args)

    def stop(self) -> None:
        try:
            if self.port:
                self._pg_ctl("-w", "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{USER}@127.0.0.1:{self.port}/{database}"

    def _admin(self, statement: str) -> None:
        # Imported here so that a machine without psycopg can still load the conftest.
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user=USER, dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(statement)

    def create_database(self) -> str:
        """A new empty database; its name."""
        name = f"lti_test_{next(_databases)}"
        self._admin(f'CREATE DATABASE "{name}" STRATEGY = FILE_COPY')
        return name

    def drop_database(self, name: str) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    bin_dir = find_bin_dir()
    if bin_dir is None or (os.geteuid() == 0 and not _has_user(USER)):
        pytest.skip(MISSING)
    server = PostgresServer(bin_dir)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    """A SQLAlchemy URL of a database shared by the whole session."""
    return postgres_server.url(postgres_server.create_database())


@pytest.fixture
def fresh_postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A SQLAlchemy URL of an empty database of this test's own, dropped after it."""
    name = postgres_server.create_database()
    yield postgres_server.url(name)
    postgres_server.drop_database(name)
