"""A fault-injecting TCP proxy on 127.0.0.1, in front of the central service.

Why: the kiosk's offline policy and its error translation are only worth something if they are
exercised against real sockets that fail the way networks fail. The demo uses `cut()` and
`restore()` to show a kiosk riding out an outage; the tests use every mode.

Modes (switch at any time with `proxy.mode = Mode.X`; connections already open are dropped on a
switch, so a kept-alive client connection cannot sneak past the new mode):

    pass      relay bytes both ways to the upstream service
    refuse    accept, then close at once (the client sees the connection closed/reset)
    stall     accept and never answer (the client's read timeout fires)
    http_500  answer every request with HTTP 500 itself
    http_503  answer with HTTP 503 and `Retry-After: <retry_after>`
    reset     forward the request, relay only part of the upstream reply, then send a TCP RST

In pass mode, a request that contains `poison` (bytes) gets HTTP 500 from the proxy instead:
one transaction the central side fails on every time while it answers everything else.

Latency (any mode that relays): `delay_s` holds every chunk that long in each direction, plus
up to `jitter_s` at random, in order, and a new connection waits one round trip (the TCP
handshake), so benchmarks on loopback see a real network's round trips. The proxy is plain
TCP: it delays SIP2 as well as HTTP.

Threads are bounded: at most `max_connections` connections are served at once; more are closed
at once. Use as a context manager or call `close()`.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import random
import selectors
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable

log = logging.getLogger(__name__)

_POLL_S = 0.1
_CHUNK = 65536


class Mode(enum.StrEnum):
    PASS = "pass"
    REFUSE = "refuse"
    STALL = "stall"
    HTTP_500 = "http_500"
    HTTP_503 = "http_503"
    RESET = "reset"


def _rst_close(sock: socket.socket) -> None:
    """Close with SO_LINGER 0: the peer gets a TCP RST instead of an orderly FIN."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


def _read_request(sock: socket.socket, stop: threading.Event) -> bytes:
    """Read one HTTP request (head + Content-Length body), or what came before EOF/stop."""
    data = b""
    sock.settimeout(_POLL_S)
    while b"\r\n\r\n" not in data and not stop.is_set():
        try:
            chunk = sock.recv(_CHUNK)
        except TimeoutError:
            continue
        except OSError:
            return data
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            with contextlib.suppress(ValueError):
                length = int(value.strip())
    while len(body) < length and not stop.is_set():
        try:
            chunk = sock.recv(_CHUNK)
        except TimeoutError:
            continue
        except OSError:
            break
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


