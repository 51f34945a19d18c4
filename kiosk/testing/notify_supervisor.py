"""A service manager for tests where systemd cannot run as PID 1: it starts a command the way
kiosk.service does (Type=notify, WatchdogSec, Restart=always, TimeoutStartSec) and speaks
the real protocol, a Unix datagram socket named by NOTIFY_SOCKET that receives READY=1 and
WATCHDOG=1. It implements `kiosk.appliance.update.ServiceManager`.

Like systemd it resolves the command's path at each start, so a switched /opt/kiosk/venv link
starts the other release; it counts only its own automatic restarts (NRestarts), not the ones
asked for.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from kiosk.appliance.update import ServiceState


class NotifySupervisor:
    def __init__(self, argv: Sequence[str], socket_path: Path, *, env: dict[str, str],
                 watchdog_s: float = 2.0, start_timeout_s: float = 30.0,
                 restart_s: float = 0.5, log: Path | None = None) -> None:
        self.argv = list(argv)
        self.env = {**env, "NOTIFY_SOCKET": str(socket_path),
                    "WATCHDOG_USEC": str(int(watchdog_s * 1e6))}
        self.watchdog_s, self.start_timeout_s, self.restart_s = (watchdog_s, start_timeout_s,
                                                                 restart_s)
        self.log = log
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(str(socket_path))
        self._sock.settimeout(0.1)
        self._lock = threading.Lock()
        self._child: subprocess.Popen[bytes] | None = None
        self._ready = False
        self._started_at = self._last_ping = 0.0
        self._restarts = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> NotifySupervisor:
        self._start()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        with self._lock:
            self._kill()
        self._sock.close()

    # ---- ServiceManager ------------------------------------------------------------------

    def restart(self) -> None:
        with self._lock:
            self._kill()
            self._start()

    def state(self) -> ServiceState:
        with self._lock:
            return ServiceState(ready=self._ready, restarts=self._restarts)

    # ---- systemd's part --------------------------------------------------------------------

    def _start(self) -> None:
        out = self.log.open("ab") if self.log else subprocess.DEVNULL
        self._child = subprocess.Popen(self.argv, env=self.env, stdout=out,
                                       stderr=subprocess.STDOUT)
        self._ready = False
        self._started_at = self._last_ping = time.monotonic()

    def _kill(self) -> None:
        if self._child is not None and self._child.poll() is None:
            self._child.terminate()
            try:
                self._child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._child.kill()
                self._child.wait()
        self._ready = False

    def _watch(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError, OSError):
                message = self._sock.recv(4096).decode(errors="replace")
                with self._lock:
                    if "READY=1" in message:
                        self._ready = True
                    if "READY=1" in message or "WATCHDOG=1" in message:
                        self._last_ping = time.monotonic()
            with self._lock:
                if self._failed():
                    self._kill()
                    self._restarts += 1
                    time.sleep(self.restart_s)
                    self._start()

    def _failed(self) -> bool:
        """Exited, silent past the watchdog, or not ready within the start timeout."""
        child, now = self._child, time.monotonic()
        if child is None or self._stop.is_set():
            return False
        if child.poll() is not None:
            return True
        if self._ready:
            return now - self._last_ping > self.watchdog_s
        return now - self._started_at > self.start_timeout_s


def supervise_kiosk(venv: Path, config: Path, socket_path: Path, **kwargs: object
                    ) -> NotifySupervisor:
    """`<venv>/bin/kiosk run --headless --config <config>`, as the unit's ExecStart."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return NotifySupervisor([str(venv / "bin" / "kiosk"), "run", "--headless", "--config",
                             str(config)], socket_path, env=env, **kwargs)  # type: ignore[arg-type]
