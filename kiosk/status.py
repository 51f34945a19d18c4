"""The kiosk's local health, status and metrics endpoint, and its status snapshot.

Why: a technician (or the library's monitoring) must see whether a kiosk is serving without
walking to it. Three read-only pages:

    GET /healthz   200 "ok" while the event thread goes round and the journal answers; else 503
    GET /status    the status snapshot as JSON (the same dict the heartbeat sends centrally)
    GET /metrics   Prometheus text format (see kiosk.metrics)

It listens on 127.0.0.1 by default. On any other address a bearer token is required
(`[status] token_env` or `token_file`); without one the server refuses to start, so a kiosk is
never exposed on the library network by accident. A configured token is also checked on the
loopback address.

Nothing here shows a patron identifier: the snapshot has counts, states and device names, and
error texts from the backend are scrubbed of anything that looks like a card or patron number.

The composition root (`kiosk.app.build_kiosk`) attaches the outside observers defined here to
every kiosk: the recent-log buffer for the technician screen, and a listener that asks the sync
worker for a heartbeat right away when something a technician cares about changes (offline, a
device lost, paper out). This module only reads what the kiosk already holds.
"""

from __future__ import annotations

import collections
import contextlib
import hmac
import ipaddress
import json
import logging
import os
import stat
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from domain.privacy import scrub
from kiosk.appliance.update import last_update
from kiosk.metrics import CONTENT_TYPE, Observed, pending_age_s
from kiosk.technician.pin import lockout

if TYPE_CHECKING:
    from kiosk.config import Settings
    from kiosk.metrics import KioskMetrics
    from kiosk.session import Session
    from kiosk.sync import SyncWorker


log = logging.getLogger(__name__)

HEALTHY_LOOP_AGE_S = 10.0
_STARTED_AT = time.monotonic()


class StatusSource(Observed, Protocol):
    """What the status pages, the heartbeat and the watchdog read of a running kiosk."""

    @property
    def settings(self) -> Settings: ...

    @property
    def session(self) -> Session: ...

    @property
    def sync(self) -> SyncWorker: ...

    @property
    def metrics(self) -> KioskMetrics: ...


class StatusConfigError(Exception):
    """The [status] settings cannot be served safely (bad address, no token off loopback)."""


class StatusServerError(Exception):
    """The status endpoint could not listen (address in use, not allowed ...)."""


class RecentLog(logging.Handler):
    """The last lines of the kiosk's log, scrubbed, for the technician screen."""

    def __init__(self, capacity: int = 200, level: int = logging.INFO) -> None:
        super().__init__(level)
        self._lines: collections.deque[str] = collections.deque(maxlen=capacity)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s",
                                            "%H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = scrub(self.format(record).splitlines()[0])
        except Exception:  # a log line we cannot format must not break logging
            return
        self._lines.append(line)

    def lines(self, count: int = 50) -> list[str]:
        return list(self._lines)[-count:]


# ---- observers the composition root attaches ---------------------------------------------


class ChangeHeartbeat:
    """A view listener: when online state or the set of broken devices changes, heartbeat now.

    Staff then see "printer out of paper" within seconds, not at the next 30-second beat.
    """

    def __init__(self, wake: Callable[..., None]) -> None:
        self._wake = wake
        self._last: tuple[bool, tuple[str, ...]] | None = None

    def __call__(self, view: Any) -> None:
        key = (bool(getattr(view, "offline", False)),
               tuple(sorted(getattr(view, "devices_down", ()) or ())))
        first = self._last is None
        if key == self._last:
            return
        self._last = key
        if not first:
            log.info("kiosk state changed (offline=%s, devices down=%s): heartbeat now",
                     key[0], ", ".join(key[1]) or "none")
            self._wake(now=True)


# ---- the snapshot -----------------------------------------------------------------------------


def _version() -> str:
    try:
        from importlib.metadata import PackageNotFoundError, version
    except ImportError:  # pragma: no cover
        return "unknown"
    try:
        return version("library-kiosk")
    except PackageNotFoundError:
        return "unknown"


def device_states(kiosk: StatusSource) -> dict[str, dict[str, Any]]:
    """Each configured device with its type and whether it works now."""
    down = set(getattr(kiosk.session.view, "devices_down", ()) or ())
    states: dict[str, dict[str, Any]] = {}
    for name, table in kiosk.settings.devices.items():
        kind = str(table.get("type", "none"))
        if kind == "none":
            continue
        states[name] = {"type": kind, "ok": name not in down}
    for name in down - set(states):
        states[name] = {"type": "unknown", "ok": False}
    return states


