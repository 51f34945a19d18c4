"""The reference catalog service in its own process, as a real deployment runs it.

Tests that fork kiosk processes must not have server threads of their own (a fork copies only
the forking thread, and any lock another thread held stays locked in the child), so the service
runs in a subprocess and lives as long as its stdin is open (see `ServerProcess`).
"""

from __future__ import annotations

import sys
from pathlib import Path

from kiosk.testing.server_process import ServerProcess

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


class CentralProcess(ServerProcess):
    def __init__(self, db_path: Path, *, seed: bool = True) -> None:
        self.db_path = db_path
        super().__init__([sys.executable, "-c", _SERVE, str(db_path), "seed" if seed else "-"],
                         what="the central service")
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> CentralProcess:
        return self
