"""The patron session: one state machine between devices, the circulation rules and the screen.

Why a pure state machine: every decision a patron notices (who is at the kiosk, what the
screen says, when the session ends and forgets the patron) must be testable with a fake clock,
no Kivy and no hardware. The app feeds device events and UI actions into `Session.handle` on
one event thread and calls `tick()` periodically; the UI only renders the `SessionView`
snapshots it is handed.

Screens::

    IDLE ─card─▶ (PIN) ─▶ HOME ─▶ BORROW / RETURN / ACCOUNT ─Done─▶ RECEIPT ─▶ GOODBYE ─▶ IDLE
      └──items on pad / "Return"──▶ RETURN (no card needed to return)

Inactivity: after `timeout_s` without an event a warning with a countdown appears for `warning_s`;
"I'm still here" keeps the session, silence ends it and clears every patron datum.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from domain.events import (
    BarcodeScanned,
    CardPresented,
    CardRemoved,
    CardUnreadable,
    DeviceState,
    ItemsOnPad,
    TagRead,
)
from domain.experiments import Variant
from domain.model import (
    Account,
    Credential,
    CredentialKind,
    Outcome,
    Patron,
    ReasonCode,
    TransactionKind,
)
from domain.visits import FEEDBACK_REASONS
from kiosk.circulation import CirculationService, StackItem
from kiosk.messages import MessageBoard
from kiosk.session_io import (  # re-exported: the UI and tests import them from here
    AccessUsed,
    Action,
    Back,
    CancelPin,
    ChooseMode,
    ConnectivityChanged,
    Done,
    EmailReceipt,
    EnterBarcode,
    EnterPin,
    Feedback,
    FeedbackReason,
    ItemLine,
    MessageShown,
    Mode,
    MoreTime,
    Receipt,
    ReceiptChoice,
    RenewItems,
    Screen,
    Security,
    ServiceChanged,
    SessionView,
    SetLanguage,
    StillHere,
)
from kiosk.visits import VisitRecorder

log = logging.getLogger(__name__)


_PATRON_ACTIVITY = (
    ChooseMode, EnterPin, CancelPin, EnterBarcode, RenewItems, Done, Back, StillHere,
    MoreTime, SetLanguage, ReceiptChoice, EmailReceipt, CardPresented, CardUnreadable,
    BarcodeScanned, ItemsOnPad, Feedback, FeedbackReason,
)
FEEDBACK_S = 12.0  # how long the goodbye screen waits for an answer (walking off is fine)
THANKS_S = 2.5  # "thank you for telling us", then the idle screen


@dataclass
class SessionSettings:
    timeout_s: float = 60.0
    warning_s: float = 20.0
    goodbye_s: float = 4.0
    default_language: str = "nl"
    languages: tuple[str, ...] = ("nl", "fr", "de", "en")
    auto_print_on_timeout: bool = False
    require_pin: bool = False
    library_isils: tuple[str, ...] = ()
    card_barcode_prefixes: tuple[str, ...] = ()  # barcodes that are patron cards, not items
    max_stack: int = 50  # items sent together at most (see config [session] max_stack)
    feedback: bool = False  # ask "How did it go?" on the goodbye screen ([insights])
    feedback_every: int = 1  # of the visits that did something, ask every Nth


SecurityFlip = Callable[[str, bool], Security]  # (tag uid, secured) -> written and read back?
PrintReceipt = Callable[[Receipt], None]
QueueEmail = Callable[[Receipt, str], bool]  # (receipt, patron id) -> queued durably?
# the next visit's variants: factor -> (experiment, variant) (kiosk.experiments.ExperimentBook)
DrawVariants = Callable[[], dict[str, tuple[str, Variant]]]


@dataclass
class _State:
    """Everything that belongs to one patron; replaced wholesale at the end of a session."""

    screen: Screen = Screen.IDLE
    language: str = "nl"
    patron: Patron | None = None
    credential: Credential | None = None
    patron_name: str = ""
    mode: Mode | None = None
    items: list[ItemLine] = field(default_factory=list)
    renewals: list[ItemLine] = field(default_factory=list)
    account: Account | None = None
    handled_items: set[str] = field(default_factory=set)
    # settled items whose tags' security could not be set yet -> the state they must get
    unsecured: dict[str, bool] = field(default_factory=dict)
    message: ReasonCode | None = None
    screen_message: str = ""
    warning: bool = False
    more_time: bool = False  # "I need more time": this patron's timeouts count double
    goodbye_at: float | None = None
    feedback: str = ""  # the goodbye screen's question (SessionView.feedback)


class Session:
    """Runs on the app's event thread; `on_change` gets a fresh view after every change."""

    def __init__(
        self,
        circulation: CirculationService,
        *,
        clock: Callable[[], float],
        settings: SessionSettings | None = None,
        on_change: Callable[[SessionView], None] | None = None,
        security: SecurityFlip | None = None,
        print_receipt: PrintReceipt | None = None,
        email_receipt: QueueEmail | None = None,
        wall_clock: Callable[[], datetime] | None = None,
        visits: VisitRecorder | None = None,
        experiments: DrawVariants | None = None,
        messages: MessageBoard | None = None,
    ) -> None:
        self._circ = circulation
        self._clock = clock
        self._settings = settings or SessionSettings()
        self._on_change = on_change
        self._security = security
        self._print = print_receipt
        self._email = email_receipt
        self._wall_clock = wall_clock or (lambda: datetime.now().astimezone())
        self._state = _State(language=self._settings.default_language)
        self._visits = visits
        self._draw = experiments
        self._messages = messages
        self._assigned = self._draw_variants()
        self._last_activity = clock()
        self._devices_down: set[str] = set()
        self._tags: dict[str, TagRead] = {}
        self._busy = False
        self._visits_served = 0  # visits that did something: every Nth is asked for feedback
        # the items of the visit on the goodbye screen: still on the pad, they are not the
        # next patron's returns
        self._leftover: set[str] = set()

    # ---- public -------------------------------------------------------------------------------

    @property
    def view(self) -> SessionView:
        s = self._state
        warn_left: int | None = None
        if s.warning:
            remaining = self._timeout_s() + self._warning_s() - self._idle_for()
            warn_left = max(0, int(remaining + 0.999))
        return SessionView(
            screen=s.screen,
            language=s.language,
            patron_name=s.patron_name,
            items=tuple(s.items),
            account=s.account,
            renewals=tuple(s.renewals),
            message=s.message,
            screen_message=s.screen_message,
            offline=not self._circ.online,
            busy=self._busy,
            warning_seconds_left=warn_left,
            more_time=s.more_time,
            holds_ready=s.patron.holds_ready if s.patron is not None else 0,
            receipt_available=self._print is not None and any(i.ok for i in self._receipt_lines()),
            email_hint=self._email_hint(),
            devices_down=tuple(sorted(self._devices_down)),
            feedback=s.feedback,
            idle_message=self._idle_message(s.language),
            receipt_first=str(self._variant("receipt_default") or ""),
            idle_messages=self._board_texts(s.language, None) if s.screen == Screen.IDLE
            else (),
            patron_messages=self._board_texts(s.language, s.patron),
        )

    def handle(self, event: object) -> None:
        """Apply one device event or UI action. Never raises: a bug is logged, not shown."""
        try:
            self._dispatch(event)
        except Exception:  # the patron must never see a traceback; the technician reads the log
            log.exception("session failed handling %s", type(event).__name__)
            self._state.message = ReasonCode.REFUSED
            if self._visits is not None:
                self._visits.fault()
        self._changed()

    def tick(self) -> None:
        """Called a few times a second: inactivity warning, timeout and goodbye."""
        s = self._state
        if s.screen == Screen.IDLE:
            return
        now = self._clock()
        if s.screen == Screen.GOODBYE:
            if s.goodbye_at is not None and now >= s.goodbye_at:
                self._reset()
                self._changed()
            return
        idle = self._idle_for()
        if idle >= self._timeout_s() + self._warning_s():
            log.info("session timed out on screen %s", s.screen.value)
            if self._visits is not None:
                self._visits.ending("timeout")
            if self._settings.auto_print_on_timeout and self._print is not None \
                    and self._receipt() is not None:
                self._note_receipt("print")
                self._do_print()
            self._end_patron()
            self._reset()
            self._changed()
        elif idle >= self._timeout_s() and not s.warning:
            s.warning = True
            self._changed()
        elif s.warning:
            self._changed()  # countdown moves

    def set_busy(self, busy: bool) -> None:
        """The app marks the session busy while a slow call is under way (a spinner on screen)."""
        self._busy = busy
        self._changed()

    # ---- dispatch -----------------------------------------------------------------------------

    def _dispatch(self, event: object) -> None:
        if self._on_system(event):
            return
        if not isinstance(event, _PATRON_ACTIVITY):
            log.debug("ignored %s", type(event).__name__)  # e.g. a door sensor: not a patron
            return
        self._touch()
        if not (self._on_identity(event) or self._on_action(event)):
            log.debug("ignored %s on screen %s", type(event).__name__, self._state.screen)

    def _on_system(self, event: object) -> bool:
        """Devices and the network: no patron did anything, so the timeout is not extended."""
        match event:
            case ConnectivityChanged() | ServiceChanged():
                return True  # the view reads the live state; these only ask for a redraw
            case DeviceState(device=device, ok=ok):
                (self._devices_down.discard if ok else self._devices_down.add)(device)
                return True
            case CardRemoved():
                return True
            case AccessUsed(mode=mode):
                if self._visits is not None:
                    self._visits.access(mode)
                return True
            case MessageShown(message_id=number):
                if self._messages is not None:
                    self._messages.shown(number)
                return True
        return False

    def _on_identity(self, event: object) -> bool:
        """Who the patron is and which language they read."""
        match event:
            case StillHere():
                pass
            case MoreTime() if self._state.screen != Screen.IDLE:
                self._state.more_time = True
                if self._visits is not None:
                    self._visits.access("more_time")
            case SetLanguage(language=lang) if lang in self._settings.languages:
                self._state.language = lang
            case CardPresented(credential=cred, display_name=name):
                self._on_card(cred, name)
            case CardUnreadable():
                self._state.message = ReasonCode.INVALID_CARD
            case EnterPin(pin=pin) if self._state.screen == Screen.PIN:
                self._identify(pin)
            case CancelPin():
                self._reset()
            case _:
                return False
        return True

    def _on_action(self, event: object) -> bool:
        """What the patron does with items and screens once identified (or returning)."""
        match event:
            case BarcodeScanned(code=code) | EnterBarcode(code=code):
                self._on_barcode(code)
            case ItemsOnPad(tags=tags):
                self._on_pad(tags)
            case ChooseMode(mode=mode):
                self._choose(mode)
            case RenewItems(item_ids=ids):
                self._renew(ids)
            case Back() if self._state.patron is not None:
                self._state.screen = Screen.HOME
                self._state.mode = None
                self._state.message = None
            case Back():
                self._reset()
            case Done():
                self._done()
            case _:
                return self._on_leaving(event)
        return True

    def _on_leaving(self, event: object) -> bool:
        """The receipt question, and how it went on the goodbye screen."""
        match event:
            case ReceiptChoice(print_receipt=wanted):
                self._note_receipt("print" if wanted else "none")
                if wanted:
                    self._do_print()
                self._goodbye()
            case EmailReceipt() if self._state.screen == Screen.RECEIPT:
                if self._do_email():
                    self._note_receipt("email")
                    self._goodbye()
            case Feedback() | FeedbackReason() if self._state.screen == Screen.GOODBYE:
                self._on_feedback(event)
            case _:
                return False
        return True

    # ---- identification -----------------------------------------------------------------------

    def _on_card(self, credential: Credential, display_name: str) -> None:
        s = self._state
        if s.patron is not None or s.screen not in (Screen.IDLE, Screen.RETURN, Screen.GOODBYE):
            return  # a second card during a session is ignored, not a patron switch
        if s.screen == Screen.GOODBYE:
            self._reset()
        self._state.credential = credential
        self._state.patron_name = display_name
        if self._settings.require_pin:
            self._state.screen = Screen.PIN
            self._state.message = None
            return
        self._identify(None)

    def _identify(self, pin: str | None) -> None:
        s = self._state
        if s.credential is None:
            return
        result = self._circ.identify(s.credential, pin)
        if result.reason == ReasonCode.PIN_REQUIRED:
            s.screen, s.message = Screen.PIN, None
            return
        if self._visits is not None:
            self._visits.refused(result.reason)
        if result.reason == ReasonCode.WRONG_PIN:
            s.screen, s.message = Screen.PIN, ReasonCode.WRONG_PIN
            return
        if result.patron is None:
            if self._visits is not None:
                self._visits.ending("refused")
            self._reset()
            self._state.message = result.reason
            return
        if self._visits is not None:
            self._visits.identified(s.credential.kind, pin=pin is not None,
                                    offline=result.offline)
        for number, _ in self._board_texts(s.language, result.patron):
            if self._messages is not None:
                self._messages.shown(number)  # once per visit: shown on the home screen
        s.patron = result.patron
        s.patron_name = s.patron_name or result.patron.name.split(" ")[0]
        s.message = result.patron.block_reason if result.patron.blocked else None
        pending_return = s.mode == Mode.RETURN and s.items
        s.screen = Screen.RETURN if pending_return else Screen.HOME
        if self._tags and not pending_return:
            self._choose(Mode.BORROW)

    # ---- items --------------------------------------------------------------------------------

    def _on_barcode(self, code: str) -> None:
        code = code.strip()
        if not code:
            return
        if self._state.patron is None and self._looks_like_card(code):
            self._on_card(Credential(CredentialKind.BARCODE, code), "")
            guessed = not self._settings.card_barcode_prefixes
            if guessed and self._state.message == ReasonCode.UNKNOWN_PATRON:
                # no card prefixes configured and the library does not know this card:
                # it is most likely an item's barcode, so take it as a return
                self._state.message = None
                self._process_item(code, tag=None)
            return
        self._process_item(code, tag=None)

    def _looks_like_card(self, code: str) -> bool:
        prefixes = self._settings.card_barcode_prefixes
        if prefixes:
            return code.startswith(prefixes)
        return self._state.screen == Screen.IDLE

    def _on_pad(self, tags: tuple[TagRead, ...]) -> None:
        self._tags = {t.uid: t for t in tags}  # what is on the pad now, whatever follows
        if self._state.screen == Screen.GOODBYE:
            if not {t.item_id for t in tags} - self._leftover:
                return  # the books just borrowed, still on the pad (or read again): not a return
            self._reset()  # the next patron's books: the last one's goodbye is over
        present_ids = {t.item_id for t in tags}
        s = self._state
        self._secure_again(present_ids)
        # a part that left the pad before the set was complete may be placed again later
        s.items = [i for i in s.items if not i.pending or i.item_id in present_ids]
        if s.screen == Screen.IDLE and tags:
            s.mode = Mode.RETURN
            s.screen = Screen.RETURN
        if s.screen in (Screen.HOME,) and tags:
            self._choose(Mode.BORROW)
            return
        if s.screen not in (Screen.BORROW, Screen.RETURN):
            return
        by_item: dict[str, list[TagRead]] = {}
        for tag in tags:
            by_item.setdefault(tag.item_id or f"tag:{tag.uid}", []).append(tag)
        self._process_items([(item_id, parts[0], len(parts)) for item_id, parts in by_item.items()
                             if item_id not in s.handled_items])

    def _process_item(self, item_id: str, *, tag: TagRead | None) -> None:
        self._process_items([(item_id, tag, 1)])

    def _process_items(self, entries: list[tuple[str, TagRead | None, int]]) -> None:
        """Items that arrived together (a pile on the pad, or one scan): checked against their
        tags, then borrowed or returned as one stack; each line fills in as it is settled."""
        if self._state.screen == Screen.GOODBYE:
            self._reset()  # a book scanned by the next patron
        s = self._state
        if s.screen == Screen.HOME:
            self._choose(Mode.BORROW)
        if s.screen == Screen.IDLE:
            s.mode, s.screen = Mode.RETURN, Screen.RETURN
        if s.screen not in (Screen.BORROW, Screen.RETURN):
            return
        stack = self._sendable(entries)
        if not stack:
            return
        s.handled_items.update(stack)
        borrowing = s.screen == Screen.BORROW and s.patron is not None
        several = len(stack) > 1
        if several:  # the patron sees the whole pile being checked, then each line settle
            for item_id in stack:
                self._put_line(ItemLine(item_id=item_id, title="", ok=False, working=True))
            self._changed()

        kind = TransactionKind.CHECKOUT if borrowing else TransactionKind.CHECKIN

        def settled(outcome: Outcome) -> None:
            self._note_item(kind, outcome.ok, outcome.reason, outcome.offline)
            self._put_line(self._secured(outcome, secured=not borrowing))
            if several:
                self._changed()

        size = max(1, self._settings.max_stack)
        for start in range(0, len(stack), size):
            self._circ.transact_stack(
                kind, s.patron,
                [StackItem(item_id) for item_id in stack[start:start + size]],
                on_outcome=settled)

    def _sendable(self, entries: list[tuple[str, TagRead | None, int]]) -> list[str]:
        """The items to send; a tag that says no (foreign, not for loan, a set not complete)
        gets its line here and is not sent."""
        s = self._state
        stack: list[str] = []
        for item_id, tag, parts_present in entries:
            if item_id in s.handled_items or item_id in stack:
                continue
            refusal = self._tag_refusal(tag, parts_present) if tag else None
            if refusal is None:
                stack.append(item_id)
                continue
            self._put_line(ItemLine(item_id=item_id, title="", ok=False, reason=refusal,
                                    pending=refusal == ReasonCode.INCOMPLETE_SET))
            if refusal != ReasonCode.INCOMPLETE_SET:
                s.handled_items.add(item_id)
                self._note_item(TransactionKind.CHECKOUT if s.screen == Screen.BORROW
                                else TransactionKind.CHECKIN, False, refusal, False)
        return stack

    def _secured(self, outcome: Outcome, *, secured: bool) -> ItemLine:
        """The item's line once its tags' security is set (after the journal settled it, so
        flipping can never lose a loan) and read back. A tag that left the pad first is
        asked back, and set when it shows up again (`_secure_again`): the gate must not alarm
        for a loan, nor stay silent for a return."""
        line = _line_from(outcome)
        if outcome.ok and outcome.security_change:
            line = self._flip(line, secured)
        return line

    def _flip(self, line: ItemLine, secured: bool) -> ItemLine:
        if self._security is None:
            return line
        results = {self._security(t.uid, secured) for t in self._tags.values()
                   if t.item_id == line.item_id}
        if results <= {Security.SET}:
            self._state.unsecured.pop(line.item_id, None)
            return dataclasses.replace(line, security_failed=False, put_back=False)
        self._state.unsecured[line.item_id] = secured
        return dataclasses.replace(line, security_failed=True,
                                   put_back=Security.PUT_BACK in results)

    def _secure_again(self, present: set[str]) -> None:
        """Items whose security is still to be set are on the pad again: set it now."""
        for item_id, secured in list(self._state.unsecured.items()):
            line = next((i for i in self._state.items if i.item_id == item_id), None)
            if item_id in present and line is not None:
                self._put_line(self._flip(line, secured))

    def _tag_refusal(self, tag: TagRead, parts_present: int) -> ReasonCode | None:
        if not tag.item_id or tag.usage == "unknown":
            return ReasonCode.UNKNOWN_ITEM  # blank or unreadable tag: never borrow "nothing"
        isils = {i.upper() for i in self._settings.library_isils}
        if isils and tag.owner_isil and tag.owner_isil.upper() not in isils:
            # a tag without an owner is accepted: many libraries never encoded one
            return ReasonCode.FOREIGN_ITEM
        if tag.usage in ("reference", "discarded") and self._state.screen == Screen.BORROW:
            return ReasonCode.NOT_FOR_LOAN
        if tag.usage == "patron_card":
            return ReasonCode.UNKNOWN_ITEM
        if tag.parts > 1 and parts_present < tag.parts:
            return ReasonCode.INCOMPLETE_SET
        return None

    def _put_line(self, line: ItemLine) -> None:
        """A line keeps its place as it settles, so a pile's list does not jump about."""
        items = self._state.items
        at = next((n for n, i in enumerate(items) if i.item_id == line.item_id), None)
        self._state.items = [*items, line] if at is None else [
            *items[:at], line, *items[at + 1:]]

    # ---- modes, renew, end --------------------------------------------------------------------

    def _choose(self, mode: Mode) -> None:
        s = self._state
        if mode != Mode.RETURN and s.patron is None:
            return
        s.mode, s.message, s.screen_message = mode, None, ""
        if mode == Mode.BORROW:
            s.screen = Screen.BORROW
            if s.patron and s.patron.blocked:
                s.message = s.patron.block_reason or ReasonCode.BLOCKED
                if self._visits is not None:
                    self._visits.refused(s.message)
            if self._tags:
                self._on_pad(tuple(self._tags.values()))
        elif mode == Mode.RETURN:
            s.screen = Screen.RETURN
            if self._tags:
                self._on_pad(tuple(self._tags.values()))
        else:
            s.screen = Screen.ACCOUNT
            self._refresh_account()

    def _refresh_account(self) -> None:
        s = self._state
        if s.patron is None:
            return
        account = self._circ.account(s.patron)
        s.account = account
        if account is None:
            s.message = ReasonCode.OFFLINE_NOT_ALLOWED

    def _renew(self, item_ids: tuple[str, ...]) -> None:
        s = self._state
        if s.patron is None or s.screen != Screen.ACCOUNT:
            return
        loans = s.account.loans if s.account else ()
        ids = item_ids or tuple(loan.item_id for loan in loans)
        # the due date the patron saw goes with each renewal: over SIP2 it is how a renewal
        # whose answer was lost is read back instead of being renewed twice
        shown = {loan.item_id: loan.due for loan in loans}
        results = [_line_from(outcome) for outcome in self._circ.transact_stack(
            TransactionKind.RENEW, s.patron,
            [StackItem(item_id, shown.get(item_id)) for item_id in ids])]
        for line in results:
            self._note_item(TransactionKind.RENEW, line.ok, line.reason, line.offline)
        done = {r.item_id for r in results}
        s.renewals = [r for r in s.renewals if r.item_id not in done] + results
        self._refresh_account()

    def _done(self) -> None:
        s = self._state
        if s.screen in (Screen.IDLE, Screen.GOODBYE):
            return
        if s.screen == Screen.RECEIPT:
            self._goodbye()
            return
        if (self._print is not None or self._email_hint()) and any(
                i.ok for i in self._receipt_lines()):
            s.screen = Screen.RECEIPT
            return
        self._goodbye()

    def _goodbye(self) -> None:
        if self._visits is not None:
            self._visits.ending("done")
        self._end_patron()
        language = self._state.language
        ask = self._feedback_due()
        self._leftover = set(self._state.handled_items)
        self._wipe()  # nothing of the patron survives onto the goodbye screen
        self._state.screen = Screen.GOODBYE
        self._state.language = language
        wait = self._settings.goodbye_s
        if ask:
            self._state.feedback = "ask"
            wait = max(wait, FEEDBACK_S)
            if self._visits is not None:
                self._visits.feedback(asked=True)
        self._state.goodbye_at = self._clock() + wait

    def _feedback_due(self) -> bool:
        """Every Nth visit that did something is asked how it went (never one that only
        looked, so the question is about a journey the patron just made)."""
        if not any(i.ok for i in self._receipt_lines()):
            return False
        tried = self._variant("feedback")  # an experiment decides, for this visit
        if tried is not None:
            return tried == "on"
        if not self._settings.feedback:
            return False
        self._visits_served += 1
        return self._visits_served % max(1, self._settings.feedback_every) == 0

    def _on_feedback(self, event: Feedback | FeedbackReason) -> None:
        """A face, then after a low score one reason; each answer shortens the goodbye."""
        s = self._state
        match event:
            case Feedback(score=score) if s.feedback == "ask" and 1 <= score <= 4:
                if self._visits is not None:
                    self._visits.feedback(score)
                s.feedback = "why" if score <= 2 else "thanks"
            case FeedbackReason(reason=reason) if s.feedback == "why" and \
                    reason in FEEDBACK_REASONS:
                if self._visits is not None:
                    self._visits.feedback(reason=reason)
                s.feedback = "thanks"
            case _:
                return
        s.goodbye_at = self._clock() + (FEEDBACK_S if s.feedback == "why" else THANKS_S)

    def _receipt_lines(self) -> list[ItemLine]:
        return [*self._state.items, *self._state.renewals]

    def _receipt(self) -> Receipt | None:
        """What this visit's receipt says (paper or e-mail); None when nothing was done."""
        lines = tuple(i for i in self._receipt_lines() if i.ok)
        if not lines:
            return None
        return Receipt(language=self._state.language, when=self._wall_clock(), lines=lines,
                       offline=any(i.offline for i in lines))

    def _do_print(self) -> None:
        receipt = self._receipt()
        if self._print is None or receipt is None:
            return
        try:
            self._print(receipt)
        except Exception:  # a jammed printer must not end the session badly
            log.exception("receipt printing failed")

    def _email_hint(self) -> str:
        patron = self._state.patron
        if self._email is None or patron is None or not any(
                i.ok for i in self._receipt_lines()):
            return ""
        return patron.email_hint

    def _do_email(self) -> bool:
        """Queued durably, or the patron is told it could not be (and may print instead)."""
        patron = self._state.patron
        receipt = self._receipt()
        if self._email is None or patron is None or receipt is None:
            return True
        try:
            queued = self._email(receipt, patron.patron_id)
        except Exception:
            log.exception("queueing the e-mailed receipt failed")
            queued = False
        if not queued:
            self._state.message = ReasonCode.JOURNAL_FULL
        return queued

    def _end_patron(self) -> None:
        if self._state.patron is not None:
            self._circ.end_session(self._state.patron)

    def _wipe(self) -> None:
        self._state = _State(language=self._settings.default_language)

    def _reset(self) -> None:
        if self._visits is not None:
            self._visits.finish(self._state.language)
        self._assigned = self._draw_variants()  # for the next visit (its idle screen, too)
        self._wipe()
        self._last_activity = self._clock()
        self._circ.visit_over()

    # ---- helpers ------------------------------------------------------------------------------

    def _touch(self) -> None:
        self._last_activity = self._clock()
        self._state.warning = False

    def _timeout_s(self) -> float:
        return self._settings.timeout_s * (2 if self._state.more_time else 1)

    def _warning_s(self) -> float:
        return self._settings.warning_s * (2 if self._state.more_time else 1)

    def _idle_for(self) -> float:
        return self._clock() - self._last_activity

    def _draw_variants(self) -> dict[str, tuple[str, Variant]]:
        """The next visit's variants of the experiments in force (kiosk/experiments.py)."""
        if self._draw is None:
            return {}
        try:
            assigned = self._draw()
        except Exception:  # an experiment must never cost a patron the kiosk
            log.exception("could not draw the experiments' variants")
            assigned = {}
        if self._visits is not None:
            self._visits.assigned({name: v.name for name, v in assigned.values()})
        return assigned

    def _variant(self, factor: str) -> object:
        """This visit's value of `factor` in an experiment, or None when none runs."""
        chosen = self._assigned.get(factor)
        return None if chosen is None else chosen[1].value

    def _board_texts(self, language: str,
                     patron: Patron | None) -> tuple[tuple[int, str], ...]:
        """The library's messages in `language`: for everyone (no patron), or for the
        patron's category."""
        board = self._messages
        if board is None:
            return ()
        if patron is None:
            chosen = board.for_idle()
        elif patron.category:
            chosen = board.for_patron(patron.category)
        else:
            return ()
        fallback = self._settings.default_language
        return tuple((m.message_id, m.text(language, fallback)) for m in chosen)

    def _idle_message(self, language: str) -> str:
        texts = self._variant("idle_message")
        if not isinstance(texts, dict) or not texts:
            return ""
        return str(texts.get(language) or texts.get(self._settings.default_language)
                   or next(iter(texts.values())))

    def _note_item(self, kind: TransactionKind, ok: bool, reason: ReasonCode | None,
                   offline: bool) -> None:
        if self._visits is not None:
            self._visits.item(kind, ok=ok, reason=reason, offline=offline)

    def _note_receipt(self, choice: str) -> None:
        if self._visits is not None:
            self._visits.receipt(choice)

    def _changed(self) -> None:
        if self._visits is not None:
            self._visits.screen(self._state.screen.value, offline=not self._circ.online)
        if self._on_change is not None:
            self._on_change(self.view)


def _line_from(outcome: Outcome) -> ItemLine:
    return ItemLine(
        item_id=outcome.item_id,
        title=outcome.title,
        ok=outcome.ok,
        reason=outcome.reason,
        due=outcome.due,
        offline=outcome.offline,
        hold_shelf=outcome.hold_shelf,
        sort_bin=outcome.sort_bin,
        screen_message=outcome.screen_message,
        renewed=outcome.renewed,
    )


__all__ = [
    "AccessUsed", "Action", "Back", "CancelPin", "ChooseMode", "ConnectivityChanged", "Done",
    "EmailReceipt", "EnterBarcode", "EnterPin", "Feedback", "FeedbackReason", "ItemLine",
    "MessageShown", "Mode", "MoreTime", "Receipt", "ReceiptChoice", "RenewItems", "Screen",
    "Security", "ServiceChanged", "Session", "SessionSettings", "SessionView", "SetLanguage",
    "StillHere",
]
