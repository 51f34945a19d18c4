"""A raw-socket SIP2 server that answers login and status correctly and misbehaves on cue.

Good replies are encoded with pysip2 (not our codec), so a passing test means
our client read someone else's bytes. A `script(code, frame, count)` decides
what each other request gets: bytes to send, `STALL` (say nothing) or `CLOSE`.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Callable
from datetime import datetime

from pysip2 import (
    ACSStatusResponse,
    ItemInformationResponse,
    LoginResponse,
    SIPMessage,
    decode_message,
    encode_message,
)

STALL = object()
CLOSE = object()
DRIP = object()  # (bytes, DRIP): send them one byte every DRIP_S seconds
DRIP_S = 0.25
Script = Callable[[str, bytes, int], object]


def now18() -> str:
    n = datetime.now()
    return n.strftime("%Y%m%d") + "    " + n.strftime("%H%M%S")


def item_reply(item_id: str = "I1", title: str = "Kaas") -> ItemInformationResponse:
    return ItemInformationResponse(
        circulation_status="03", security_marker="02", fee_type="01", transaction_date=now18(),
        item_identifier=item_id, title_identifier=title)


def encode_reply(message: SIPMessage, request: bytes) -> bytes:
    """pysip2's bytes for `message`, mirroring the request's AY/AZ use."""
    decoded = decode_message(request.lstrip(b"\n"))
    if decoded.checksum is None:
        return encode_message(message)
    return encode_message(message, sequence_number=decoded.sequence_number, checksum=True)


class FaultAcs:
    """Context manager; `port`, `frames` (every request frame received), `connections`.

    The script may return (bytes to send now, bytes to send if the client asks 97), or
    (bytes, CLOSE) to send and then drop the connection.
    """

    def __init__(self, script: Script, *, terminator: bytes = b"\r",
                 tls_context: ssl.SSLContext | None = None, acs_timeout: str = "000",
                 checkout_ok: str = "Y") -> None:
        self.script = script
        self.checkout_ok = checkout_ok
        self.acs_timeout = acs_timeout
        self.terminator = terminator
        self.tls_context = tls_context
        self.frames: list[bytes] = []
        self.connections = 0
        self._counts: dict[str, int] = {}
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._listener.settimeout(0.05)  # accept() is not woken by close(): poll the stop flag
        self._stop = threading.Event()
        self._socks: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> FaultAcs:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._listener.close()
        for s in list(self._socks):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def count(self, code: str) -> int:
        return sum(1 for f in self.frames if f.lstrip(b"\n")[:2] == code.encode())

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            if self.tls_context is not None:
                try:
                    conn = self.tls_context.wrap_socket(conn, server_side=True)
                except (OSError, ssl.SSLError):
                    conn.close()
                    continue
            self.connections += 1
            self._socks.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        buf = bytearray()
        self._last = b""
        try:
            while data := conn.recv(4096):
                buf += data
                while (end := buf.find(b"\r")) != -1:
                    frame = bytes(buf[: end + 1]).lstrip(b"\n")
                    del buf[: end + 1]
                    self.frames.append(frame)
                    if not self._answer(conn, frame):
                        return
        except OSError:
            return
        finally:
            conn.close()

    def _reply_to(self, code: str, frame: bytes) -> object:
        if code == "93":
            return encode_reply(LoginResponse(ok="1"), frame)
        if code == "99":
            return encode_reply(ACSStatusResponse(
                online_status="Y", checkin_ok="Y", checkout_ok=self.checkout_ok,
                acs_renewal_policy="Y", status_update_ok="N", offline_ok="Y",
                timeout_period=self.acs_timeout, retries_allowed="002",
                date_time_sync=now18(), protocol_version="2.00",
                institution_id="MAIN", supported_messages="YYYNYYYYYNYNNNYY"), frame)
        if code == "97":
            return self._last
        n = self._counts.get(code, 0)
        self._counts[code] = n + 1
        return self.script(code, frame, n)

    def _answer(self, conn: socket.socket, frame: bytes) -> bool:
        """Answer one frame as scripted; False when the connection must end."""
        code = frame[:2].decode("ascii", "replace")
        out = self._reply_to(code, frame)
        if out is CLOSE:
            return False
        if out is STALL:
            return True
        remember = None
        if isinstance(out, tuple):  # (send now, resend on 97)
            out, remember = out
        if not isinstance(out, bytes):
            raise TypeError(f"script returned {out!r}")
        if out.endswith(b"\r") and self.terminator != b"\r":
            out = out[:-1] + self.terminator
        if remember is CLOSE:  # send, then drop the connection
            conn.sendall(out)
            return False
        if remember is DRIP:
            for byte in out:
                if self._stop.wait(DRIP_S):
                    return False
                conn.sendall(bytes((byte,)))
            return True
        if code != "97":
            self._last = remember if isinstance(remember, bytes) else out
        conn.sendall(out)
        return True