class FaultProxy:
    """TCP proxy 127.0.0.1:port -> upstream, with a switchable failure mode."""

    def __init__(self, upstream_host: str, upstream_port: int, *, host: str = "127.0.0.1",
                 port: int = 0, mode: Mode = Mode.PASS, retry_after: str = "3",
                 max_connections: int = 32, reset_after_bytes: int = 20,
                 delay_s: float = 0.0, jitter_s: float = 0.0) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.delay_s = delay_s  # one way; see the module doc
        self.jitter_s = jitter_s
        self.retry_after = retry_after
        self.reset_after_bytes = reset_after_bytes
        self.connections_total = 0
        self.poison: bytes | None = None  # see the module doc
        self._mode = Mode(mode)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._active: set[socket.socket] = set()
        self._workers: set[threading.Thread] = set()
        self._slots = threading.BoundedSemaphore(max_connections)
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._listener.bind((host, port))
        except OSError:
            self._listener.close()
            raise
        self._listener.listen(64)
        self._listener.settimeout(_POLL_S)
        self.host = host
        self.port = self._listener.getsockname()[1]
        self.url = f"http://{host}:{self.port}"
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True,
                                          name=f"faultproxy-{self.port}")
        self._acceptor.start()

    # -- control

    @property
    def mode(self) -> Mode:
        return self._mode

    @mode.setter
    def mode(self, mode: Mode | str) -> None:
        self._mode = Mode(mode)
        self._drop_active()
        log.info("fault proxy %d: mode %s", self.port, self._mode.value)

    def cut(self) -> None:
        """Simulate a network outage: every open connection dies, new ones are closed at once."""
        self.mode = Mode.REFUSE

    def restore(self) -> None:
        """End the outage (or any other fault): relay again."""
        self.mode = Mode.PASS

    @property
    def active_connections(self) -> int:
        with self._lock:
            return len(self._active)

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):  # wakes the acceptor now, not at its next poll
            self._listener.shutdown(socket.SHUT_RDWR)
        self._acceptor.join(2.0)
        with contextlib.suppress(OSError):
            self._listener.close()
        self._drop_active()
        with self._lock:
            workers = list(self._workers)
        for worker in workers:
            worker.join(2.0)

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals

    def _drop_active(self) -> None:
        with self._lock:
            sockets = list(self._active)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._active.add(sock)

    def _untrack(self, sock: socket.socket) -> None:
        with self._lock:
            self._active.discard(sock)

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections_total += 1
            mode = self._mode
            if mode is Mode.REFUSE:
                _rst_close(client)
                continue
            if not self._slots.acquire(blocking=False):
                log.warning("fault proxy %d: too many connections; closing one", self.port)
                _rst_close(client)
                continue
            worker = threading.Thread(target=self._serve, args=(client, mode), daemon=True,
                                      name=f"faultproxy-{self.port}-conn")
            with self._lock:
                self._workers.add(worker)
            worker.start()

    def _serve(self, client: socket.socket, mode: Mode) -> None:
        # relay small writes at once: with Nagle on, every reply waits ~40 ms for an ACK
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._track(client)
        try:
            if mode is Mode.PASS:
                self._relay(client)
            elif mode is Mode.STALL:
                self._stall(client)
            elif mode in (Mode.HTTP_500, Mode.HTTP_503):
                self._answer(client, mode)
            elif mode is Mode.RESET:
                self._reset(client)
        except OSError as exc:
            log.debug("fault proxy %d: connection ended: %s", self.port, exc)
        finally:
            self._untrack(client)
            with contextlib.suppress(OSError):
                client.close()
            self._slots.release()
            with self._lock:
                self._workers.discard(threading.current_thread())

    def _connect_upstream(self) -> socket.socket:
        upstream = socket.create_connection(self.upstream, timeout=5.0)
        upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._track(upstream)
        return upstream

    def _relay(self, client: socket.socket) -> None:
        if self.delay_s > 0:
            time.sleep(2 * self.delay_s)  # the handshake's round trip
        try:
            upstream = self._connect_upstream()
        except OSError:
            _rst_close(client)
            return
        try:
            with selectors.DefaultSelector() as selector:
                selector.register(client, selectors.EVENT_READ, upstream)
                selector.register(upstream, selectors.EVENT_READ, client)
                line = _DelayLine(lambda: (self.delay_s, self.jitter_s))
                while not self._stop.is_set():
                    for key, _ in selector.select(line.wait(_POLL_S)):
                        source: socket.socket = key.fileobj  # type: ignore[assignment]
                        data = source.recv(_CHUNK)
                        if not data:
                            line.flush()
                            return
                        if source is client and self.poison and self.poison in data:
                            self._answer_500(client)
                            return
                        line.put(key.data, data)
                    line.deliver()
        finally:
            self._untrack(upstream)
            upstream.close()

    def _stall(self, client: socket.socket) -> None:
        client.settimeout(_POLL_S)
        while not self._stop.is_set():
            try:
                if not client.recv(_CHUNK):
                    return
            except TimeoutError:
                continue

    @staticmethod
    def _answer_500(client: socket.socket) -> None:
        body = b'{"error": {"code": "injected_fault", "message": "poisoned request"}}'
        client.sendall(b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json"
                       b"\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)

    def _answer(self, client: socket.socket, mode: Mode) -> None:
        request = _read_request(client, self._stop)
        if not request.strip():
            return
        if mode is Mode.HTTP_503:
            status, extra = "503 Service Unavailable", f"Retry-After: {self.retry_after}\r\n"
        else:
            status, extra = "500 Internal Server Error", ""
        body = b'{"error": {"code": "injected_fault", "message": "fault proxy"}}'
        client.sendall(
            f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{extra}Connection: close\r\n\r\n".encode() + body)

    def _reset(self, client: socket.socket) -> None:
        request = _read_request(client, self._stop)
        if not request.strip():
            return
        upstream = self._connect_upstream()
        try:
            upstream.sendall(request)
            upstream.settimeout(5.0)
            reply = upstream.recv(_CHUNK)
            client.sendall(reply[: min(self.reset_after_bytes, max(1, len(reply) // 2))])
        finally:
            self._untrack(upstream)
            upstream.close()
        self._untrack(client)
        _rst_close(client)


class _DelayLine:
    """Chunks in transit: each is sent `delay_s` (+ jitter) after it arrived, in arrival order,
    so a chunk never overtakes an earlier one and the relay loop never sleeps on one."""

    def __init__(self, latency: Callable[[], tuple[float, float]]) -> None:
        self._latency = latency  # read per chunk: a change applies to open connections too
        self._queue: deque[tuple[float, socket.socket, bytes]] = deque()
        self._last_due = 0.0

    def put(self, dest: socket.socket, data: bytes) -> None:
        delay, jitter = self._latency()
        if delay <= 0 and jitter <= 0 and not self._queue:
            dest.sendall(data)
            return
        due = time.monotonic() + delay + random.uniform(0, jitter)
        self._last_due = max(self._last_due, due)
        self._queue.append((self._last_due, dest, data))

    def wait(self, longest: float) -> float:
        if not self._queue:
            return longest
        return max(0.0, min(longest, self._queue[0][0] - time.monotonic()))

    def deliver(self) -> None:
        now = time.monotonic()
        while self._queue and self._queue[0][0] <= now:
            _, dest, data = self._queue.popleft()
            dest.sendall(data)

    def flush(self) -> None:
        """A side closed: what is in transit still arrives (late, as it would)."""
        while self._queue:
            due, dest, data = self._queue.popleft()
            time.sleep(max(0.0, due - time.monotonic()))
            with contextlib.suppress(OSError):
                dest.sendall(data)
