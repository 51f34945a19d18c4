"""The SIP2 link: one TCP (optionally TLS) connection, one request in flight, a lock.

SIP2 has no request ids, so a reply belongs to a request only by order: two
threads sharing a socket would swap each other's answers. Every exchange
therefore holds `_lock` from send to reply, and after any fault that could
leave a half-read reply in the socket the connection is dropped and rebuilt
(connect, TLS, login 93, status 99) on the next request.

Errors leaving this module are only `BackendUnavailable` and its subclasses::

    BackendUnavailable      no connection, timeout, server closed, gave up resending
    ├── MalformedReply      the server sent bytes that are not the SIP2 reply we asked for
    └── AuthenticationFailed login (93) refused: the kiosk's CN/CO/CP are wrong

Retries: a read-only request (status, patron, item, login, end session) is
sent again once on a fresh connection after a drop. A circulation request
(checkout, checkin, renew, fee) is not: SIP2 has no idempotency key and a
repeated checkout is a renewal on some servers, so the caller learns the
outcome is unknown (BackendUnavailable) and the journal's VOID path decides.
Except when it cannot have arrived: servers close idle connections (60 s is
common), so before sending, a connection the peer has closed (or that holds
bytes nobody asked for) is replaced with a fresh one and a fresh login; and a
request none of whose bytes could be written is sent once more on a fresh
connection, whatever it is.

Deadlines: one request, with its resends and any reconnect and login it needs,
ends by one deadline (`timeout_s`, or the ACS's own timeout when configured),
cut to the patron's wait bound (`kiosk.backends.base.patron_wait`): a server
that drips a byte at a time cannot stretch a patron's wait.
"""

from __future__ import annotations

import contextlib
import logging
import math
import select
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from kiosk.backends.base import (
    AuthenticationFailed,
    BackendUnavailable,
    MalformedReply,
    WaitExpired,
    wait_left,
)
from kiosk.backends.sip2.codec import (
    SPECS,
    ChecksumError,
    Message,
    ProtocolError,
    decode,
    encode,
    make,
    spec_for,
    split_frames,
)
from kiosk.backends.sip2.dates import parse_sip_date
from kiosk.backends.sip2.settings import Sip2Settings

log = logging.getLogger(__name__)

MAX_FRAME_BYTES = 64 * 1024
MIN_ACS_TIMEOUT_S = 1.0
IDEMPOTENT = frozenset({"93", "99", "23", "63", "17", "35"})
# Order of the 16 flags in the 98 BX field (SIP2 2.00).
BX_ORDER = ("23", "11", "09", "01", "99", "97", "93", "63",
            "35", "37", "17", "19", "25", "15", "29", "65")
MESSAGE_NAMES = {
    "23": "patron status", "11": "checkout", "09": "checkin", "01": "block patron",
    "99": "SC/ACS status", "97": "request resend", "93": "login",
    "63": "patron information", "35": "end patron session", "37": "fee paid",
    "17": "item information", "19": "item status update", "25": "patron enable",
    "15": "hold", "29": "renew", "65": "renew all",
}


@dataclass(frozen=True, slots=True)
class AcsStatus:
    """The 98 ACS status, decoded into what the kiosk's policies need."""

    online: bool
    checkin_ok: bool
    checkout_ok: bool
    renewal_policy: bool
    status_update_ok: bool
    offline_ok: bool
    timeout_s: float | None  # None: the ACS gave no usable value (000 / 999)
    retries: int | None  # None: 999 = unknown
    server_time: datetime | None
    protocol_version: str
    institution_id: str
    library_name: str
    supported: frozenset[str]  # command codes flagged Y in BX; empty when BX absent
    bx: str
    screen_message: str

    @classmethod
    def from_message(cls, msg: Message, settings: Sip2Settings) -> AcsStatus:
        timeout_tenths = int(msg.flag("timeout_period"))
        retries = int(msg.flag("retries_allowed"))
        try:
            server_time: datetime | None = parse_sip_date(
                msg.flag("date_time_sync"), server_tz=settings.tz
            )
        except ProtocolError:
            server_time = None
        bx = (msg.get("BX") or "").upper()
        supported = frozenset(code for code, f in zip(BX_ORDER, bx, strict=False) if f == "Y")
        return cls(
            online=msg.yes("online_status"),
            checkin_ok=msg.yes("checkin_ok"),
            checkout_ok=msg.yes("checkout_ok"),
            renewal_policy=msg.yes("acs_renewal_policy"),
            status_update_ok=msg.yes("status_update_ok"),
            offline_ok=msg.yes("offline_ok"),
            timeout_s=None if timeout_tenths in (0, 999) else timeout_tenths / 10,
            retries=None if retries == 999 else retries,
            server_time=server_time,
            protocol_version=msg.flag("protocol_version"),
            institution_id=msg.get("AO") or "",
            library_name=msg.get("AM") or "",
            supported=supported,
            bx=bx,
            screen_message=msg.screen_message,
        )


