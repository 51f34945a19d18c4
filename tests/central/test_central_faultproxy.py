"""The fault proxy fails the way networks fail, on real sockets, in front of the real service."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import requests

from central.faultproxy import FaultProxy, Mode
from central.server import RunningServer


@pytest.fixture
def proxy(server: RunningServer) -> Iterator[FaultProxy]:
    with FaultProxy("127.0.0.1", server.port) as running:
        yield running


def _health(url: str, session: requests.Session | None = None, *,
            read_timeout: float = 10.0) -> requests.Response:
    """Generous by default, so a healthy answer never times out on a slow shared box."""
    return (session or requests).get(f"{url}/v1/health", timeout=(2.0, read_timeout))


def test_pass_relays_to_the_service(proxy: FaultProxy) -> None:
    assert _health(proxy.url).json()["status"] == "ok"


def test_refuse_closes_at_once(proxy: FaultProxy) -> None:
    proxy.mode = Mode.REFUSE
    started = time.monotonic()
    with pytest.raises(requests.ConnectionError):
        _health(proxy.url)
    assert time.monotonic() - started < 2.0  # closed at once, not after a timeout


def test_stall_makes_the_client_time_out(proxy: FaultProxy) -> None:
    proxy.mode = Mode.STALL
    with pytest.raises(requests.ReadTimeout):
        _health(proxy.url, read_timeout=0.5)


@pytest.mark.parametrize(("mode", "status", "retry_after"),
                         [(Mode.HTTP_500, 500, None), (Mode.HTTP_503, 503, "7")])
def test_http_errors_are_answered_by_the_proxy(server: RunningServer, mode, status,
                                               retry_after) -> None:
    with FaultProxy("127.0.0.1", server.port, mode=mode, retry_after="7") as proxy:
        response = requests.post(f"{proxy.url}/v1/checkout", json={"x": 1}, timeout=2)
    assert response.status_code == status
    assert response.headers.get("Retry-After") == retry_after


def test_reset_sends_part_of_the_reply_then_rst(proxy: FaultProxy) -> None:
    proxy.mode = Mode.RESET
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=2) as sock:
        sock.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
        received = b""
        with pytest.raises(ConnectionResetError):
            while chunk := sock.recv(4096):
                received += chunk
    assert received.startswith(b"HTTP/1.1 200")
    assert b"server_time" not in received  # only part of the upstream reply got through


def test_switching_mode_drops_kept_alive_connections(proxy: FaultProxy) -> None:
    with requests.Session() as session:
        assert _health(proxy.url, session).status_code == 200
        proxy.mode = Mode.STALL
        with pytest.raises(requests.ReadTimeout):
            _health(proxy.url, session, read_timeout=0.5)


def test_cut_and_restore_simulate_an_outage(proxy: FaultProxy) -> None:
    with requests.Session() as session:
        assert _health(proxy.url, session).status_code == 200
        proxy.cut()
        with pytest.raises(requests.ConnectionError):
            _health(proxy.url, session)
        proxy.restore()
        assert _health(proxy.url, session).status_code == 200


def test_connections_are_bounded(server: RunningServer) -> None:
    with FaultProxy("127.0.0.1", server.port, mode=Mode.STALL, max_connections=2) as proxy:
        held = [socket.create_connection(("127.0.0.1", proxy.port), timeout=2) for _ in range(2)]
        deadline = time.monotonic() + 2
        while proxy.active_connections < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        # Turned away: closed at once. The RST may even beat connect() to reporting success.
        with contextlib.suppress(ConnectionResetError), \
                socket.create_connection(("127.0.0.1", proxy.port), timeout=2) as extra:
            assert extra.recv(1) == b""
        assert proxy.active_connections == 2
        for sock in held:
            sock.close()


def test_close_stops_listening_and_ends_every_thread(server: RunningServer) -> None:
    proxy = FaultProxy("127.0.0.1", server.port, mode=Mode.STALL)
    stalled = socket.create_connection(("127.0.0.1", proxy.port), timeout=2)
    deadline = time.monotonic() + 5
    while proxy.active_connections < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert proxy.active_connections == 1
    proxy.close()
    assert proxy.active_connections == 0
    # only the proxy's own threads count: other tests' daemon threads may come and go
    mine = f"faultproxy-{proxy.port}"
    assert not [t for t in threading.enumerate() if t.name.startswith(mine) and t.is_alive()]
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", proxy.port), timeout=1)
    stalled.close()


def test_upstream_down_looks_like_a_dropped_connection(server: RunningServer) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    with FaultProxy("127.0.0.1", dead_port) as proxy, pytest.raises(requests.ConnectionError):
        _health(proxy.url)


def test_latency_mode_adds_a_round_trip_per_request_and_keeps_the_bytes(
        server: RunningServer) -> None:
    """30 ms each way: a kept-alive request costs at least 60 ms more than on plain loopback,
    a new connection one round trip more again, and the answer is the same."""
    def timed(url: str, session: requests.Session) -> float:
        started = time.perf_counter()
        assert _health(url, session).json()["status"] == "ok"
        return time.perf_counter() - started

    with FaultProxy("127.0.0.1", server.port) as fast, \
            FaultProxy("127.0.0.1", server.port, delay_s=0.03, jitter_s=0.005) as slow, \
            requests.Session() as fast_session, requests.Session() as slow_session:
        first_slow = timed(slow.url, slow_session)
        timed(fast.url, fast_session)
        kept_slow = min(timed(slow.url, slow_session) for _ in range(3))
        kept_fast = min(timed(fast.url, fast_session) for _ in range(3))
    assert kept_slow - kept_fast >= 0.058
    assert kept_slow < 0.5  # the delay is per round trip, not per byte
    assert first_slow >= kept_slow + 0.05  # handshake
