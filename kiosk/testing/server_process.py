"""A server in its own process that lives as long as its stdin is open.

Why: tests and tools that fork kiosk processes must not have server threads of their own (a fork
copies only the forking thread, and any lock another thread held stays locked in the child). So
the server side (the reference catalog service, a SIP2 ACS) runs as a child process that prints
its TCP port as its first line, serves until its stdin is closed, and may then print a last word
(e.g. its final state as JSON), which `close()` returns.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence


class ServerProcess:
    def __init__(self, argv: Sequence[str], *, what: str = "the server",
                 env: Mapping[str, str] | None = None) -> None:
        self._proc = subprocess.Popen(
            list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            env=None if env is None else {**os.environ, **env},
        )
        first_line = self._proc.stdout.readline() if self._proc.stdout else ""
        if not first_line.strip().isdigit():
            self.close()
            raise RuntimeError(f"{what} did not start")
        self.port = int(first_line)

    def close(self) -> str:
        """Close its stdin (the server's signal to stop) and return what it printed after the
        port; "" when it had to be killed or was closed before."""
        if self._proc.returncode is not None:
            return ""
        try:
            rest, _ = self._proc.communicate(timeout=10)  # closes stdin, reads to the end
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(5)
            return ""
        return rest or ""

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
