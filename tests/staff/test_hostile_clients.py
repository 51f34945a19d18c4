"""The central service faces every kiosk of a network and the open internet: oversized bodies,
floods of made-up staff names, NUL bytes in paths, nesting bombs, requests forged across sites.
Over the real service on a loopback port."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

import requests
from test_dashboard_api import POST, login

from central.db import Database
from domain.demo_library import DEMO_TOKEN

AUTH = {"Authorization": f"Bearer {DEMO_TOKEN}", "Content-Type": "application/json"}


def _raw(url: str, head: bytes, body: bytes = b"", *, read_s: float = 3.0) -> bytes:
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=read_s) as sock:
        sock.sendall(head + body)
        try:
            return sock.recv(65536)  # the status line is all these tests need
        except (TimeoutError, ConnectionResetError):
            return b""


def test_a_body_larger_than_the_limit_is_refused_before_it_is_read(service) -> None:
    started = time.monotonic()
    answer = _raw(service.url, b"POST /v1/checkout HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: application/json\r\nContent-Length: 100000000\r\n\r\n",
                  b"{" + b" " * 1000)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:80]
    assert time.monotonic() - started < 2.0  # nothing like 100 MB was waited for


def test_a_ten_megabyte_heartbeat_is_refused_and_stored_nowhere(service) -> None:
    body = b'{"kiosk_id": "demo-kiosk-1", "pad": "' + b"x" * (10 * 1024 * 1024) + b'"}'
    reply = requests.post(f"{service.url}/v1/heartbeat", data=body, headers=AUTH, timeout=10)
    assert reply.status_code == 413
    s = login(service.url)
    fleet = s.get(f"{service.url}/staff/api/fleet", timeout=5).json()
    assert "xxxxxxxx" not in str(fleet)


def test_a_chunked_body_is_counted_as_it_arrives(service) -> None:
    def chunks():
        for _ in range(40):
            yield b"x" * 65536

    reply = requests.post(f"{service.url}/v1/checkout", data=chunks(), headers=AUTH, timeout=10)
    assert reply.status_code == 413


def test_a_flood_of_made_up_names_does_not_grow_the_service(service) -> None:
    huge = "a" * (5 * 1024 * 1024)
    for _ in range(5):
        reply = requests.post(f"{service.url}/staff/api/login", headers=POST,
                              json={"name": huge, "password": "x"}, timeout=10)
        assert reply.status_code in (401, 413)
    statuses = [requests.post(f"{service.url}/staff/api/login", headers=POST, timeout=10,
                              json={"name": f"nobody{n}", "password": "x"}).status_code
                for n in range(30)]
    assert set(statuses) <= {401, 429} and 429 in statuses  # hashing is rationed
    from central.staff import MAX_REMEMBERED_FAILURES
    assert MAX_REMEMBERED_FAILURES <= 10_000


def test_a_nul_byte_in_a_static_path_is_not_found_not_a_crash(service) -> None:
    reply = requests.get(f"{service.url}/staff/static/dash%00board.js", timeout=5)
    assert reply.status_code == 404


def test_json_nested_a_hundred_thousand_deep_on_the_login_is_a_client_error(service) -> None:
    body = "[" * 100_000 + "]" * 100_000
    reply = requests.post(f"{service.url}/staff/api/login", data=body,
                          headers={**POST, "Content-Type": "application/json"}, timeout=10)
    assert 400 <= reply.status_code < 500


def test_every_cookie_state_change_needs_the_header_whatever_else_comes(service) -> None:
    s = login(service.url)
    forged = s.post(f"{service.url}/staff/api/conflicts/1/resolve",
                    headers={"Authorization": "Basic Zm9vOmJhcg=="}, timeout=5)
    assert forged.status_code == 403
    logout = s.post(f"{service.url}/staff/api/logout", timeout=5)
    assert logout.status_code == 403
    assert s.get(f"{service.url}/staff/api/fleet", timeout=5).status_code == 200  # still in


def test_failed_logins_are_remembered_with_a_cap_and_expire() -> None:
    from central import staff

    now = [0.0]
    with Database(":memory:") as db:
        auth = staff.StaffAuth(db, clock=lambda: now[0])
        for n in range(50):
            auth.login(f"made-up-{n}", "wrong")
        assert auth.remembered_failures == 50
        auth.login("x" * 70, "wrong")  # not a possible name: not remembered
        assert auth.remembered_failures == 50
        now[0] = staff.LOCK_S + 1
        auth.login("one-more", "wrong")
        assert auth.remembered_failures == 1


