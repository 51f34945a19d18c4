"""systemd's watchdog for `kiosk run`: READY when serving, WATCHDOG only while really alive.

Why: a kiosk whose screen froze or whose event thread hangs looks "running" to systemd, and a
patron walks away from a dead screen. With `Type=notify` and `WatchdogSec=` in kiosk.service,
systemd restarts the kiosk when the pings stop. So a ping means two things at once:

* the caller of `tick()` is alive: the UI's Kivy clock calls it every frame or second (or the
  headless main loop does), so a frozen UI stops calling and the pings stop;
* the event thread went round recently (`Kiosk.last_loop_at`): a session stuck in a call that
  never returns stops the pings even though the screen still redraws.

The sd_notify protocol is one datagram to the Unix socket named by $NOTIFY_SOCKET (a path, or
an abstract name starting with "@"). Without $NOTIFY_SOCKET (tests, a shell) nothing is sent.
Send errors are logged, never raised: the watchdog must not be what takes the kiosk down.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kiosk.status import StatusSource


log = logging.getLogger(__name__)

DEFAULT_STALE_S = 10.0
STATUS_EVERY_S = 10.0


class Notifier:
    """Sends sd_notify messages; a no-op when $NOTIFY_SOCKET is not set."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        environ = os.environ if environ is None else environ
        address = environ.get("NOTIFY_SOCKET", "")
        self.address: str | bytes | None = None
        if address.startswith("@"):
            self.address = "\0" + address[1:]
        elif address.startswith("/"):
            self.address = address
        elif address:
            log.warning("NOTIFY_SOCKET %r is neither a path nor an abstract name; ignored",
                        address)
        self._sock: socket.socket | None = None
        self._warned = False

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def notify(self, message: str) -> bool:
        if self.address is None:
            return False
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._sock.sendto(message.encode(), self.address)
        except OSError as exc:
            if not self._warned:
                log.warning("cannot talk to systemd (%s): %s", self.address, exc)
                self._warned = True
            return False
        self._warned = False
        return True

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def watchdog_interval(environ: Mapping[str, str] | None = None, default: float = 5.0) -> float:
    """How often to ping: half of systemd's WatchdogSec (from $WATCHDOG_USEC), as it advises."""
    environ = os.environ if environ is None else environ
    try:
        usec = int(environ.get("WATCHDOG_USEC", "0"))
    except ValueError:
        usec = 0
    return usec / 2e6 if usec > 0 else default


class Watchdog:
    """READY / WATCHDOG / STATUS / STOPPING for one kiosk.

    `tick()` may be called as often as the caller likes (every frame): it pings at most every
    `interval` seconds, and only while the event thread is not older than `stale_s`. It returns
    None, so `Clock.schedule_interval(lambda dt: watchdog.tick(), 1)` keeps running (Kivy
    cancels a callback that returns False).
    """

    def __init__(self, kiosk: StatusSource, *, clock: Callable[[], float] = time.monotonic,
                 notifier: Notifier | None = None, stale_s: float = DEFAULT_STALE_S,
                 interval: float | None = None, environ: Mapping[str, str] | None = None
                 ) -> None:
        self._kiosk = kiosk
        self._clock = clock
        self._notifier = notifier or Notifier(environ)
        self._stale_s = stale_s
        self._interval = interval if interval is not None else min(
            watchdog_interval(environ), stale_s / 2)
        self._last_ping = float("-inf")
        self._last_status = float("-inf")
        self._stuck_reported = False
        self._ready = False
        self.pings = 0

    def ready(self) -> None:
        """The kiosk serves: journal recovered, devices open, event thread running."""
        self._ready = True
        self._notifier.notify(f"READY=1\nSTATUS={self._status_line()}\nMAINPID={os.getpid()}")
        log.info("told systemd the kiosk is ready")

    def tick(self) -> None:
        """Ping when due and alive. Returns None on purpose: Kivy unschedules a clock callback
        that returns False, and callers pass `tick` straight to `Clock.schedule_interval`.
        `pings` counts the pings sent (tests, diagnostics)."""
        self._tick()

    def _tick(self) -> bool:
        if not self._ready:
            return False
        now = self._clock()
        last_loop = float(getattr(self._kiosk, "last_loop_at", 0.0) or 0.0)
        age = now - last_loop
        if not last_loop or age > self._stale_s:
            if not self._stuck_reported:
                log.error("event thread silent for %.0f s: no more watchdog pings, systemd will "
                          "restart the kiosk", age)
                self._notifier.notify(f"STATUS=event thread stuck for {age:.0f} s")
                self._stuck_reported = True
            return False
        if self._stuck_reported:
            log.warning("event thread is going round again")
            self._stuck_reported = False
        if now - self._last_ping < self._interval:
            return False
        message = "WATCHDOG=1"
        if now - self._last_status >= STATUS_EVERY_S:
            message += f"\nSTATUS={self._status_line()}"
            self._last_status = now
        self._last_ping = now
        if self._notifier.notify(message):
            self.pings += 1
        return True

    def stopping(self) -> None:
        self._ready = False
        self._notifier.notify("STOPPING=1\nSTATUS=stopping")
        self._notifier.close()

    def _status_line(self) -> str:
        """One line for `systemctl status kiosk`: online, queue, devices down."""
        try:
            online = "online" if self._kiosk.connectivity.online else "OFFLINE"
            pending = self._kiosk.journal.pending_count()
            down = tuple(getattr(self._kiosk.session.view, "devices_down", ()) or ())
        except Exception as exc:  # the status line is a courtesy; never fail for it
            return f"serving (status unavailable: {type(exc).__name__})"
        line = f"serving, {online}, {pending} queued"
        return line + (f", down: {', '.join(down)}" if down else "")


def schedule_on_kivy_clock(watchdog: Watchdog, every_s: float = 1.0) -> Any:
    """Tick from the UI thread's Kivy clock, so a frozen UI stops the pings.

    Call before `run_ui`; returns the Kivy clock event (cancel it to stop).
    """
    from kivy.clock import Clock

    def tick(_dt: float) -> None:
        watchdog.tick()

    return Clock.schedule_interval(tick, every_s)