def _queue_state(kiosk: StatusSource, problems: list[str]) -> dict[str, Any]:
    """The journal's queue in figures; a journal that cannot be read is one more problem."""
    try:
        counts = kiosk.journal.counts()
        oldest = kiosk.journal.oldest_pending()
    except Exception as exc:  # report it, do not fail the heartbeat
        problems.append(f"journal unreadable: {scrub(str(exc))}")
        return {}
    return {
        "pending": counts.get("pending", 0) + counts.get("sent", 0),
        "conflicts": counts.get("conflict", 0),
        "rejected": counts.get("rejected", 0),
        "inflight": counts.get("inflight", 0),
        "oldest_pending": oldest.isoformat(timespec="seconds") if oldest else None,
        "oldest_pending_age_s": round(pending_age_s(oldest), 1),
    }


def status_snapshot(kiosk: StatusSource) -> dict[str, Any]:
    """The kiosk's essentials as plain JSON values: /status, the heartbeat, the dashboard."""
    view = kiosk.session.view
    s = kiosk.settings
    problems: list[str] = []
    queue = _queue_state(kiosk, problems)
    devices = device_states(kiosk)
    faults = sorted(name for name, state in devices.items() if not state["ok"])
    try:
        journal = kiosk.journal.health()
    except Exception as exc:  # report it, do not fail the heartbeat
        journal = {"ok": False, "error": scrub(str(exc))}
    if not journal["ok"]:
        faults.append("journal")
    pin_lock = lockout(s)
    if pin_lock["locked"]:
        faults.append("technician_pin")
    queue["quarantined"] = journal.get("quarantined", 0)
    last = float(getattr(kiosk, "last_loop_at", 0.0) or 0.0)
    loop_age = round(time.monotonic() - last, 2) if last else None
    report = kiosk.sync.last_report
    online = bool(kiosk.connectivity.online)
    return {
        "kiosk_id": s.kiosk.id,
        "name": s.kiosk.name,
        "branch": s.kiosk.branch,
        "version": _version(),
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "uptime_s": round(time.monotonic() - _STARTED_AT, 1),
        "heartbeat_s": float(s.sync.heartbeat_s),  # the dashboard's "silent" threshold
        "online": online,
        "backend": {
            "type": s.backend.type,
            "online": online,
            "last_error": scrub(kiosk.connectivity.last_error or ""),
        },
        "queue": queue,
        "last_sync": {"sent": report.sent, "done": report.done, "conflicts": report.conflicts,
                      "rejected": report.rejected, "error": scrub(report.error or "")},
        "devices": devices,
        "journal": journal,
        "clock_skew_s": getattr(kiosk.sync, "clock_skew_s", None),
        "technician_lock": pin_lock,
        "faults": faults,
        "printer_out_of_paper": "printer" in faults,
        "session": {"screen": str(getattr(view.screen, "value", view.screen)),
                    "busy": bool(view.busy)},
        "event_loop_age_s": loop_age,
        "last_update": last_update(s.kiosk.data_dir),
        "profile": profiles.state() if (profiles := getattr(kiosk, "profiles", None)) else None,
        "problems": problems,
    }


def health(kiosk: StatusSource) -> tuple[bool, list[str]]:
    """Serving or not: the event thread goes round and the journal answers."""
    problems: list[str] = []
    last = float(getattr(kiosk, "last_loop_at", 0.0) or 0.0)
    if not last:
        problems.append("event thread not started")
    elif time.monotonic() - last > HEALTHY_LOOP_AGE_S:
        problems.append(f"event thread stuck for {time.monotonic() - last:.0f} s")
    try:
        kiosk.journal.pending_count()
    except Exception as exc:
        problems.append(f"journal unreadable: {scrub(str(exc))}")
    return not problems, problems


# ---- the server -------------------------------------------------------------------------------


