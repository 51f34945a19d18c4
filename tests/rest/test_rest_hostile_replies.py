"""Whatever the central service sends, only the seam's own errors leave the REST backend, and
no reply makes a patron wait past the bound.

A raw HTTP server on loopback answers with bodies from `kiosk.testing.hostile` (valid replies
bent one to three places, nesting a thousand deep, not JSON at all), with hostile Retry-After
headers on 429/5xx, or drips its bytes one at a time.
"""

from __future__ import annotations

import contextlib
import random
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.model import Transaction, TransactionKind
from kiosk.backends.base import BackendError, BackendUnavailable, MalformedReply, patron_wait
from kiosk.backends.rest import retry_after_seconds
from kiosk.testing.hostile import BACKEND_CALLS, NASTY_TEXT, REPLAY_BATCH, rest_reply

OPS = {name: call for name, call in BACKEND_CALLS.items() if name != "end_session"}


@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32), op=st.sampled_from(sorted(OPS)),
       status=st.sampled_from(["200 OK"] * 8 + ["429 Too Many Requests", "503 Unavailable",
                                                "404 Not Found"]),
       retry_after=st.sampled_from((*NASTY_TEXT, "0 Oct 2200000000 0:0",
                                    "Wed, 21 Oct 99999 07:28:00 GMT")))
def test_only_backend_errors_leave_the_rest_backend(raw_server, raw_backend, seed, op, status,
                                                    retry_after) -> None:
    body = rest_reply(random.Random(seed), op, tx_ids=[tx.tx_id for tx in REPLAY_BATCH])
    raw_server.respond(status, body, headers=f"Retry-After: {retry_after}\r\n")
    with contextlib.suppress(BackendError):
        OPS[op](raw_backend)


def test_json_nested_a_thousand_deep_is_a_malformed_reply(raw_server, raw_backend) -> None:
    raw_server.respond("200 OK", "[" * 1000 + "]" * 1000)
    with pytest.raises(MalformedReply):
        raw_backend.checkout(Transaction(TransactionKind.CHECKOUT, "P-1", "I-1"))


@pytest.mark.parametrize("value", ["0 Oct 2200000000 0:0", "Wed, 21 Oct 99999 07:28:00 GMT",
                                   "9" * 5000])
def test_an_impossible_retry_after_is_ignored_not_a_crash(raw_server, raw_backend,
                                                          value) -> None:
    assert retry_after_seconds(value) is None or retry_after_seconds(value) >= 0
    raw_server.respond("503 Service Unavailable", '{"error": {}}',
                       headers=f"Retry-After: {value}\r\n")
    with pytest.raises(BackendUnavailable) as error:
        raw_backend.checkin(Transaction(TransactionKind.CHECKIN, None, "I-1"))
    assert type(error.value) is BackendUnavailable


def test_a_dripping_server_cannot_stretch_a_patrons_wait(raw_server, raw_backend) -> None:
    """One byte every 50 ms of a 300-byte reply is 15 s; each read is well inside the 1 s read
    timeout, so only a deadline on the whole exchange stops it."""
    body = '{"ok": true, "reason": "ok", "item_id": "I-1", "title": "' + "x" * 200 + '"}'
    raw_server.respond("200 OK", body)
    raw_server.drip_s = 0.05
    try:
        started = time.monotonic()
        with patron_wait(1.0), pytest.raises(BackendUnavailable):
            raw_backend.checkin(Transaction(TransactionKind.CHECKIN, None, "I-1"))
        assert time.monotonic() - started < 1.6
        started = time.monotonic()  # no patron waiting: the backend's own timeouts, in total
        with pytest.raises(BackendUnavailable):
            raw_backend.checkin(Transaction(TransactionKind.CHECKIN, None, "I-1"))
        assert time.monotonic() - started < 2.6  # connect 1.0 + read 1.0, as configured
    finally:
        raw_server.drip_s = 0.0
