"""A TCP relay in front of a real SIP2 server that can lose one reply on the way back.

Why: the worst moment for exactly-once is a request the library system applied whose answer
never reached the kiosk (a Wi-Fi drop, a switch reboot). The relay forwards the request, lets
the server answer, then cuts the kiosk's connection instead of passing the answer on. Its twin,
the line dropping before the request got through, looks the same to the kiosk (no answer), so the
relay can also cut the connection without forwarding the request at all.
"""

from __future__ import annotations

import contextlib
import socket
import threading


def _read_frame(sock: socket.socket, buffer: bytearray) -> bytes | None:
    while b"\r" not in buffer:
        chunk = sock.recv(4096)
        if not chunk:
            return None
        buffer += chunk
    end = buffer.index(b"\r") + 1
    while end < len(buffer) and buffer[end:end + 1] == b"\n":
        end += 1
    frame = bytes(buffer[:end])
    del buffer[:end]
    return frame


class LosingRelay:
    """127.0.0.1 relay; `lose_next("11")` drops the reply to the next request with that code
    (the server applied it); with ``reached_server=False`` the request itself is dropped."""

    def __init__(self, upstream_port: int) -> None:
        self._upstream = ("127.0.0.1", upstream_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._lose: str | None = None
        self._lose_request = False
        self._lock = threading.Lock()
        self.lost: list[bytes] = []  # requests whose answers (or which themselves) were lost
        # items whose checkout or checkin kills the server's worker: the connection drops
        # before the request is applied, every time (a library system with one broken record)
        self.poison: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def lose_next(self, code: str, *, reached_server: bool = True) -> None:
        with self._lock:
            self._lose = code
            self._lose_request = not reached_server

    def _take_lose(self, frame: bytes, *, request: bool) -> bool:
        """Whether to lose `frame`'s exchange at this point (before or after the server)."""
        with self._lock:
            if (self._lose is not None and self._lose_request == request
                    and frame[:2].decode("latin-1") == self._lose):
                self._lose = None
                return True
        return False

    def _poisoned(self, request: bytes) -> bool:
        return request[:2] in (b"11", b"09") and any(
            f"AB{item}|".encode() in request for item in self.poison)

    def _cut(self, client: socket.socket, request: bytes) -> None:
        self.lost.append(request)
        with contextlib.suppress(OSError):
            client.shutdown(socket.SHUT_RDWR)

    def _accept(self) -> None:
        self._listener.settimeout(0.1)
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with client, socket.create_connection(self._upstream, timeout=5) as upstream:
            client.settimeout(5)
            from_client, from_server = bytearray(), bytearray()
            while not self._stop.is_set():
                try:
                    request = _read_frame(client, from_client)
                except OSError:
                    return
                if request is None:
                    return
                if self._take_lose(request, request=True) or self._poisoned(request):
                    self._cut(client, request)
                    return
                upstream.sendall(request)
                reply = _read_frame(upstream, from_server)
                if reply is None:
                    return
                if self._take_lose(request, request=False):
                    self._cut(client, request)
                    return
                client.sendall(reply)

    def __enter__(self) -> LosingRelay:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._listener.close()
        self._thread.join(5)
