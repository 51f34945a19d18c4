"""Full patron sessions through Sip2Backend against pysip2's SIP2 server on 127.0.0.1."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, date, datetime, timedelta

import pysip2
import pytest
from sip2_library_acs import LOAN_DAYS, RunningAcs, settings_for

from domain.model import (
    Credential,
    CredentialKind,
    ReasonCode,
    ReplayStatus,
    Transaction,
    TransactionKind,
)
from kiosk.backends.base import AuthenticationFailed, BackendUnavailable, CatalogBackend, Refused
from kiosk.backends.sip2 import Sip2Backend, Sip2Settings


def card(value: str) -> Credential:
    return Credential(CredentialKind.BARCODE, value)


def tx(kind: TransactionKind, patron: str | None, item: str, **kw: object) -> Transaction:
    return Transaction(kind=kind, patron_id=patron, item_id=item, **kw)  # type: ignore[arg-type]


def test_backend_satisfies_the_catalog_protocol(backend: Sip2Backend) -> None:
    assert isinstance(backend, CatalogBackend)


# ---- identify ---------------------------------------------------------------


def test_identify_with_the_right_pin(backend: Sip2Backend) -> None:
    patron = backend.identify(card("P100"), "1234")
    assert (patron.patron_id, patron.name, patron.blocked) == ("P100", "Ann Reader", False)
    assert (patron.loan_count, patron.loan_limit) == (1, 3)


def test_identify_wrong_pin_and_unknown_card(backend: Sip2Backend) -> None:
    with pytest.raises(Refused) as wrong:
        backend.identify(card("P100"), "9999")
    assert wrong.value.reason is ReasonCode.WRONG_PIN
    with pytest.raises(Refused) as unknown:
        backend.identify(card("NOPE"), "1234")
    assert unknown.value.reason is ReasonCode.UNKNOWN_PATRON
    assert unknown.value.message == "Invalid patron"


def test_identify_blocked_patron_says_why(backend: Sip2Backend) -> None:
    patron = backend.identify(card("P200"), "0000")
    assert patron.blocked and patron.block_reason is ReasonCode.FINES_TOO_HIGH


def test_identify_sends_the_pin_only_when_configured(acs: RunningAcs) -> None:
    with Sip2Backend(settings_for(acs.port, patron_password="omit")) as b:
        assert b.identify(card("P100"), "9999").name == "Ann Reader"  # server not asked
    sent = [r for r in acs.library.requests if isinstance(r, pysip2.PatronInformationRequest)]
    assert sent and all(r.patron_password is None for r in sent)


def test_unusable_card_number_is_refused_before_sending(backend: Sip2Backend,
                                                        acs: RunningAcs) -> None:
    with pytest.raises(Refused) as bad:
        backend.identify(card("P1|AAother"), None)
    assert bad.value.reason is ReasonCode.INVALID_CARD
    assert not any(isinstance(r, pysip2.PatronInformationRequest) for r in acs.library.requests)


def test_no_pin_or_patron_id_in_logs(backend: Sip2Backend, caplog: pytest.LogCaptureFixture,
                                    acs: RunningAcs) -> None:
    caplog.set_level(logging.DEBUG)
    backend.identify(card("P100"), "1234")
    backend.checkout(tx(TransactionKind.CHECKOUT, "P100", "I001"))
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("kiosk"))
    assert ours  # we do log the connection
    assert "1234" not in ours and "P100" not in ours


# ---- account, items ---------------------------------------------------------


def test_account_lists_loans_with_titles_and_due_dates(backend: Sip2Backend) -> None:
    account = backend.account("P100")
    assert account.patron.name == "Ann Reader"
    assert [(loan.item_id, loan.title) for loan in account.loans] == [("I006", "Tirza")]
    assert account.loans[0].due == (datetime.now() + timedelta(days=5)).date()
    assert account.fines_cents == 0


def test_account_fines_from_fee_amount(backend: Sip2Backend) -> None:
    assert backend.account("P200").fines_cents == 1250


def test_holds_ready_only_counting(acs: RunningAcs) -> None:
    s = settings_for(acs.port, hold_counting="ready_only",
                     summary_flags=["hold", "charged", "fine", "unavailable_holds"])
    with Sip2Backend(s) as b:
        holds = b.account("P300").holds
    assert [(h.item_id, h.title, h.ready) for h in holds] == [
        ("I005", "Kaas", True), ("I007", "Het Diner", False)]
    assert holds[0].pickup_until == (datetime.now() + timedelta(days=7)).date()


def test_holds_all_counting_reads_readiness_per_item(acs: RunningAcs) -> None:
    acs.library.list_all_holds_in_as = True  # the server lists every hold in AS
    with Sip2Backend(settings_for(acs.port, hold_counting="all")) as b:
        holds = b.account("P300").holds
    assert [(h.item_id, h.ready) for h in holds] == [("I005", True), ("I007", False)]


@pytest.mark.parametrize("all_in_as", [False, True])
def test_identify_counts_the_holds_waiting_on_the_shelf(acs: RunningAcs, all_in_as: bool) -> None:
    """One ready, one queued: "a hold is ready" at identification, however the server counts."""
    acs.library.list_all_holds_in_as = all_in_as
    counting = "all" if all_in_as else "ready_only"
    with Sip2Backend(settings_for(acs.port, hold_counting=counting)) as b:
        assert b.identify(card("P300"), "4321").holds_ready == 1
        assert b.identify(card("P100"), "1234").holds_ready == 0


def test_the_receipt_address_is_hinted_at_identification_and_given_only_when_asked(
        backend: Sip2Backend) -> None:
    ann = backend.identify(card("P100"), "1234")
    assert ann.email_hint == "a\u2022\u2022\u2022@example.org"
    assert "ann.reader" not in repr(ann)
    assert backend.email_of("P100") == "ann.reader@example.org"
    assert backend.email_of("P300") is None  # the library holds no address
    with pytest.raises(Refused):
        backend.email_of("NOPE")


def test_item_information(backend: Sip2Backend) -> None:
    assert backend.item("I001").title == "De Avonden"
    assert backend.item("I006").on_loan
    assert backend.item("I005").on_hold_for_other
    with pytest.raises(Refused) as unknown:
        backend.item("X999")
    assert unknown.value.reason is ReasonCode.UNKNOWN_ITEM


# ---- circulation ---------------------------------------------------------------


def test_checkout_gives_title_due_date_and_screen_message(backend: Sip2Backend,
                                                          acs: RunningAcs) -> None:
    t = tx(TransactionKind.CHECKOUT, "P100", "I001")
    outcome = backend.checkout(t)
    assert outcome.ok and outcome.tx_id == t.tx_id
    assert (outcome.title, outcome.screen_message) == ("De Avonden", "Enjoy your book")
    assert outcome.due == (datetime.now() + timedelta(days=LOAN_DAYS)).date()
    sent = [r for r in acs.library.requests if isinstance(r, pysip2.CheckoutRequest)][-1]
    assert (sent.no_block, sent.institution_id, sent.terminal_password) == ("N", "MAIN", "")


@pytest.mark.parametrize(("patron", "item", "reason", "text"), [
    ("P100", "I004", ReasonCode.NOT_FOR_LOAN, "Item not for loan"),
    ("P100", "I005", ReasonCode.ON_HOLD_FOR_OTHER, "Item on hold for another patron"),
    ("P200", "I001", ReasonCode.FINES_TOO_HIGH, "Patron blocked: outstanding fines"),
    ("P100", "X999", ReasonCode.UNKNOWN_ITEM, "Invalid item barcode"),
])
def test_checkout_refusals_carry_reason_and_server_text(
        backend: Sip2Backend, patron: str, item: str, reason: ReasonCode, text: str) -> None:
    with pytest.raises(Refused) as refused:
        backend.checkout(tx(TransactionKind.CHECKOUT, patron, item))
    assert (refused.value.reason, refused.value.message) == (reason, text)


def test_loan_limit(backend: Sip2Backend) -> None:
    backend.checkout(tx(TransactionKind.CHECKOUT, "P100", "I001"))
    backend.checkout(tx(TransactionKind.CHECKOUT, "P100", "I002"))
    with pytest.raises(Refused) as refused:
        backend.checkout(tx(TransactionKind.CHECKOUT, "P100", "I003"))
    assert refused.value.reason is ReasonCode.TOO_MANY_ITEMS


def test_checkin_sort_bin_and_hold_shelf(backend: Sip2Backend) -> None:
    plain = backend.checkin(tx(TransactionKind.CHECKIN, None, "I006"))
    assert (plain.ok, plain.sort_bin, plain.hold_shelf) == (True, "A1", False)
    backend.checkout(tx(TransactionKind.CHECKOUT, "P100", "I003"))
    held = backend.checkin(tx(TransactionKind.CHECKIN, None, "I003"))
    assert (held.sort_bin, held.hold_shelf) == ("B2", True)
    assert held.screen_message == "Item on hold: put on hold shelf"
    with pytest.raises(Refused) as refused:
        backend.checkin(tx(TransactionKind.CHECKIN, None, "I003"))
    assert refused.value.reason is ReasonCode.NOT_ON_LOAN


def test_renew_then_renewal_limit(backend: Sip2Backend) -> None:
    first = backend.renew(tx(TransactionKind.RENEW, "P100", "I006"))
    assert first.due == (datetime.now() + timedelta(days=5 + LOAN_DAYS)).date()
    with pytest.raises(Refused) as refused:
        backend.renew(tx(TransactionKind.RENEW, "P100", "I006"))
    assert refused.value.reason is ReasonCode.RENEW_LIMIT


def test_end_session_tells_the_server(backend: Sip2Backend, acs: RunningAcs) -> None:
    backend.end_session("P100")
    ends = [r for r in acs.library.requests if isinstance(r, pysip2.EndPatronSessionRequest)]
    assert [e.patron_identifier for e in ends] == ["P100"]


# ---- offline replay -------------------------------------------------------------


def test_replay_sends_no_block_with_the_original_date(backend: Sip2Backend,
                                                      acs: RunningAcs) -> None:
    when = datetime(2024, 3, 15, 9, 30, tzinfo=UTC)
    batch = [
        tx(TransactionKind.CHECKOUT, "P200", "I001", created_at=when, offline=True),
        tx(TransactionKind.CHECKOUT, "P100", "X999", created_at=when, offline=True),
        tx(TransactionKind.CHECKIN, None, "I006", created_at=when, offline=True),
        tx(TransactionKind.CHECKOUT, "P1|2", "I002", created_at=when, offline=True),
    ]
    results = backend.replay(batch)
    assert [r.tx_id for r in results] == [t.tx_id for t in batch]
    assert [r.status for r in results] == [ReplayStatus.DONE, ReplayStatus.CONFLICT,
                                           ReplayStatus.DONE, ReplayStatus.REJECTED]
    assert results[1].detail == "Invalid item barcode"
    assert acs.library.items["I001"].holder == "P200"  # no-block let the blocked patron's
    sent = [r for r in acs.library.requests if isinstance(r, pysip2.CheckoutRequest)]
    local = when.astimezone()
    assert sent[0].no_block == "Y"
    assert sent[0].transaction_date == local.strftime("%Y%m%d") + "    " + local.strftime("%H%M%S")
    checkin = next(r for r in acs.library.requests if isinstance(r, pysip2.CheckinRequest))
    assert (checkin.no_block, checkin.return_date) == ("Y", sent[0].transaction_date)


def test_void_undoes_what_this_backend_sent(backend: Sip2Backend, acs: RunningAcs) -> None:
    out = tx(TransactionKind.CHECKOUT, "P100", "I001")
    backend.checkout(out)
    renewed = tx(TransactionKind.RENEW, "P100", "I006")
    backend.renew(renewed)
    results = backend.replay([
        tx(TransactionKind.VOID, "P100", "I001", ref_tx_id=out.tx_id),
        tx(TransactionKind.VOID, "P100", "I006", ref_tx_id=renewed.tx_id),
        tx(TransactionKind.VOID, "P100", "I002", ref_tx_id="never-sent"),
    ])
    assert [r.status for r in results] == [ReplayStatus.DONE, ReplayStatus.CONFLICT,
                                           ReplayStatus.CONFLICT]
    assert acs.library.items["I001"].holder is None  # the checkout was undone by a checkin
    assert "renewal" in results[1].detail


def test_void_of_a_checkin_checks_out_again(backend: Sip2Backend, acs: RunningAcs) -> None:
    back = tx(TransactionKind.CHECKIN, "P100", "I006")
    backend.checkin(back)
    [result] = backend.replay([tx(TransactionKind.VOID, "P100", "I006", ref_tx_id=back.tx_id)])
    assert result.status is ReplayStatus.DONE
    assert acs.library.items["I006"].holder == "P100"


def test_void_after_a_restart_uses_the_kind_the_journal_kept(backend: Sip2Backend,
                                                             acs: RunningAcs) -> None:
    out = tx(TransactionKind.CHECKOUT, "P100", "I001")
    backend.checkout(out)
    with Sip2Backend(settings_for(acs.port)) as restarted:  # remembers nothing
        [result] = restarted.replay([tx(TransactionKind.VOID, "P100", "I001",
                                        ref_tx_id=out.tx_id, ref_kind=TransactionKind.CHECKOUT)])
    assert result.status is ReplayStatus.DONE
    assert acs.library.items["I001"].holder is None


# ---- status, login, connection life -----------------------------------------------


def test_heartbeat_reports_acs_status(backend: Sip2Backend) -> None:
    status = backend.heartbeat({})
    assert status.online and status.checkout_ok and status.checkin_ok and status.offline_ok
    assert status.server_time is not None
    assert abs((status.server_time - datetime.now(UTC)).total_seconds()) < 5


def test_wrong_login_is_authentication_failed(acs: RunningAcs) -> None:
    with Sip2Backend(settings_for(acs.port, login_password="wrong")) as b, \
            pytest.raises(AuthenticationFailed):
        b.item("I001")


def test_without_login_and_without_error_detection() -> None:
    with RunningAcs(login_required=False) as acs:
        s = settings_for(acs.port, login_required=False, login_user="", error_detection=False)
        with Sip2Backend(s) as b:
            assert b.item("I001").title == "De Avonden"
        assert acs.library.logins == 0


def test_reconnects_and_logs_in_again_after_the_server_drops_us() -> None:
    with RunningAcs(idle_timeout=0.3) as acs, Sip2Backend(settings_for(acs.port)) as b:
        assert b.item("I001").title == "De Avonden"
        time.sleep(1.5)  # the server closes the idle connection (after 0.3 s)
        assert b.item("I002").title == "Max Havelaar"
        assert acs.library.logins == 2


def test_server_gone_is_backend_unavailable(settings: Sip2Settings, acs: RunningAcs) -> None:
    acs.__exit__(None, None, None)
    with Sip2Backend(settings) as b, pytest.raises(BackendUnavailable):
        b.identify(card("P100"), "1234")


def test_one_backend_shared_by_threads_never_mixes_replies(backend: Sip2Backend) -> None:
    wanted = {"I001": "De Avonden", "I002": "Max Havelaar", "I003": "Het Achterhuis",
              "I006": "Tirza"}
    errors: list[str] = []

    def worker(item_id: str) -> None:
        for _ in range(15):
            got = backend.item(item_id)
            if (got.item_id, got.title) != (item_id, wanted[item_id]):
                errors.append(f"{item_id} got {got.item_id}/{got.title}")

    threads = [threading.Thread(target=worker, args=(i,)) for i in wanted for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []


def test_loan_due_unknown_when_server_gives_none(backend: Sip2Backend, acs: RunningAcs) -> None:
    acs.library.items["I006"].due = None
    assert backend.account("P100").loans[0].due == date.max


def test_identify_falls_back_to_patron_status_when_63_is_unsupported() -> None:
    with RunningAcs(without=("63",)) as acs, Sip2Backend(settings_for(acs.port)) as b:
        patron = b.identify(card("P100"), "1234")
        assert (patron.patron_id, patron.name) == ("P100", "Ann Reader")
        with pytest.raises(Refused) as wrong:
            b.identify(card("P100"), "0000")
        assert wrong.value.reason is ReasonCode.WRONG_PIN
        assert b.identify(card("P200"), "0000").blocked
    sent = {type(r).__name__ for r in acs.library.requests}
    assert "PatronStatusRequest" in sent and "PatronInformationRequest" not in sent