# The requests a kiosk sends, by command code (a reply code is not one).
_REQUESTS = {code: spec for code, spec in SPECS.items() if spec.reply is not None}


class _LinkLost(Exception):
    """Internal: the connection is unusable; the caller decides retry or raise."""


class _NothingSent(_LinkLost):
    """Internal: the link failed before any byte of the request was written (safe to resend)."""


class Sip2Client:
    """A thread-safe SIP2 connection to one ACS; use as a context manager or close()."""

    def __init__(
        self, settings: Sip2Settings, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.settings = settings
        # the wire format, resolved once (settings are frozen): read on every exchange
        self._charset = settings.codec_charset
        self._terminator = settings.terminator_bytes
        self._error_detection = settings.error_detection
        self._clock = clock
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._sock_timeout = -1.0
        self._kernel_timeouts = False
        self._buffer = bytearray()
        self._seq = -1
        self._acs: AcsStatus | None = None
        self._status_due = float("-inf")  # when the scheduled SC status is next due
        # per exchange, from the last ACS status (or the settings): see _fetch_status
        self._exchange_timeout = self._timeout()
        self._resends = self._resend_budget()
        self._closed = False
        self.connects = 0  # how many times a connection was (re)built; for the doctor/tests

    # -- public -------------------------------------------------------------

    def request(self, message: Message) -> Message:
        """Send one request and return its reply (checked to be the matching command)."""
        spec = _REQUESTS.get(message.code)
        if spec is None or spec.reply is None:
            spec_for(message.code)  # an unknown code is a ProtocolError
            raise ValueError(f"{message.code} is not a request the kiosk sends")
        expect = spec.reply
        with self._lock:
            idempotent = message.code in IDEMPOTENT
            for attempt in range(2):
                if self._sock is not None and self._peer_gone():
                    log.info("SIP2: the server closed the idle connection; reconnecting")
                    self._drop()
                if self._sock is None or self._clock() >= self._status_due:
                    self._session_before()
                # after the status: a fresh ACS status may have changed the exchange timeout
                deadline = self._clock() + self._budget(self._exchange_timeout)
                try:
                    return self._exchange(message, expect, deadline)
                except _LinkLost as exc:
                    self._drop()
                    if attempt == 0 and (idempotent or isinstance(exc, _NothingSent)) \
                            and self._clock() < deadline:
                        log.info("SIP2 %s: %s; reconnecting and retrying", spec.name, exc)
                        continue
                    raise BackendUnavailable(f"SIP2 {spec.name}: {exc}",
                                             reached=not isinstance(exc, _NothingSent)) from None
        raise BackendUnavailable("SIP2: unreachable")  # pragma: no cover - loop returns

    def _session_before(self) -> None:
        """Connect, log in and fetch the status before a request: whatever fails here fails
        before a byte of the request left, so it cannot have reached the library."""
        try:
            self._ensure_session(self._clock() + self._budget(self._exchange_timeout))
        except BackendUnavailable as exc:
            exc.reached = False
            raise

    def _budget(self, seconds: float) -> float:
        try:
            return wait_left(seconds)
        except WaitExpired:
            # always asked before an exchange: nothing of it was sent
            raise BackendUnavailable("SIP2: the patron's wait bound ran out",
                                     reached=False) from None

    def _peer_gone(self) -> bool:
        """An idle connection that is readable has been closed by the server (or holds bytes
        no request asked for): either way it must not carry the next request."""
        sock = self._sock
        if sock is None:
            return True
        if isinstance(sock, ssl.SSLSocket) and sock.pending():
            return True
        try:
            readable, _, _ = select.select([sock], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(readable)

    def status(self, *, refresh: bool = False, status_code: str = "0") -> AcsStatus:
        """The ACS status, fetched now when `refresh` or when older than the schedule."""
        with self._lock:
            deadline = self._clock() + self._budget(self._exchange_timeout)
            if self._sock is not None and self._peer_gone():
                self._drop()
            fresh = self._ensure_session(deadline)
            if (refresh and not fresh) or status_code != "0":
                self._fetch_status(status_code, deadline)
            if self._acs is None:  # pragma: no cover - _ensure_session sets it
                raise BackendUnavailable("SIP2: no ACS status")
            return self._acs

    @property
    def last_status(self) -> AcsStatus | None:
        return self._acs

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._drop()

    def __enter__(self) -> Sip2Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- session ------------------------------------------------------------

    def _ensure_session(self, deadline: float) -> bool:
        """Connect/login/status when needed; True if a status was fetched just now."""
        if self._closed:
            raise BackendUnavailable("SIP2 client is closed")
        if self._sock is None:
            self._connect(deadline)
            try:
                if self.settings.login_required:
                    self._login(deadline)
                self._fetch_status("0", deadline)
            except BaseException:
                self._drop()
                raise
            return True
        if self._clock() >= self._status_due:
            self._fetch_status("0", deadline)
            return True
        return False

    def _connect(self, deadline: float) -> None:
        s = self.settings
        left = deadline - self._clock()
        if left <= 0:
            raise BackendUnavailable("SIP2: no time left to connect")
        try:
            sock = socket.create_connection((s.host, s.port),
                                            timeout=min(s.connect_timeout_s, left))
        except OSError as exc:
            raise BackendUnavailable(
                f"SIP2: cannot connect to {s.host}:{s.port}: {_why(exc)}"
            ) from None
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if s.tls:
                sock = self._wrap_tls(sock, min(s.connect_timeout_s, left))
        except (OSError, ValueError) as exc:
            sock.close()
            raise BackendUnavailable(f"SIP2: TLS with {s.host}:{s.port} failed: {_why(exc)}") \
                from None
        self._sock = sock
        self._sock_timeout = -1.0
        self._kernel_timeouts = not s.tls and _use_kernel_timeouts(sock)
        self._buffer.clear()
        self.connects += 1
        log.info("SIP2 connected to %s:%s%s", s.host, s.port, " (TLS)" if s.tls else "")

    def _wrap_tls(self, sock: socket.socket, timeout: float) -> socket.socket:
        s = self.settings
        context = ssl.create_default_context(cafile=s.tls_ca_file or None)
        if not s.tls_verify:
            log.warning("SIP2 TLS certificate verification is OFF (tls_verify = false)")
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        sock.settimeout(timeout)
        return context.wrap_socket(sock, server_hostname=s.tls_server_name or s.host)

    def _login(self, deadline: float) -> None:
        s = self.settings
        login = make("93", {"uid_algorithm": "0", "pwd_algorithm": "0"}, [
            ("CN", s.login_user), ("CO", s.login_password), ("CP", s.location_code or None),
        ])
        try:
            reply = self._exchange(login, "94", deadline)
        except _LinkLost as exc:
            raise BackendUnavailable(f"SIP2 login: {exc}") from None
        if not reply.yes("ok"):
            raise AuthenticationFailed(
                f"SIP2 login refused for user {s.login_user!r}: check login_user, "
                "login_password and location_code"
            )

    def _fetch_status(self, status_code: str, deadline: float) -> None:
        sc = make("99", {"status_code": status_code,
                         "max_print_width": f"{self.settings.max_print_width:03d}",
                         "protocol_version": "2.00"})
        try:
            reply = self._exchange(sc, "98", deadline)
            acs = AcsStatus.from_message(reply, self.settings)
        except _LinkLost as exc:
            self._drop()
            raise BackendUnavailable(f"SIP2 status: {exc}") from None
        except ProtocolError as exc:
            self._drop()
            raise MalformedReply(f"SIP2 status: {exc}") from None
        self._acs = acs
        self._status_due = self._clock() + self.settings.status_interval_s
        self._exchange_timeout = self._timeout()
        self._resends = self._resend_budget()
        if not acs.online:
            log.warning("SIP2 ACS reports itself offline")

    def _drop(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
        self._sock = None
        self._buffer.clear()

    # -- one exchange ---------------------------------------------------------

    def _timeout(self) -> float:
        acs = self._acs
        if self.settings.use_acs_timeout and acs is not None and acs.timeout_s:
            # Floored: a server configured with a few tenths of a second would send every
            # patron offline on the first slow database query.
            return max(acs.timeout_s, MIN_ACS_TIMEOUT_S)
        return self.settings.timeout_s

    def _resend_budget(self) -> int:
        acs = self._acs
        if self.settings.use_acs_timeout and acs is not None and acs.retries is not None:
            return min(acs.retries, 9)
        return self.settings.retries

    def _exchange(self, message: Message, expect: str, deadline: float) -> Message:
        checked = self._error_detection
        self._seq = seq = (self._seq + 1) % 10
        frame = encode(message, charset=self._charset, error_detection=checked, sequence=seq,
                       terminator=self._terminator)
        budget = self._resends
        self._send(frame, deadline, first=True)
        while True:
            raw = self._read_frame(deadline)
            try:
                reply = decode(raw, charset=self._charset, verify=checked)
            except ChecksumError:
                if budget <= 0:
                    raise _LinkLost("replies keep failing the checksum") from None
                budget -= 1
                log.info("SIP2 reply failed its checksum; asking the ACS to resend (97)")
                self._send(encode(make("97"), charset=self._charset, error_detection=checked,
                                  terminator=self._terminator), deadline)
                continue
            except ProtocolError as exc:
                self._drop()
                raise MalformedReply(f"SIP2 {spec_for(expect).name}: {exc}") from None
            if reply.code == "96":
                if budget <= 0:
                    raise _LinkLost("the ACS keeps asking for a resend (96)")
                budget -= 1
                log.info("SIP2 ACS asked for a resend (96)")
                self._send(frame, deadline)
                continue
            if reply.code != expect:
                self._drop()
                raise MalformedReply(f"SIP2: expected a {expect} reply, got {reply.code}")
            if checked and reply.sequence is not None and reply.sequence != seq:
                self._drop()
                raise MalformedReply(
                    f"SIP2: reply sequence {reply.sequence} does not match request {seq}"
                )
            return reply

    def _send(self, frame: bytes, deadline: float, *, first: bool = False) -> None:
        """Write the whole frame by the deadline. With `first`, a failure before any byte left
        is `_NothingSent`: the request cannot have reached the server."""
        sock = self._sock
        if sock is None:
            raise _NothingSent("not connected")
        view = memoryview(frame)
        sent = 0
        try:
            while sent < len(view):
                left = deadline - self._clock()
                if left <= 0:
                    raise TimeoutError
                self._set_timeout(left)
                sent += sock.send(view[sent:])
        except OSError as exc:
            lost = _NothingSent if first and sent == 0 else _LinkLost
            raise lost(f"send failed: {_why(exc)}") from None

    def _set_timeout(self, seconds: float) -> None:
        """Change the socket's timeout only when it differs (each change is a system call).

        On plain TCP the timeout lives in the kernel (SO_RCVTIMEO/SO_SNDTIMEO on a blocking
        socket): Python's own timeouts poll() before every send and recv, two extra system
        calls per exchange. TLS sockets keep Python's timeouts, which ssl understands.
        """
        # a quarter-second grid: deadlines move every call, the socket's timeout changes only
        # when the grid step does (the deadline may be overshot by at most that step)
        seconds = math.ceil(seconds * 4) / 4
        if self._sock is None or seconds == self._sock_timeout:
            return
        if self._kernel_timeouts:
            whole = int(seconds)
            value = struct.pack("ll", whole, max(1, int((seconds - whole) * 1_000_000)))
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, value)
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, value)
        else:
            self._sock.settimeout(seconds)
        self._sock_timeout = seconds

    def _read_frame(self, deadline: float) -> bytes:
        sock = self._sock
        if sock is None:
            raise _LinkLost("not connected")
        while True:
            frames = split_frames(self._buffer) if self._buffer else []
            if frames:
                if len(frames) > 1:
                    # Anything after the first frame would be a reply to nobody: keep it for
                    # the sequence check on the next read rather than guessing now.
                    self._buffer[:0] = b"".join(frames[1:])
                return frames[0]
            if len(self._buffer) > MAX_FRAME_BYTES:
                raise _LinkLost(f"reply longer than {MAX_FRAME_BYTES} bytes without a CR")
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise _LinkLost("no whole reply in time")
            self._set_timeout(remaining)
            chunk = self._recv(sock, remaining)
            if not self._buffer and chunk.endswith(b"\r") and chunk.count(b"\r") == 1:
                return chunk  # the usual case: one recv brings exactly one whole reply
            self._buffer += chunk

    @staticmethod
    def _recv(sock: socket.socket, timeout: float) -> bytes:
        try:
            chunk = sock.recv(4096)
        except (TimeoutError, BlockingIOError):  # BlockingIOError: SO_RCVTIMEO expired
            raise _LinkLost(f"no reply within {timeout:.1f} s") from None
        except OSError as exc:
            raise _LinkLost(f"receive failed: {_why(exc)}") from None
        if not chunk:
            raise _LinkLost("the server closed the connection")
        return chunk


def _use_kernel_timeouts(sock: socket.socket) -> bool:
    """Switch a plain TCP socket to blocking mode with kernel send/receive timeouts."""
    probe = struct.pack("ll", 1, 0)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, probe)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, probe)
    except (OSError, AttributeError):
        return False  # not supported here: Python's timeouts it is
    sock.settimeout(None)
    return True


def _why(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.replace("\n", " ")[:200]
