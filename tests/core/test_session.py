"""The patron session, driven like the kiosk drives it: events in, views out, a fake clock.

The central side is the reference service itself, run in this process (the `twin` fixture: the
kiosk's REST client and the service's own code, with no socket between); only time is
simulated.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from domain.demo_library import (
    AVAILABLE_ITEMS,
    DEMO_PIN,
    HELD_ITEMS,
    MULTIPART_ITEMS,
    RENEW_LIMIT_ITEM,
    SEED_PATRONS,
    WAITED_FOR_ITEM,
)
from domain.events import BarcodeScanned, CardPresented, ItemsOnPad, TagRead
from domain.model import Credential, CredentialKind, ReasonCode, TransactionKind
from kiosk.circulation import OfflinePolicy
from kiosk.journal import Journal
from kiosk.session import (
    Back,
    ChooseMode,
    Done,
    EnterPin,
    Mode,
    Receipt,
    ReceiptChoice,
    RenewItems,
    Screen,
    Security,
    Session,
    SessionSettings,
    SessionView,
    SetLanguage,
    StillHere,
)
from kiosk.session_io import MoreTime

PATRON = next(p for p in SEED_PATRONS if p.patron_id == "P0015")
JAN = next(p for p in SEED_PATRONS if p.patron_id == "P0001")  # one loan, renewable
LOTTE = next(p for p in SEED_PATRONS if p.role == "renew_limit")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Rig:
    session: Session
    clock: FakeClock
    views: list[SessionView]
    printed: list[Receipt]
    flips: list[tuple[str, bool]] = field(default_factory=list)
    journal: Journal | None = None

    @property
    def view(self) -> SessionView:
        return self.views[-1]

    def card(self, patron) -> SessionView:
        self.session.handle(CardPresented(Credential(CredentialKind.BARCODE, patron.barcode)))
        return self.view

    def do(self, event: object) -> SessionView:
        self.session.handle(event)
        return self.view

    def wait(self, seconds: float) -> SessionView:
        self.clock.advance(seconds)
        self.session.tick()
        return self.session.view


@pytest.fixture
def rig(make_core, twin):
    def build(*, security_ok: bool = True, policy: OfflinePolicy | None = None,
              flip_results: list[Security] | None = None, **settings: object) -> Rig:
        core = make_core(on=twin, policy=policy)
        clock = FakeClock()
        views: list[SessionView] = []
        printed: list[Receipt] = []
        flips: list[tuple[str, bool]] = []

        def flip(uid: str, secured: bool) -> Security:
            flips.append((uid, secured))
            if flip_results:
                return flip_results.pop(0)
            return Security.SET if security_ok else Security.FAILED

        session = Session(core.circulation, clock=clock, on_change=views.append,
                          settings=SessionSettings(**{"library_isils": ("BE-DEMO0",),
                                                      "card_barcode_prefixes": ("21",),
                                                      **settings}),
                          security=flip, print_receipt=printed.append)
        return Rig(session, clock, views, printed, flips, core.journal)

    return build


def _line(view: SessionView, item_id: str):
    return next(line for line in view.items if line.item_id == item_id)


def test_borrow_three_items_and_a_refused_one(rig):
    r = rig()
    view = r.card(PATRON)
    assert view.screen == Screen.HOME and view.patron_name == PATRON.name.split()[0]
    r.do(ChooseMode(Mode.BORROW))
    for item in AVAILABLE_ITEMS[:3]:
        r.do(BarcodeScanned(item))
    view = r.do(BarcodeScanned(HELD_ITEMS[0]))
    assert [line.ok for line in view.items] == [True, True, True, False]
    assert all(line.title and line.due for line in view.items[:3])
    assert _line(view, HELD_ITEMS[0]).reason == ReasonCode.ON_HOLD_FOR_OTHER


def test_a_return_needs_no_card_and_says_where_the_item_goes(rig):
    r = rig()
    view = r.do(BarcodeScanned(WAITED_FOR_ITEM))  # someone waits for it
    assert view.screen == Screen.RETURN
    line = _line(view, WAITED_FOR_ITEM)
    assert line.ok and line.hold_shelf


def test_without_card_prefixes_an_unknown_barcode_at_idle_is_taken_as_a_return(rig):
    r = rig(card_barcode_prefixes=())
    view = r.do(BarcodeScanned(WAITED_FOR_ITEM))
    assert view.screen == Screen.RETURN and _line(view, WAITED_FOR_ITEM).hold_shelf
    assert view.message is None


def test_timeout_warns_then_clears_every_trace_of_the_patron(rig):
    r = rig(timeout_s=60, warning_s=10)
    r.card(PATRON)
    r.do(ChooseMode(Mode.BORROW))
    r.do(BarcodeScanned(AVAILABLE_ITEMS[3]))
    assert r.wait(59).warning_seconds_left is None
    assert r.wait(2).warning_seconds_left == 9
    view = r.do(StillHere())
    assert view.warning_seconds_left is None and view.screen == Screen.BORROW
    r.wait(61)
    view = r.wait(10)
    assert view.screen == Screen.IDLE
    assert (view.patron_name, view.items, view.account, view.renewals) == ("", (), None, ())
    assert PATRON.name.split()[0] not in repr(view)


def test_i_need_more_time_doubles_the_timeouts_for_this_patron_only(rig):
    r = rig(timeout_s=60, warning_s=10)
    r.card(PATRON)
    r.wait(61)
    view = r.do(MoreTime())  # asked on the warning: it also counts as being here
    assert view.more_time and view.warning_seconds_left is None
    assert r.wait(119).warning_seconds_left is None
    assert r.wait(2).warning_seconds_left == 19  # the warning lasts twice as long too
    assert r.wait(18).screen == Screen.HOME
    view = r.wait(2)
    assert view.screen == Screen.IDLE and not view.more_time
    r.card(PATRON)  # the next patron starts with the library's own timeouts
    assert r.wait(61).warning_seconds_left == 9


def test_more_time_on_the_idle_screen_changes_nothing(rig):
    r = rig(timeout_s=60, warning_s=10)
    assert not r.do(MoreTime()).more_time
    r.card(PATRON)
    assert r.wait(61).warning_seconds_left == 9


def test_language_switch_mid_session_and_back_to_the_default_after(rig):
    r = rig()
    r.card(PATRON)
    assert r.do(SetLanguage("fr")).language == "fr"
    assert r.do(SetLanguage("xx")).language == "fr"  # not offered: ignored
    r.do(Done())
    assert r.view.screen == Screen.GOODBYE
    assert r.wait(5).language == "nl" and r.session.view.screen == Screen.IDLE


def test_pin_pad_when_required_and_a_wrong_pin_is_said_plainly(rig):
    r = rig(require_pin=True)
    assert r.card(PATRON).screen == Screen.PIN
    view = r.do(EnterPin("0000"))
    assert view.screen == Screen.PIN and view.message == ReasonCode.WRONG_PIN
    assert r.do(EnterPin(DEMO_PIN)).screen == Screen.HOME
    assert "0000" not in repr(EnterPin("0000"))


def test_account_and_renew(rig):
    r = rig()
    r.card(JAN)
    view = r.do(ChooseMode(Mode.ACCOUNT))
    assert view.screen == Screen.ACCOUNT and len(view.account.loans) == 1
    (loan,) = view.account.loans
    view = r.do(RenewItems((loan.item_id,)))
    assert view.renewals[0].ok and view.renewals[0].due > loan.due
    assert view.account.loans[0].due == view.renewals[0].due


def test_a_renewal_carries_the_due_date_the_account_showed(rig, twin):
    """Over SIP2 that date is how a renewal whose answer was lost is read back (did the due date
    move?), so it must reach the journaled transaction, here one queued while offline."""
    r = rig(policy=OfflinePolicy(allow_renew=True))
    r.card(JAN)
    (loan,) = r.do(ChooseMode(Mode.ACCOUNT)).account.loans
    twin.go_offline()
    view = r.do(RenewItems((loan.item_id,)))
    assert view.renewals[0].ok and view.renewals[0].offline  # "saved, will be sent later"
    assert r.journal is not None
    (queued,) = r.journal.forwardable()
    assert queued.kind is TransactionKind.RENEW and queued.due_before == loan.due


def test_renew_all_reports_each_refusal(rig):
    r = rig()
    r.card(LOTTE)
    r.do(ChooseMode(Mode.ACCOUNT))
    view = r.do(RenewItems(()))
    reasons = {line.item_id: line.reason for line in view.renewals}
    assert reasons[RENEW_LIMIT_ITEM] == ReasonCode.RENEW_LIMIT
    assert reasons[WAITED_FOR_ITEM] == ReasonCode.ON_HOLD_FOR_OTHER


def _tag(item: str, uid: str, part: int = 1, parts: int = 1, isil: str = "BE-DEMO0") -> TagRead:
    return TagRead(item_id=item, uid=uid, owner_isil=isil, part=part, parts=parts)


def test_rfid_stack_multipart_sets_foreign_tags_and_security(rig):
    r = rig()
    r.card(PATRON)
    r.do(ChooseMode(Mode.BORROW))
    set_item = MULTIPART_ITEMS[0]
    view = r.do(ItemsOnPad((
        _tag(AVAILABLE_ITEMS[4], "E004A1"),
        _tag(set_item, "E004B1", 1, 2),
        _tag("999999", "E004C1", isil="NL-XYZ12"),
    )))
    assert _line(view, AVAILABLE_ITEMS[4]).ok
    assert _line(view, set_item).reason == ReasonCode.INCOMPLETE_SET
    assert _line(view, "999999").reason == ReasonCode.FOREIGN_ITEM
    assert r.flips == [("E004A1", False)]
    view = r.do(ItemsOnPad((
        _tag(AVAILABLE_ITEMS[4], "E004A1"),
        _tag(set_item, "E004B1", 1, 2), _tag(set_item, "E004B2", 2, 2),
        _tag("999999", "E004C1", isil="NL-XYZ12"),
    )))
    assert _line(view, set_item).ok
    assert sorted(r.flips) == [("E004A1", False), ("E004B1", False), ("E004B2", False)]


def test_a_failed_security_flip_keeps_the_loan_and_says_so(rig):
    r = rig(security_ok=False)
    r.card(PATRON)
    r.do(ChooseMode(Mode.BORROW))
    view = r.do(ItemsOnPad((_tag(AVAILABLE_ITEMS[5], "E00501"),)))
    line = _line(view, AVAILABLE_ITEMS[5])
    assert line.ok and line.security_failed


def test_receipt_has_titles_and_dates_but_no_patron(rig):
    r = rig()
    r.card(PATRON)
    r.do(ChooseMode(Mode.BORROW))
    r.do(BarcodeScanned(AVAILABLE_ITEMS[6]))
    assert r.do(Done()).screen == Screen.RECEIPT
    assert r.do(ReceiptChoice(True)).screen == Screen.GOODBYE
    (receipt,) = r.printed
    assert [line.item_id for line in receipt.lines] == [AVAILABLE_ITEMS[6]]
    assert PATRON.barcode not in repr(receipt) and PATRON.patron_id not in repr(receipt)


def test_offline_banner_follows_the_central_side(rig, twin):
    r = rig()
    r.card(PATRON)
    r.do(ChooseMode(Mode.BORROW))
    twin.go_offline()
    view = r.do(BarcodeScanned(AVAILABLE_ITEMS[7]))
    assert view.offline and _line(view, AVAILABLE_ITEMS[7]).offline
    twin.go_online()
    view = r.do(BarcodeScanned(AVAILABLE_ITEMS[8]))
    assert not view.offline and not _line(view, AVAILABLE_ITEMS[8]).offline


def test_back_returns_home_and_an_unknown_card_is_said_plainly(rig):
    r = rig()
    view = r.do(CardPresented(Credential(CredentialKind.BARCODE, "0000000000000")))
    assert view.screen == Screen.IDLE and view.message == ReasonCode.UNKNOWN_PATRON
    r.card(PATRON)
    r.do(ChooseMode(Mode.ACCOUNT))
    assert r.do(Back()).screen == Screen.HOME


def test_a_blank_or_unreadable_tag_is_refused_not_borrowed(rig):
    r = rig()
    r.card(PATRON)
    r.do(ChooseMode(Mode.BORROW))
    view = r.do(ItemsOnPad((TagRead(item_id="", uid="E0FF01", usage="unknown"),
                            _tag(AVAILABLE_ITEMS[9], "E0FF02", isil="be-demo0"))))
    assert [(line.ok, line.reason) for line in view.items] == [
        (False, ReasonCode.UNKNOWN_ITEM), (True, ReasonCode.OK)]
    assert r.flips == [("E0FF02", False)]


def test_a_sensor_event_does_not_keep_a_forgotten_session_alive(rig):
    from domain.events import DeviceState

    r = rig(timeout_s=60, warning_s=10)
    r.card(PATRON)
    r.wait(50)
    r.do(DeviceState("printer", ok=False))  # not the patron: no reset of the timer
    r.do(object())
    assert r.wait(21).screen == Screen.IDLE


def test_a_pile_on_the_pad_is_one_stack_whose_lines_fill_in_as_they_settle(rig, twin):
    r = rig()
    r.card(PATRON)
    r.do(ChooseMode(Mode.BORROW))
    items = AVAILABLE_ITEMS[20:26]
    twin.requests.clear()
    before = len(r.views)
    view = r.do(ItemsOnPad(tuple(_tag(item, f"E0A{n:03}") for n, item in enumerate(items))))
    assert [line.item_id for line in view.items] == list(items)  # in the pile's order
    assert all(line.ok and line.due and not line.working for line in view.items)
    during = r.views[before:]
    # first the whole pile being checked, then one more line settled in each view
    settled = [sum(not line.working for line in v.items) for v in during[:len(items) + 1]]
    assert settled == list(range(len(items) + 1))
    assert twin.requests.count(("POST", "/v1/circulation/stack")) == 1
    assert sorted(r.flips) == sorted((f"E0A{n:03}", False) for n in range(len(items)))


def test_a_tag_that_left_the_pad_is_asked_back_and_set_when_it_returns(rig):
    r = rig(flip_results=[Security.PUT_BACK])
    r.card(PATRON)
    r.do(ChooseMode(Mode.BORROW))
    tag = _tag(AVAILABLE_ITEMS[27], "E00B01")
    view = r.do(ItemsOnPad((tag,)))
    line = _line(view, AVAILABLE_ITEMS[27])
    assert line.ok and line.security_failed and line.put_back  # "put it back on the pad"
    view = r.do(ItemsOnPad(()))  # still gone: nothing to write to
    assert _line(view, AVAILABLE_ITEMS[27]).put_back
    view = r.do(ItemsOnPad((tag,)))  # back on the pad: set now, and said so
    line = _line(view, AVAILABLE_ITEMS[27])
    assert line.ok and not line.security_failed and not line.put_back
    assert r.flips == [("E00B01", False), ("E00B01", False)]
    assert len(view.items) == 1  # borrowed once, not again


def test_books_left_on_the_pad_after_borrowing_are_not_returned_on_the_goodbye_screen(rig):
    """The goodbye screen may wait for "How did it go?": the pad reading the books just
    borrowed again must not return them; a book that was not in the visit starts a return."""
    r = rig(feedback=True)
    r.card(PATRON)
    r.do(ChooseMode(Mode.BORROW))
    pile = (_tag(AVAILABLE_ITEMS[44], "E0A1"), _tag(AVAILABLE_ITEMS[45], "E0A2"))
    r.do(ItemsOnPad(pile))
    assert [line.ok for line in r.view.items] == [True, True]
    r.do(Done())
    r.do(ReceiptChoice(print_receipt=False))
    assert r.view.screen == Screen.GOODBYE and r.view.feedback == "ask"
    r.do(ItemsOnPad(pile))  # read again (a flipped AFI, a shaken pad)
    assert r.view.screen == Screen.GOODBYE
    r.do(ItemsOnPad((*pile, _tag(WAITED_FOR_ITEM, "E0A3"))))  # someone else's return
    assert r.view.screen == Screen.RETURN
    returned = {line.item_id for line in r.view.items if line.ok}
    assert WAITED_FOR_ITEM in returned
