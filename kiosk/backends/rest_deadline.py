"""One deadline for a whole HTTP exchange, which requests and urllib3 do not have.

requests' read timeout is per read: a server that sends one byte of its status line, headers
or body every quarter second never trips it, and a patron would wait for minutes. The kiosk
needs a bound on the whole exchange. urllib3 hands each request's connection to
`HTTPConnectionPool._make_request`; the pools installed here note that connection for the
calling thread, and one reaper thread shuts its socket down when the thread's deadline passes,
which wakes the blocked read with an error that requests reports as a ConnectionError (the
REST client turns it into BackendUnavailable, as for any dropped line).

One reaper thread for the process, a dict and a condition: registering costs microseconds, not
a thread per request.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool


class _Reaper:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._watched: dict[int, tuple[float, Any]] = {}  # thread id -> (deadline, connection)
        self._thread: threading.Thread | None = None
        # when the reaper wakes next by itself (None: not until notified): a deadline later
        # than that needs no wake-up, so a request costs no context switch in the usual case
        self._wake_at: float | None = None

    def watch(self, deadline: float, conn: Any) -> None:
        with self._cond:
            self._watched[threading.get_ident()] = (deadline, conn)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="http-deadline",
                                                daemon=True)
                self._thread.start()
            if self._wake_at is None or deadline < self._wake_at:
                self._cond.notify()

    def release(self) -> None:
        with self._cond:
            self._watched.pop(threading.get_ident(), None)

    def _run(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                due = [key for key, (deadline, _) in self._watched.items() if deadline <= now]
                for key in due:
                    _deadline, conn = self._watched.pop(key)
                    _shut(conn)
                nearest = min((d for d, _ in self._watched.values()), default=None)
                self._wake_at = nearest
                self._cond.wait(None if nearest is None else max(0.0, nearest - now))
                self._wake_at = None


def _shut(conn: Any) -> None:
    sock = getattr(conn, "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


_reaper = _Reaper()
_deadline = threading.local()


class _WatchedPool(HTTPConnectionPool):
    def _make_request(self, conn: Any, *args: Any, **kwargs: Any) -> Any:
        deadline = getattr(_deadline, "at", None)
        if deadline is not None:
            _reaper.watch(deadline, conn)
        return super()._make_request(conn, *args, **kwargs)


class _WatchedHttpsPool(HTTPSConnectionPool, _WatchedPool):
    """HTTPS pools watched the same way (HTTPSConnectionPool keeps the inherited
    _make_request, so the mixin's comes first in the MRO)."""


class DeadlineAdapter(HTTPAdapter):
    """An HTTPAdapter whose pools honour `exchange_deadline` (direct connections; through a
    proxy the per-read timeouts still apply)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _WatchedPool,
                                                   "https": _WatchedHttpsPool}
        self.poolmanager.key_fn_by_scheme = dict(self.poolmanager.key_fn_by_scheme)


def install(session: requests.Session) -> None:
    """Mount the deadline adapter for both schemes (keeps the session's other settings)."""
    for scheme in ("http://", "https://"):
        session.mount(scheme, DeadlineAdapter())


@contextlib.contextmanager
def exchange_deadline(at: float) -> Iterator[None]:
    """Everything this thread sends over an installed session inside ends by `at`."""
    _deadline.at = at
    try:
        yield
    finally:
        _deadline.at = None
        _reaper.release()
