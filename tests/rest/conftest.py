"""Fixtures: the real central service (seeded), a fault proxy in front of it, a RestBackend, and
a tiny raw HTTP server that answers whatever bytes a test tells it to."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from central.db import copy_database
from central.faultproxy import FaultProxy
from central.server import RunningServer, start_in_thread
from domain.demo_library import DEMO_KIOSK_ID, DEMO_TOKEN
from kiosk.backends.rest import RestBackend


@pytest.fixture
def server(seeded_template: Path, tmp_path: Path) -> Iterator[RunningServer]:
    with start_in_thread(copy_database(seeded_template, tmp_path / "central.db")) as running:
        yield running


@pytest.fixture
def proxy(server: RunningServer) -> Iterator[FaultProxy]:
    with FaultProxy("127.0.0.1", server.port, retry_after="7") as running:
        yield running


@pytest.fixture
def backend(server: RunningServer) -> Iterator[RestBackend]:
    with RestBackend(server.url, DEMO_TOKEN, kiosk_id=DEMO_KIOSK_ID) as client:
        yield client


class RawServer:
    """Answers every HTTP request with `reply` (exact bytes), then closes the connection."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self._tls = tls
        self.reply = b""
        self.drip_s = 0.0  # > 0: send the reply one byte at a time, this far apart
        self.requests: list[bytes] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port = self._listener.getsockname()[1]
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def respond(self, status: str, body: bytes | str, *,
                content_type: str = "application/json", headers: str = "") -> None:
        data = body.encode() if isinstance(body, str) else body
        self.reply = (f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
                      f"Content-Length: {len(data)}\r\n{headers}Connection: close\r\n\r\n"
                      ).encode() + data

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self._tls is not None:
                try:
                    conn.settimeout(2)
                    conn = self._tls.wrap_socket(conn, server_side=True)
                except (OSError, ssl.SSLError):  # the client did not trust us: its business
                    conn.close()
                    continue
            with conn, contextlib.suppress(OSError):
                conn.settimeout(2)
                self.requests.append(_read_request(conn))
                self._answer(conn)

    def _answer(self, conn: socket.socket) -> None:
        if self.reply and self.drip_s > 0:
            for byte in self.reply:
                if self._stop.wait(self.drip_s):
                    break
                conn.sendall(bytes((byte,)))
        elif self.reply:
            conn.sendall(self.reply)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self._listener.close()


@pytest.fixture(scope="module")
def raw_server() -> Iterator[RawServer]:
    running = RawServer()
    yield running
    running.close()


@pytest.fixture(scope="module")
def raw_backend(raw_server: RawServer) -> Iterator[RestBackend]:
    with RestBackend(raw_server.url, DEMO_TOKEN, kiosk_id=DEMO_KIOSK_ID,
                     timeout=(1.0, 1.0)) as client:
        yield client


@pytest.fixture(scope="module")
def tls_server(site_certificate: Any) -> Iterator[RawServer]:
    """An HTTPS server with the site's own self-signed certificate."""
    running = RawServer(tls=site_certificate.server_context())
    running.respond("503 Service Unavailable", '{"detail": "maintenance"}')
    yield running
    running.close()


def _read_request(conn: socket.socket) -> bytes:
    """One HTTP request, head and body (by its Content-Length)."""
    request = b""
    while b"\r\n\r\n" not in request:
        chunk = conn.recv(65536)
        if not chunk:
            break
        request += chunk
    head, _, body = request.partition(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body
