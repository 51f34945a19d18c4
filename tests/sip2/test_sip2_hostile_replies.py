"""Whatever a SIP2 server sends, only the seam's own errors leave the backend.

A raw-socket ACS (login and status correct) answers every other request with a reply made by
`kiosk.testing.hostile` from a Random seeded by hypothesis: wrong fixed fields,
empty and repeated variable fields, dates at the ends of the calendar, huge amounts. Then the
cases found by fuzzing before, each by name.
"""

from __future__ import annotations

import contextlib
import dataclasses
import random
import time
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sip2_fault_acs import FaultAcs

from domain.model import (
    ACCOUNT_LIST_LIMIT,
)
from kiosk.backends.base import BackendError, MalformedReply
from kiosk.backends.sip2 import Sip2Backend, Sip2Settings
from kiosk.backends.sip2.codec import SPECS
from kiosk.testing.hostile import BACKEND_CALLS, sip2_reply

OPS = BACKEND_CALLS


class Replies:
    """The ACS's script: each request gets a hostile reply of the right command."""

    def __init__(self) -> None:
        self.rng = random.Random(0)
        self.fixed: dict[str, bytes] = {}  # request code -> the reply it gets, when set

    def __call__(self, code: str, frame: bytes, n: int) -> object:
        if code in self.fixed:
            return self.fixed[code]
        if self.fixed and code == "17":  # an account's item lookups: a plain item
            return ITEM_18 + b"AB" + frame.split(b"AB")[1].split(b"|")[0] + b"|AJTitle|\r"
        return sip2_reply(self.rng, SPECS[code].reply or code)


@pytest.fixture(scope="module")
def hostile() -> Iterator[tuple[Replies, Sip2Backend]]:
    replies = Replies()
    with FaultAcs(replies) as acs:
        backend = Sip2Backend(Sip2Settings.from_mapping({
            "host": "127.0.0.1", "port": acs.port, "login_user": "kiosk",
            "login_password": "x", "institution_id": "MAIN", "timeout_s": 2.0,
            "error_detection": False, "use_acs_timeout": False}))
        yield replies, backend
        backend.close()


@settings(max_examples=250, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32), op=st.sampled_from(sorted(OPS)))
def test_only_backend_errors_leave_the_sip2_backend(hostile, seed, op) -> None:
    replies, backend = hostile
    replies.rng = random.Random(seed)  # drawn by the server's thread: a plain Random
    started = time.monotonic()
    with contextlib.suppress(BackendError):
        OPS[op](backend)
    assert time.monotonic() - started < 5.0, "one hostile reply must not cost seconds of CPU"


NOW18 = b"20261201    103000"
ITEM_18 = b"18" + b"030001" + NOW18
PATRON_64 = b"64" + b" " * 14 + b"001" + NOW18 + b"0000" * 6 + b"AOMAIN|AAP100|AEAnn|BLY|"


LOAN_64 = PATRON_64 + b"AUI001|\r"


@pytest.mark.parametrize("fixed", [
    {"63": LOAN_64, "17": ITEM_18 + b"ABI001|AJKaas|AH99991231   Z235959|\r"},
    {"63": LOAN_64, "17": ITEM_18 + b"ABI001|AJKaas|AH0001-01-01000+01|\r"},
    {"63": LOAN_64, "17": ITEM_18 + b"ABI001|AJKaas|AH00010101    000000|\r"},
    {"63": PATRON_64 + b"BV1E5000|\r"},
    {"63": PATRON_64 + b"CB" + b"9" * 400 + b"|\r"},
], ids=["due-9999-utc", "due-year-1-with-zone", "due-year-1-local", "fine-1e5000", "limit-400"])
def test_replies_that_once_crashed_the_kiosk_are_answered(hostile, fixed) -> None:
    """The account still shows (with what can be read), or fails as the seam's own error."""
    replies, backend = hostile
    replies.fixed = dict(fixed)
    backend.settings = dataclasses.replace(backend.settings, server_timezone="Pacific/Kiritimati")
    started = time.monotonic()
    try:
        account = backend.account("P100")
    except MalformedReply:
        account = None
    finally:
        replies.fixed = {}
    assert time.monotonic() - started < 2.0
    if account is not None and account.loans:
        assert account.loans[0].item_id == "I001"


def test_a_huge_fine_is_a_malformed_reply_not_half_a_minute_of_cpu(hostile) -> None:
    replies, backend = hostile
    replies.fixed = {"63": PATRON_64 + b"BV1E999990|\r"}
    started = time.monotonic()
    try:
        with pytest.raises(MalformedReply):
            backend.account("P100")
    finally:
        replies.fixed = {}
    assert time.monotonic() - started < 1.0


def test_empty_repeated_fields_name_nothing_and_lists_are_capped(hostile) -> None:
    replies, backend = hostile
    empty_holds = b"AS|" * 999
    many_loans = b"".join(b"AUI%04d|" % n for n in range(300)) + b"AUI0001|"
    replies.fixed = {"63": PATRON_64 + empty_holds + many_loans + b"\r"}
    try:
        account = backend.account("P100")
    finally:
        replies.fixed = {}
    assert account.holds == ()  # 999 blanks are no holds
    ids = [loan.item_id for loan in account.loans]
    assert len(ids) == ACCOUNT_LIST_LIMIT and len(set(ids)) == len(ids)
    assert all(i.strip() for i in ids)
