"""The reference catalog service in its own process, as a real deployment runs it.

Tests that fork kiosk processes must not have server threads of their own (a fork copies only
the forking thread, and any lock another thread held stays locked in the child), so the service
runs in a subprocess and lives as long as its stdin is open.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

_SERVE = """
import sys
from central.db import Database
from central.seed import seed
from central.server import start_in_thread
db_path = sys.argv[1]
if sys.argv[2] == "seed":
    with Database(db_path) as db:
        seed(db)
server = start_in_thread(db_path)
print(server.port, flush=True)
sys.stdin.read()
server.stop()
"""


class CentralProcess:
    def __init__(self, db_path: Path, *, seed: bool = True) -> None:
        self.db_path = db_path
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _SERVE, str(db_path), "seed" if seed else "-"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        assert_line = self._proc.stdout.readline() if self._proc.stdout else ""
        if not assert_line.strip().isdigit():
            self.close()
            raise RuntimeError("the central service did not start")
        self.port = int(assert_line)
        self.url = f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        if self._proc.stdin:
            self._proc.stdin.close()
        try:
            self._proc.wait(10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(5)

    def __enter__(self) -> CentralProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
