"""A real PostgreSQL server of our own for tests and benchmarks: Debian's binaries, a data folder
made by initdb in a temporary folder, a Unix socket there, no TCP port.

Why not the machine's cluster: tests must not depend on, or change, a server someone set up;
this one lives as long as the test run and goes with its folder. PostgreSQL refuses to run as
root, so as root the server runs as the `postgres` user Debian's package creates.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg import sql


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL binaries here, or the server would not start."""


def _bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[4]))
    if not found:
        raise PostgresUnavailable("no PostgreSQL server binaries (Debian package postgresql)")
    return Path(found[-1]).parent


class PostgresServer:
    """One throwaway server. `url(name)` is a database URL; `clone` copies a template fast."""

    def __init__(self, *, durable: bool = False, max_connections: int = 200) -> None:
        """`durable=False` (tests) turns fsync off: nothing here survives the run anyway.
        Benchmarks ask for `durable=True`, what a library runs."""
        self.folder = Path(tempfile.mkdtemp(prefix="kiosk-pg-"))
        self.socket_dir = self.folder / "socket"
        self.socket_dir.mkdir()
        data = self.folder / "data"
        user: str | None = None
        if os.geteuid() == 0:
            user = "postgres"
            uid, gid = pwd.getpwnam(user).pw_uid, pwd.getpwnam(user).pw_gid
            for path in (self.folder, self.socket_dir):
                os.chown(path, uid, gid)
        bindir = _bindir()
        subprocess.run([str(bindir / "initdb"), "-D", str(data), "-U", "kiosk", "--auth=trust",
                        "-E", "UTF8", "--no-locale"], user=user, check=True,
                       capture_output=True, timeout=120)
        settings = ["-c", "listen_addresses=", "-c", f"unix_socket_directories={self.socket_dir}",
                    "-c", f"max_connections={max_connections}"]
        if not durable:
            settings += ["-c", "fsync=off", "-c", "synchronous_commit=off",
                         "-c", "full_page_writes=off"]
        self._log = open(self.folder / "server.log", "wb")  # noqa: SIM115 - lives with the server
        self._process = subprocess.Popen([str(bindir / "postgres"), "-D", str(data), *settings],
                                         user=user, stdout=self._log, stderr=subprocess.STDOUT)
        self._wait_ready()

    def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.url("postgres"), connect_timeout=2):
                    return
            except psycopg.OperationalError as exc:
                if self._process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise PostgresUnavailable(f"the PostgreSQL server did not start: {exc}") \
                        from exc
                time.sleep(0.1)

    def url(self, database: str) -> str:
        return f"postgresql://kiosk@/{database}?host={self.socket_dir}"

    def _admin(self, statement: sql.Composed) -> None:
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(statement)

    def create(self, name: str, *, template: str | None = None) -> str:
        """A new database (a copy of `template`, which nobody may be connected to), its URL."""
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            statement = sql.SQL("{} TEMPLATE {}").format(statement, sql.Identifier(template))
        self._admin(statement)
        return self.url(name)

    def drop(self, name: str) -> None:
        self._admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(name)))

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(10)
            if self._process.poll() is None:
                self._process.kill()
                self._process.wait(5)
        self._log.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
