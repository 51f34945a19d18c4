"""Every way the network or the server can fail becomes one of our backend errors, and nothing
else escapes: through the fault proxy (real service behind it) and through a raw HTTP server
that answers malformed bytes."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from central.db import copy_database
from central.faultproxy import FaultProxy, Mode
from central.server import start_in_thread
from domain.demo_library import AVAILABLE_ITEMS, DEMO_KIOSK_ID, DEMO_TOKEN, PATRONS_BY_ROLE
from domain.model import Credential, CredentialKind, Transaction, TransactionKind
from kiosk.backends.base import (
    AuthenticationFailed,
    BackendError,
    BackendUnavailable,
    MalformedReply,
)
from kiosk.backends.rest import RestBackend, retry_after_seconds

JAN = PATRONS_BY_ROLE["card"]

CALLS: dict[str, Callable[[RestBackend], object]] = {
    "identify": lambda b: b.identify(Credential(CredentialKind.BARCODE, JAN.barcode)),
    "account": lambda b: b.account(JAN.patron_id),
    "item": lambda b: b.item(AVAILABLE_ITEMS[0]),
    "checkout": lambda b: b.checkout(
        Transaction(TransactionKind.CHECKOUT, JAN.patron_id, AVAILABLE_ITEMS[0])),
    "checkin": lambda b: b.checkin(Transaction(TransactionKind.CHECKIN, None, AVAILABLE_ITEMS[0])),
    "renew": lambda b: b.renew(
        Transaction(TransactionKind.RENEW, JAN.patron_id, AVAILABLE_ITEMS[0])),
    "replay": lambda b: b.replay(
        [Transaction(TransactionKind.CHECKIN, None, AVAILABLE_ITEMS[0], offline=True)]),
    "heartbeat": lambda b: b.heartbeat({"queue_length": 0}),
}


# ---------------------------------------------------------------- through the fault proxy


@pytest.fixture(scope="module")
def server(seeded_template: Path, tmp_path_factory: pytest.TempPathFactory):
    """One service for this module: these tests look at errors, not at the library's state."""
    db = copy_database(seeded_template, tmp_path_factory.mktemp("errors") / "central.db")
    with start_in_thread(db) as running:
        yield running


@pytest.fixture
def proxied(proxy: FaultProxy):
    with RestBackend(proxy.url, DEMO_TOKEN, kiosk_id=DEMO_KIOSK_ID,
                     timeout=(0.5, 0.4)) as client:
        yield client


@pytest.mark.parametrize("mode", [Mode.REFUSE, Mode.STALL, Mode.HTTP_500, Mode.RESET])
@pytest.mark.parametrize("call", ["identify", "checkout", "replay"])
def test_network_faults_are_backend_unavailable(proxy: FaultProxy, proxied: RestBackend,
                                                mode: Mode, call: str) -> None:
    proxy.mode = mode
    started = time.monotonic()
    with pytest.raises(BackendUnavailable) as error:
        CALLS[call](proxied)
    assert type(error.value) is BackendUnavailable  # not a malformed reply, not auth
    assert time.monotonic() - started < 5.0  # the timeout is honoured, nobody hangs
    assert error.value.retry_after is None


def test_503_carries_retry_after(proxy: FaultProxy, proxied: RestBackend) -> None:
    proxy.mode = Mode.HTTP_503
    with pytest.raises(BackendUnavailable) as error:
        CALLS["checkout"](proxied)
    assert error.value.retry_after == 7.0


def test_outage_and_recovery_with_the_same_backend(proxy: FaultProxy) -> None:
    # generous timeouts: the healthy calls must not time out on a slow shared box
    with RestBackend(proxy.url, DEMO_TOKEN, kiosk_id=DEMO_KIOSK_ID, timeout=(2, 10)) as client:
        assert client.item(AVAILABLE_ITEMS[0]).item_id == AVAILABLE_ITEMS[0]
        proxy.cut()
        with pytest.raises(BackendUnavailable):
            client.item(AVAILABLE_ITEMS[0])
        proxy.restore()
        assert client.item(AVAILABLE_ITEMS[0]).item_id == AVAILABLE_ITEMS[0]


