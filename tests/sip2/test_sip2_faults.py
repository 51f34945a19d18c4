"""Connection faults end in a reconnect or BackendUnavailable, never a hang or a foreign error."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pysip2 import CheckinResponse, EndSessionResponse, PatronInformationResponse
from sip2_fault_acs import CLOSE, STALL, FaultAcs, encode_reply, item_reply
from sip2_library_acs import settings_for

from domain.model import (
    Account,
    Credential,
    CredentialKind,
    Item,
    Outcome,
    Patron,
    ReplayStatus,
    Transaction,
    TransactionKind,
)
from kiosk.backends.base import BackendError, BackendUnavailable, MalformedReply
from kiosk.backends.sip2 import Sip2Backend, Sip2Client
from kiosk.backends.sip2.codec import make

if TYPE_CHECKING:
    from conftest import SiteCertificate  # tests/conftest.py


def backend_for(acs: FaultAcs, **overrides: object) -> Sip2Backend:
    values: dict[str, object] = {"timeout_s": 0.5, "use_acs_timeout": False, "retries": 2}
    values.update(overrides)
    return Sip2Backend(settings_for(acs.port, **values))


def good_item(code: str, frame: bytes, n: int) -> object:
    return encode_reply(item_reply(), frame)


def test_drop_mid_message_then_reconnects_for_a_read() -> None:
    def script(code: str, frame: bytes, n: int) -> object:
        good = encode_reply(item_reply(), frame)
        return (good[:15], CLOSE) if n == 0 else good  # half a reply, then the link dies

    with FaultAcs(script) as acs, backend_for(acs) as b:
        assert b.item("I1").title == "Kaas"
        assert acs.connections == 2 and acs.count("93") == 2  # re-login on the new link


def test_server_closing_before_replying_is_retried_once_for_reads() -> None:
    with FaultAcs(lambda c, f, n: CLOSE if n == 0 else encode_reply(item_reply(), f)) as acs, \
            backend_for(acs) as b:
        assert b.item("I1").title == "Kaas"
        assert acs.count("17") == 2


def test_truncated_reply_then_silence_times_out_without_hanging() -> None:
    def half(code: str, frame: bytes, n: int) -> object:
        return encode_reply(item_reply(), frame)[:20]

    with FaultAcs(half) as acs, backend_for(acs) as b:
        started = time.monotonic()
        with pytest.raises(BackendUnavailable, match="no reply within"):
            b.item("I1")
        assert time.monotonic() - started < 6  # two attempts of 0.5 s, plus connects: no hang


def test_stall_is_backend_unavailable_within_the_timeout() -> None:
    with FaultAcs(lambda c, f, n: STALL) as acs, backend_for(acs) as b:
        started = time.monotonic()
        with pytest.raises(BackendUnavailable):
            b.item("I1")
        assert time.monotonic() - started < 6  # not a hang (timeouts 0.5 s each)


def test_acs_timeout_is_used_but_never_below_one_second() -> None:
    with FaultAcs(lambda c, f, n: STALL, acs_timeout="002") as acs, \
            backend_for(acs, timeout_s=5.0, use_acs_timeout=True) as b:
        started = time.monotonic()
        with pytest.raises(BackendUnavailable, match=r"no reply within 1\.0 s"):
            b.checkout(Transaction(TransactionKind.CHECKOUT, "P1", "I1"))  # no retry
        assert 1.0 <= time.monotonic() - started < 4.5  # the ACS's 1 s, not our 5 s


def test_garbage_is_malformed_and_the_next_request_reconnects() -> None:
    def script(code: str, frame: bytes, n: int) -> object:
        return b"HTTP/1.1 400 Bad Request\r" if n == 0 else encode_reply(item_reply(), frame)

    with FaultAcs(script) as acs, backend_for(acs) as b:
        with pytest.raises(MalformedReply):
            b.item("I1")
        assert b.item("I1").title == "Kaas"
        assert acs.connections == 2


def test_wrong_checksum_asks_for_a_resend_and_succeeds() -> None:
    def script(code: str, frame: bytes, n: int) -> object:
        good = encode_reply(item_reply(), frame)
        damaged = good[:10] + bytes([good[10] ^ 0x01]) + good[11:]
        return (damaged, good)  # the 97 gets the good copy

    with FaultAcs(script) as acs, backend_for(acs) as b:
        assert b.item("I1").title == "Kaas"
        assert acs.count("97") == 1 and acs.connections == 1


def test_checksum_failing_every_time_gives_up() -> None:
    def script(code: str, frame: bytes, n: int) -> object:
        good = encode_reply(item_reply(), frame)
        return good[:-2] + (b"0" if good[-2:-1] != b"0" else b"1") + b"\r"

    with FaultAcs(script) as acs, backend_for(acs, retries=2) as b:
        with pytest.raises(BackendUnavailable, match="checksum"):
            b.item("I1")
        assert acs.count("97") == 4  # 2 resends per attempt, 2 attempts for a read


def test_acs_asking_for_a_resend_gets_the_same_bytes() -> None:
    def script(code: str, frame: bytes, n: int) -> object:
        return b"96AZFEF6\r" if n == 0 else encode_reply(item_reply(), frame)

    with FaultAcs(script) as acs, backend_for(acs) as b:
        assert b.item("I1").title == "Kaas"
        items = [f for f in acs.frames if f[:2] == b"17"]
        assert len(items) == 2 and items[0] == items[1]


def test_reply_of_the_wrong_kind_is_malformed() -> None:
    with FaultAcs(lambda c, f, n: encode_reply(
            EndSessionResponse(
                end_session="Y", transaction_date="20240101    120000",
                institution_id="MAIN", patron_identifier="P"), f)) as acs, \
            backend_for(acs) as b, pytest.raises(MalformedReply, match="expected a 18"):
        b.item("I1")


def test_checkout_is_not_resent_after_a_drop() -> None:
    with FaultAcs(lambda c, f, n: CLOSE) as acs, backend_for(acs) as b:
        with pytest.raises(BackendUnavailable):
            b.checkout(Transaction(TransactionKind.CHECKOUT, "P1", "I1"))
        assert acs.count("11") == 1  # outcome unknown: the journal decides, not a blind resend


def test_nothing_listening_is_backend_unavailable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with Sip2Backend(settings_for(port)) as b, pytest.raises(BackendUnavailable,
                                                             match="cannot connect"):
        b.heartbeat({})


def test_crlf_server() -> None:
    with FaultAcs(good_item, terminator=b"\r\n") as acs, \
            backend_for(acs, terminator="CRLF") as b:
        for _ in range(3):
            assert b.item("I1").title == "Kaas"
        assert all(f.endswith(b"\r") for f in acs.frames)


def test_closed_client_refuses_politely() -> None:
    with FaultAcs(good_item) as acs:
        client = Sip2Client(settings_for(acs.port))
        client.close()
        with pytest.raises(BackendUnavailable, match="closed"):
            client.request(make("17", {"transaction_date": "20240101    120000"},
                                [("AO", "MAIN"), ("AB", "I1")]))


# ---- TLS (stunnel-style) -----------------------------------------------------------


def test_tls_with_the_sites_certificate(site_certificate: SiteCertificate) -> None:
    with FaultAcs(good_item, tls_context=site_certificate.server_context()) as acs, \
            backend_for(acs, tls=True, tls_ca_file=str(site_certificate.cert)) as b:
        assert b.item("I1").title == "Kaas"


def test_tls_refuses_an_unknown_certificate_by_default(site_certificate: SiteCertificate) -> None:
    with FaultAcs(good_item, tls_context=site_certificate.server_context()) as acs:
        with backend_for(acs, tls=True) as b, pytest.raises(BackendUnavailable, match="TLS"):
            b.item("I1")
        with backend_for(acs, tls=True, tls_verify=False) as b:
            assert b.item("I1").title == "Kaas"


# ---- nothing foreign escapes ----------------------------------------------------------


OPERATIONS: dict[str, tuple[Callable[[Sip2Backend], object], type]] = {
    "item": (lambda b: b.item("I1"), Item),
    "identify": (lambda b: b.identify(Credential(CredentialKind.BARCODE, "P1"), "1234"), Patron),
    "account": (lambda b: b.account("P1"), Account),
    "checkout": (lambda b: b.checkout(Transaction(TransactionKind.CHECKOUT, "P1", "I1")),
                 Outcome),
    "checkin": (lambda b: b.checkin(Transaction(TransactionKind.CHECKIN, None, "I1")), Outcome),
    "renew": (lambda b: b.renew(Transaction(TransactionKind.RENEW, "P1", "I1")), Outcome),
    "replay": (lambda b: b.replay([Transaction(TransactionKind.CHECKOUT, "P1", "I1")]), list),
    "end_session": (lambda b: b.end_session("P1"), type(None)),
}
PLAUSIBLE = [b"18030201", b"1899999920240101    120000AB|AJ|AHnot-a-date|CM2024|",
             b"64YYYYYYYYYYYYYY00020240101    1200009999    00010001000100010001AOX|AAP1|BLY|CQ",
             b"120NNN20240101    120000AOX|AAP|ABI|AJ|AH|", b"101YNY20240101    120000",
             b"301YNN20240101    120000AH2024-13-45|", b"36Y20240101    120000",
             b"64              00020240101    120000000100000000000000000000BV1e999|AUx|"]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operation=st.sampled_from(sorted(OPERATIONS)), reply=st.one_of(
    st.binary(max_size=80),
    st.tuples(st.sampled_from([b"18", b"64", b"12", b"10", b"30", b"36"]),
              st.binary(max_size=60)).map(b"".join),
    st.tuples(st.sampled_from(PLAUSIBLE), st.binary(max_size=20)).map(b"".join),
    st.sampled_from(PLAUSIBLE),
))
def test_any_server_bytes_give_an_answer_or_a_backend_error(operation: str,
                                                            reply: bytes) -> None:
    """Whatever the server says, the kiosk gets a result or a BackendError, nothing else."""
    with FaultAcs(lambda c, f, n: reply.replace(b"\r", b"") + b"\r") as acs, \
            backend_for(acs, timeout_s=0.3, error_detection=False) as b:
        call, expected = OPERATIONS[operation]
        try:
            result = call(b)
        except BackendError:
            return  # Refused or BackendUnavailable: the kiosk knows what to do with both
        assert isinstance(result, expected)
        if isinstance(result, Outcome):
            assert result.ok  # a refusal must come as Refused, never as a silent ok=False


def charged(items: tuple[str, ...], frame: bytes) -> bytes:
    """A 64 for patron P1 listing `items` as charged (what a VOID reads back first)."""
    return encode_reply(PatronInformationResponse(
        patron_status=" " * 14, language="000", transaction_date="20240101    120000",
        hold_items_count="0000", overdue_items_count="0000",
        charged_items_count=f"{len(items):04d}", fine_items_count="0000",
        recall_items_count="0000", unavailable_holds_count="0000", institution_id="MAIN",
        patron_identifier="P1", personal_name="", valid_patron="Y", charged_items=items), frame)


@pytest.mark.parametrize("applied", [True, False])
def test_void_after_a_checkout_whose_answer_never_came(applied: bool) -> None:
    """The VOID case that matters: the checkout may or may not have happened. The patron's
    charged items tell: on loan, a no-block checkin undoes it; not, nothing is sent (a checkin
    of an item not on loan is refused, and staff would get a conflict)."""
    def script(code: str, frame: bytes, n: int) -> object:
        if code == "11":
            return CLOSE  # the link dies before the answer
        if code == "63":
            return charged(("I1",) if applied else (), frame)
        return encode_reply(CheckinResponse(
            ok="1", resensitize="Y", magnetic_media="N", alert="N",
            transaction_date="20240101    120000", institution_id="MAIN",
            item_identifier="I1", permanent_location="Main"), frame)

    with FaultAcs(script) as acs, backend_for(acs) as b:
        lost = Transaction(TransactionKind.CHECKOUT, "P1", "I1")
        with pytest.raises(BackendUnavailable):
            b.checkout(lost)
        [result] = b.replay([Transaction(TransactionKind.VOID, "P1", "I1", ref_tx_id=lost.tx_id)])
        assert result.status is ReplayStatus.DONE
        checkins = [f for f in acs.frames if f[:2] == b"09"]
        assert len(checkins) == (1 if applied else 0)
        assert all(c[2:3] == b"Y" for c in checkins)  # no-block: undo regardless of blocks


@pytest.mark.parametrize(("sent", "category"), [(b"PCChild|", "child"), (b"PCJ K|", ""),
                                                (b"", "")])
def test_the_patron_class_koha_sends_is_the_patron_category(sent: bytes, category: str) -> None:
    """PC, patron class (Koha's category code, Evergreen's profile): what messages to patrons
    aim at. A value that is not one short word, or none at all, is no category."""
    def script(code: str, frame: bytes, n: int) -> object:
        if code == "63":
            return _with_checksum(charged((), frame).replace(b"AAP1|", b"AAP1|" + sent, 1))
        return CLOSE

    with FaultAcs(script) as acs, backend_for(acs) as b:
        patron = b.identify(Credential(CredentialKind.BARCODE, "P1"))
    assert patron.category == category


def _with_checksum(frame: bytes) -> bytes:
    """`frame` with its AZ checksum made right again after a field was added to it."""
    at = frame.rfind(b"AZ")
    if at < 0:
        return frame
    body = frame[:at + 2]
    return body + f"{(-sum(body)) & 0xFFFF:04X}".encode() + frame[at + 6:]