def parse_listen(listen: str) -> tuple[str, int]:
    """`host:port` or `[v6]:port` -> (host, port), with a named error for anything else."""
    text = listen.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest.removeprefix(":")
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep:
            raise StatusConfigError(f"status.listen {listen!r}: expected host:port")
    try:
        port = int(port_text)
    except ValueError:
        raise StatusConfigError(f"status.listen {listen!r}: the port is not a number") from None
    if not 0 <= port <= 65535 or not host:
        raise StatusConfigError(f"status.listen {listen!r}: expected host:port, port 0-65535")
    return host, port


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def read_token(status: Any, environ: dict[str, str] | None = None) -> str:
    """The bearer token from `[status] token_env` or `token_file`, or "" when none is set."""
    environ = dict(os.environ) if environ is None else environ
    if status.token_env:
        token = environ.get(status.token_env, "")
        if not token:
            raise StatusConfigError(f"status.token_env: {status.token_env} is not set")
        return token
    if status.token_file:
        path = Path(status.token_file)
        try:
            info = path.stat()
            if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise StatusConfigError(f"status.token_file {path} can be read by others; "
                                        f"run: chmod 600 {path}")
            token = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise StatusConfigError(f"status.token_file: cannot read {path} "
                                    f"({exc.strerror})") from exc
        if not token:
            raise StatusConfigError(f"status.token_file {path} is empty")
        return token
    return ""


class StatusServer:
    """A small threaded HTTP server; `stop()` is idempotent. Context manager."""

    def __init__(self, kiosk: StatusSource, host: str, port: int, token: str) -> None:
        self.kiosk = kiosk
        self.metrics = kiosk.metrics
        handler = _make_handler(self, token)
        try:
            self._httpd = _Server((host, port), handler)
        except OSError as exc:
            raise StatusServerError(f"status endpoint cannot listen on {host}:{port}: "
                                    f"{exc.strerror or exc}") from exc
        self.host = host
        self.port = int(self._httpd.server_address[1])
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{self.port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.25}, name="status-http",
                                        daemon=True)
        self._thread.start()
        self._stopped = False
        log.info("status endpoint on %s (token %s)", self.url,
                 "required" if token else "not required")

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)

    def __enter__(self) -> StatusServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        import socket

        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        super().__init__(address, handler)


class _StatusHandler(BaseHTTPRequestHandler):
    """The three read-only pages; `_make_handler` binds a server and its token."""

    server_version = "kiosk-status"
    sys_version = ""
    timeout = 10
    status_server: StatusServer
    expected: bytes = b""  # the whole Authorization header a request must carry, or b""

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("status request: " + format, *args)

    def _send(self, code: int, body: bytes, content_type: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, code: int, payload: object) -> None:
        self._send(code, json.dumps(payload, default=str).encode(), "application/json")

    def _authorised(self) -> bool:
        if not self.expected:
            return True
        given = (self.headers.get("Authorization") or "").encode()
        return hmac.compare_digest(given, self.expected)

    def do_GET(self) -> None:
        if not self._authorised():
            self._json(401, {"error": "bearer token required"})
            return
        try:
            self._page(self.path.split("?", 1)[0])
        except Exception:  # a status page must never take the kiosk down
            log.exception("status request failed")
            with contextlib.suppress(OSError):
                self._json(500, {"error": "internal error; see the kiosk log"})

    def _page(self, path: str) -> None:
        kiosk = self.status_server.kiosk
        if path == "/healthz":
            ok, problems = health(kiosk)
            text = "ok\n" if ok else "unhealthy: " + "; ".join(problems) + "\n"
            self._send(200 if ok else 503, text.encode(), "text/plain; charset=utf-8")
        elif path == "/status":
            self._json(200, status_snapshot(kiosk))
        elif path == "/metrics":
            self._send(200, self.status_server.metrics.render(kiosk), CONTENT_TYPE)
        else:
            self._json(404, {"error": "not found; try /healthz, /status or /metrics"})

    do_HEAD = do_GET

    def do_POST(self) -> None:
        self._json(405, {"error": "read-only endpoint"})

    do_PUT = do_DELETE = do_PATCH = do_POST


def _make_handler(server: StatusServer, token: str) -> type[BaseHTTPRequestHandler]:
    expected = f"Bearer {token}".encode() if token else b""
    return type("StatusHandler", (_StatusHandler,),
                {"status_server": server, "expected": expected})


def start_status_server(kiosk: StatusSource, settings: Settings | None = None, *,
                        environ: dict[str, str] | None = None) -> StatusServer:
    """Serve /healthz, /status and /metrics for `kiosk` on `[status] listen`.

    Raises StatusConfigError when the address is not loopback and no token is configured.
    """
    settings = settings if settings is not None else kiosk.settings
    host, port = parse_listen(settings.status.listen)
    token = read_token(settings.status, environ)
    if not is_loopback(host) and not token:
        raise StatusConfigError(
            f"status.listen {settings.status.listen!r} is not a loopback address: set "
            "[status] token_env or token_file so only monitoring with the token can read it")
    return StatusServer(kiosk, host, port, token)