def test_wrong_token_is_authentication_failed(server) -> None:
    with RestBackend(server.url, "not-the-token", kiosk_id=DEMO_KIOSK_ID) as client, \
            pytest.raises(AuthenticationFailed):
        client.item(AVAILABLE_ITEMS[0])


def test_wrong_kiosk_id_is_authentication_failed(server) -> None:
    with RestBackend(server.url, DEMO_TOKEN, kiosk_id="stolen-kiosk") as client, \
            pytest.raises(AuthenticationFailed):
        client.heartbeat({})


def test_nothing_listening_is_backend_unavailable() -> None:
    with RestBackend("http://127.0.0.1:9", DEMO_TOKEN, kiosk_id=DEMO_KIOSK_ID) as client, \
            pytest.raises(BackendUnavailable):
        client.item("x")


def test_an_unusable_base_url_is_backend_unavailable() -> None:
    with RestBackend("htp:/nowhere", DEMO_TOKEN, kiosk_id=DEMO_KIOSK_ID) as client, \
            pytest.raises(BackendUnavailable):
        client.item("x")


# ---------------------------------------------------------------- malformed answers

OUTCOME = {"ok": True, "reason": "ok", "tx_id": "t", "item_id": "i", "title": "T",
           "due": "2026-12-20", "screen_message": "", "hold_shelf": False, "sort_bin": "A"}
PATRON = {"patron_id": "P1", "name": "N", "blocked": False, "block_reason": None,
          "loan_count": 0, "loan_limit": 10}


def _json(body: object) -> tuple[str, str, str, str]:
    return ("200 OK", json.dumps(body), "application/json", "")


# name -> (status, body, content type, extra headers), expected error type
FAILURES: dict[str, tuple[tuple[str, str, str, str], type[BackendError]]] = {
    "html page": (("200 OK", "<html><body>Captive portal</body></html>", "text/html", ""),
                  MalformedReply),
    "invalid json": (("200 OK", '{"ok": tru', "application/json", ""), MalformedReply),
    "json list": (_json([1, 2, 3]), MalformedReply),
    "json null": (_json(None), MalformedReply),
    "missing fields": (_json({"ok": True}), MalformedReply),
    "ok is a string": (_json({**OUTCOME, "ok": "yes"}), MalformedReply),
    "unknown reason": (_json({"ok": False, "reason": "lunch_break"}), MalformedReply),
    "empty body": (("200 OK", "", "application/json", ""), MalformedReply),
    "not found": (("404 Not Found", '{"detail": "Not Found"}', "application/json", ""),
                  MalformedReply),
    "redirect": (("302 Found", "", "text/html", "Location: http://127.0.0.1:9/\r\n"),
                 MalformedReply),
    "unauthorized": (("401 Unauthorized", '{"error": {"code": "unauthorized"}}',
                      "application/json", ""), AuthenticationFailed),
    "forbidden": (("403 Forbidden", "", "text/plain", ""), AuthenticationFailed),
    "bad gateway": (("502 Bad Gateway", "<html>nginx</html>", "text/html", ""),
                    BackendUnavailable),
    "too many requests": (("429 Too Many Requests", "", "text/plain", "Retry-After: 30\r\n"),
                          BackendUnavailable),
}


@pytest.mark.parametrize("failure", FAILURES)
@pytest.mark.parametrize("call", CALLS)
def test_nothing_but_backend_errors_escape(raw_server, raw_backend, failure: str,
                                           call: str) -> None:
    (status, body, content_type, headers), expected = FAILURES[failure]
    raw_server.respond(status, body, content_type=content_type, headers=headers)
    with pytest.raises(BackendError) as error:
        CALLS[call](raw_backend)
    assert type(error.value) is expected, repr(error.value)
    assert JAN.patron_id not in str(error.value)  # the account URL holds the patron id


