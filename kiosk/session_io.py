"""What the touchscreen and the session say to each other: actions in, views out.

Why a module of its own: the UI (Kivy) imports only these plain dataclasses, never the state
machine, and the session imports nothing from the UI. Everything here is immutable data.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime

from domain.model import Account, ReasonCode


class Screen(enum.StrEnum):
    IDLE = "idle"
    PIN = "pin"
    HOME = "home"
    BORROW = "borrow"
    RETURN = "return"
    ACCOUNT = "account"
    RECEIPT = "receipt"
    GOODBYE = "goodbye"


class Mode(enum.StrEnum):
    BORROW = "borrow"
    RETURN = "return"
    ACCOUNT = "account"


# ---- actions the UI puts on the event queue -------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChooseMode:
    mode: Mode


@dataclass(frozen=True, slots=True)
class EnterPin:
    pin: str

    def __repr__(self) -> str:  # a PIN never reaches a log, not even through repr
        return "EnterPin(<hidden>)"


@dataclass(frozen=True, slots=True)
class CancelPin:
    """The patron gave up on the PIN pad: back to the idle screen."""


@dataclass(frozen=True, slots=True)
class EnterBarcode:
    """A barcode typed or scanned on screen; same meaning as a scanner's BarcodeScanned."""

    code: str


@dataclass(frozen=True, slots=True)
class RenewItems:
    item_ids: tuple[str, ...]  # empty tuple: renew everything


@dataclass(frozen=True, slots=True)
class Done:
    """The patron is finished: receipt choice (if a printer is there), then goodbye."""


@dataclass(frozen=True, slots=True)
class Back:
    """Back to the home screen from borrow/return/account."""


@dataclass(frozen=True, slots=True)
class StillHere:
    """ "I'm still here" on the timeout warning: the session carries on."""


@dataclass(frozen=True, slots=True)
class MoreTime:
    """ "I need more time": this patron's timeouts are doubled until the session ends
    (EN 301 549 5.2 / WCAG 2.2.1: a patron may extend a time limit with one simple action)."""


@dataclass(frozen=True, slots=True)
class SetLanguage:
    language: str


@dataclass(frozen=True, slots=True)
class ReceiptChoice:
    print_receipt: bool


@dataclass(frozen=True, slots=True)
class EmailReceipt:
    """ "E-mail it to me": to the address the library holds (the screen shows it masked)."""


@dataclass(frozen=True, slots=True)
class ConnectivityChanged:
    online: bool


@dataclass(frozen=True, slots=True)
class Feedback:
    """A face tapped on the goodbye screen: 1 (bad) to 4 (very good)."""

    score: int


@dataclass(frozen=True, slots=True)
class FeedbackReason:
    """After a low score, why (one of domain.visits.FEEDBACK_REASONS); never free text."""

    reason: str


@dataclass(frozen=True, slots=True)
class ServiceChanged:
    """The library changed what this kiosk shows (its messages): draw the screen again."""


@dataclass(frozen=True, slots=True)
class MessageShown:
    """The idle screen's rotation put one of the library's messages on screen (a count)."""

    message_id: int


@dataclass(frozen=True, slots=True)
class AccessUsed:
    """The patron turned on an accessibility aid the screen handles itself (large text, high
    contrast, speech, the keypad): the session only notes it for the visit's insights."""

    mode: str  # one of domain.visits.ACCESS_MODES


Action = (
    ChooseMode | EnterPin | CancelPin | EnterBarcode | RenewItems | Done | Back | StillHere
    | MoreTime | SetLanguage | ReceiptChoice | EmailReceipt | ConnectivityChanged | AccessUsed
    | Feedback | FeedbackReason | MessageShown | ServiceChanged
)



class Security(enum.StrEnum):
    """How an item's security flip (AFI / EAS, written and read back) ended."""

    SET = "set"
    PUT_BACK = "put_back"  # the tag left the pad before it could be written: put it back
    FAILED = "failed"  # on the pad, but the write would not stick


@dataclass(frozen=True, slots=True)
class ItemLine:
    """One item on the borrow/return/renew list as the patron sees it."""

    item_id: str
    title: str
    ok: bool
    reason: ReasonCode = ReasonCode.OK
    due: date | None = None
    offline: bool = False
    hold_shelf: bool = False
    sort_bin: str = ""
    security_failed: bool = False
    put_back: bool = False  # security not set because the tag left the pad: put it back
    screen_message: str = ""
    pending: bool = False  # waiting for the rest of a multi-part set
    working: bool = False  # part of a stack being sent: the answer is not settled yet
    renewed: bool = False  # borrowed again what the patron already had: renewed instead


@dataclass(frozen=True, slots=True)
class SessionView:
    screen: Screen = Screen.IDLE
    language: str = "nl"
    patron_name: str = ""
    items: tuple[ItemLine, ...] = ()
    account: Account | None = None
    renewals: tuple[ItemLine, ...] = ()
    message: ReasonCode | None = None
    screen_message: str = ""
    offline: bool = False
    busy: bool = False
    warning_seconds_left: int | None = None
    more_time: bool = False  # the patron asked for more time: timeouts are doubled
    holds_ready: int = 0  # the library has holds on the shelf for this patron
    receipt_available: bool = False  # a printer is there and something to put on paper
    email_hint: str = ""  # "m•••@example.org": the receipt can be e-mailed there
    devices_down: tuple[str, ...] = ()
    # the goodbye screen's question: "" (none), "ask" (four faces), "why" (after a low
    # score: four reasons), "thanks"
    feedback: str = ""
    # experiments (kiosk/experiments.py): the idle screen's line for this visit, and which
    # receipt choice comes first ("print", "email", "none"; "" as configured)
    idle_message: str = ""
    receipt_first: str = ""
    # the library's messages (kiosk/messages.py), (message id, text in this language): for
    # everyone on the idle screen, and for this patron's category once identified
    idle_messages: tuple[tuple[int, str], ...] = ()
    patron_messages: tuple[tuple[int, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Receipt:
    """What a printed receipt holds: no patron identifier, only titles and dates."""

    language: str
    when: datetime
    lines: tuple[ItemLine, ...]
    offline: bool
