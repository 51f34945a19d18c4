"""The one online/offline flag the whole kiosk agrees on.

Why a module of its own: circulation reports what a patron's request met, the sync worker
probes and flips it back, the session shows it; each takes the one `Connectivity` the
composition root makes, and none of them owns it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class Connectivity:
    """The one online/offline flag the whole kiosk agrees on (sync probes, circulation reports).

    After a failure, patrons are not made to wait for a timeout on every item: for
    `recheck_s` seconds the kiosk goes straight to the offline policy, while the sync worker's
    heartbeat probes the central side and flips it back.
    """

    def __init__(self, *, recheck_s: float = 30.0, clock: Callable[[], float] = time.monotonic,
                 on_change: Callable[[bool], None] | None = None) -> None:
        self._online = True
        self._failed_at: float | None = None
        self._recheck_s = recheck_s
        self._clock = clock
        self._lock = threading.Lock()
        self.on_change = on_change
        self.last_error = ""

    @property
    def online(self) -> bool:
        return self._online

    def should_try_online(self) -> bool:
        with self._lock:
            return (self._online or self._failed_at is None
                    or self._clock() - self._failed_at >= self._recheck_s)

    def report(self, online: bool, error: str = "") -> None:
        with self._lock:
            changed = online != self._online
            self._online = online
            self._failed_at = None if online else self._clock()
            self.last_error = error
        if changed:
            log.log(logging.INFO if online else logging.WARNING, "central side is %s%s",
                    "reachable" if online else "unreachable", f" ({error})" if error else "")
            if self.on_change is not None:
                self.on_change(online)