def test_truncated_body_and_silent_close_are_backend_unavailable(raw_server,
                                                                 raw_backend) -> None:
    raw_server.reply = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        b"Content-Length: 500\r\nConnection: close\r\n\r\n{\"ok\": true")
    with pytest.raises(BackendUnavailable) as error:
        CALLS["checkout"](raw_backend)
    assert not isinstance(error.value, MalformedReply)
    raw_server.reply = b""  # accept, read, close without a word
    with pytest.raises(BackendUnavailable):
        CALLS["checkout"](raw_backend)


@pytest.mark.parametrize(("field", "value"), [
    ("loan_count", "3"), ("loan_count", True), ("loan_count", 2.5), ("blocked", 0),
    ("patron_id", 17), ("block_reason", "sleeping"),
])
def test_wrong_types_in_a_patron_are_malformed(raw_server, raw_backend, field, value) -> None:
    raw_server.respond("200 OK", json.dumps({"ok": True, "reason": "ok",
                                             "patron": {**PATRON, field: value}}))
    with pytest.raises(MalformedReply, match=field):
        CALLS["identify"](raw_backend)


@pytest.mark.parametrize(("field", "value"), [("due", "next tuesday"), ("due", 20261220),
                                              ("hold_shelf", "no"), ("reason", None)])
def test_wrong_types_in_an_outcome_are_malformed(raw_server, raw_backend, field, value) -> None:
    raw_server.respond("200 OK", json.dumps({**OUTCOME, field: value}))
    with pytest.raises(MalformedReply, match=field):
        CALLS["checkout"](raw_backend)


def test_replay_answer_for_other_transactions_is_malformed(raw_server, raw_backend) -> None:
    raw_server.respond("200 OK", json.dumps({"results": [
        {"tx_id": "someone-else", "status": "done", "outcome": None, "detail": ""}]}))
    with pytest.raises(MalformedReply, match="replay"):
        CALLS["replay"](raw_backend)
    raw_server.respond("200 OK", json.dumps({"results": [
        {"tx_id": "x", "status": "maybe", "outcome": None, "detail": ""}]}))
    with pytest.raises(MalformedReply, match="status"):
        CALLS["replay"](raw_backend)


def test_429_with_an_http_date_sets_retry_after(raw_server, raw_backend) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    raw_server.respond("429 Too Many Requests", "", content_type="text/plain",
                       headers=f"Retry-After: {when}\r\n")
    with pytest.raises(BackendUnavailable) as error:
        CALLS["item"](raw_backend)
    assert error.value.retry_after is not None and 100 < error.value.retry_after <= 120


def test_malformed_replies_are_logged(raw_server, raw_backend, caplog) -> None:
    raw_server.respond("200 OK", "<html>Proxy login</html>", content_type="text/html")
    with pytest.raises(MalformedReply):
        CALLS["account"](raw_backend)
    assert "expected JSON" in caplog.text
    assert JAN.patron_id not in caplog.text


def test_request_carries_token_kiosk_and_never_the_pin_in_the_url(raw_server,
                                                                  raw_backend) -> None:
    raw_server.respond("200 OK", json.dumps({"ok": True, "reason": "ok", "patron": PATRON}))
    raw_backend.identify(Credential(CredentialKind.BARCODE, JAN.barcode), pin="4321")
    request = raw_server.requests[-1]
    request_line = request.split(b"\r\n")[0]
    assert request_line == b"POST /v1/patrons/identify HTTP/1.1"
    assert f"Authorization: Bearer {DEMO_TOKEN}".encode() in request
    assert json.loads(request.partition(b"\r\n\r\n")[2])["pin"] == "4321"


@pytest.mark.parametrize(("value", "expected"), [
    ("5", 5.0), ("0.5", 0.5), ("-3", 0.0), ("", None), (None, None), ("soon", None),
    ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
])
def test_retry_after_parsing(value, expected) -> None:
    assert retry_after_seconds(value) == expected
