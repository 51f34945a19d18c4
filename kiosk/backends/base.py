"""The one seam between the kiosk and the library's central system.

Every backend (our Kiosk Catalog API over HTTPS, SIP2 to the ILS) implements
`CatalogBackend`. Callers never see requests, socket or codec errors: each
backend translates them at its boundary into this tree::

    BackendError
    ├── BackendUnavailable      network, timeout, 5xx, 429: the offline policy applies
    │   ├── MalformedReply      the server answered, but not in the protocol
    │   │   └── EndpointMissing an older server without this endpoint (REST 404/405)
    │   └── AuthenticationFailed the server refused our credentials (a config fault)
    └── Refused                 the server said no; `reason` is a ReasonCode the UI translates

Refusals for a transaction (blocked patron, item on hold ...) raise `Refused`;
`replay` never raises `Refused`, it reports a status per transaction instead,
because one refused transaction must not hold back the rest of the queue.

Each backend translates the errors it knows at its own boundary, and `seam_guard` makes the
promise hold for the ones it does not: a reply that drives parsing into an OverflowError or a
RecursionError is a reply the kiosk cannot use, so it leaves the seam as `MalformedReply` (logged
for the technician with where it happened, never with the values), and the offline policy and
the journal's VOID / read-back path take over as for any other unanswered request.

How long a patron waits is bounded the same way for every backend: circulation opens a
`patron_wait(seconds)` scope around what a patron is waiting for, and each backend reads
`wait_left()` for its socket timeouts, so one action (however many requests it takes, however
slowly a server drips its bytes) ends by the deadline. Background work (sync, heartbeats) runs
outside any scope and uses the backend's own, longer timeouts.
"""

from __future__ import annotations

import contextlib
import contextvars
import copy
import functools
import inspect
import logging
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar, runtime_checkable

from domain.experiments import PatronMessage, Running
from domain.model import (
    Account,
    Credential,
    Item,
    Outcome,
    Patron,
    ReasonCode,
    ReplayResult,
    Transaction,
    TransactionKind,
)

log = logging.getLogger(__name__)


class BackendError(Exception):
    """Root of every error a backend may raise."""


class BackendUnavailable(BackendError, ConnectionError):
    """The central side cannot answer now; try again later (offline policy applies).

    `reached` is False when the request cannot have reached the server (no connection, or the
    link failed before a byte of it left): the journal then does not count the try as an
    attempt, so a later replay does not read the library's records back to see whether this
    request was applied (over SIP2 such a read-back would credit the request with an effect
    something else left, e.g. a loan from a process killed before it told its patron), and a
    refusal under the offline policy needs no VOID to undo it.
    """

    def __init__(self, message: str, *, retry_after: float | None = None,
                 reached: bool = True) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.reached = reached


def not_sent(outage: BackendUnavailable) -> BackendUnavailable:
    """`outage` as the answer to a request that was not even tried because of it."""
    if not outage.reached:
        return outage
    unsent = copy.copy(outage)
    unsent.reached = False
    return unsent


class MalformedReply(BackendUnavailable):
    """The server answered something that is not a valid reply (bad JSON, HTML page ...)."""


class EndpointMissing(MalformedReply):
    """The service answered 404/405 for an endpoint added in a later version."""


class AuthenticationFailed(BackendUnavailable):
    """The central side rejected the kiosk's credentials: a technician must fix the config."""


class Refused(BackendError):
    """The central side refused the request for a reason the patron should hear."""

    def __init__(self, reason: ReasonCode, message: str = "", *, title: str = "") -> None:
        super().__init__(f"{reason.value}: {message}" if message else reason.value)
        self.reason = reason
        self.message = message
        self.title = title  # the item's title when the server named it: "Not borrowed: <title>"


@dataclass(frozen=True, slots=True)
class BackendStatus:
    """What the central side says about itself (REST heartbeat, SIP2 ACS status)."""

    online: bool
    server_time: datetime | None = None
    checkout_ok: bool = True
    checkin_ok: bool = True
    offline_ok: bool = True
    screen_message: str = ""
    # conflicts of this kiosk's that staff resolved centrally: the kiosk forgets them
    resolved: tuple[str, ...] = ()
    # the experiments this kiosk runs (REST); None: the central side does not say (SIP2)
    experiments: tuple[Running, ...] | None = None
    # messages to patrons this kiosk shows (REST); None: the central side does not say
    messages: tuple[PatronMessage, ...] | None = None
    # this kiosk's central profile (REST): (version, settings); None: not sent
    profile: tuple[str, dict[str, Any]] | None = None


@runtime_checkable
class CatalogBackend(Protocol):
    """What the kiosk needs from the library system. Every method may raise
    `BackendUnavailable` or `Refused`, and nothing else.

    `replay_batch_limit` is the most transactions the sync worker hands `replay` at once
    (None: no limit of the backend's own; SIP2: 1, see `Sip2Backend`)."""

    @property
    def replay_batch_limit(self) -> int | None: ...

    def identify(self, credential: Credential, pin: str | None = None) -> Patron: ...

    def account(self, patron_id: str) -> Account: ...

    def email_of(self, patron_id: str) -> str | None:
        """The address the library holds for the patron's receipts (None: none). Asked for
        only when a receipt is sent; the kiosk keeps it no longer than that."""
        ...

    def item(self, item_id: str) -> Item: ...

    def checkout(self, tx: Transaction) -> Outcome: ...

    def checkin(self, tx: Transaction) -> Outcome: ...

    def renew(self, tx: Transaction) -> Outcome: ...

    def send_stack(self, txs: Sequence[Transaction]) -> Iterator[list[StackAnswer]]:
        """Send the online transactions of one stack (items placed together), each answered
        exactly once: yields groups of answers as they come in (REST: all at once from one
        request; SIP2: as each connection's answer arrives). A transaction that got no answer
        is answered with the `BackendUnavailable` that stopped it; `Refused` as an answer,
        not raised, so one refusal never holds back the rest of the stack."""
        ...

    def replay(self, transactions: Sequence[Transaction]) -> list[ReplayResult]: ...

    def end_session(self, patron_id: str) -> None: ...

    def heartbeat(self, status: Mapping[str, object]) -> BackendStatus: ...

    def close(self) -> None: ...


StackAnswer = tuple[Transaction, Outcome | Refused | BackendUnavailable]


def send_one(backend: CatalogBackend, tx: Transaction) -> Outcome:
    """The single-item call for a transaction's kind."""
    send = {TransactionKind.CHECKOUT: backend.checkout, TransactionKind.CHECKIN: backend.checkin,
            TransactionKind.RENEW: backend.renew}.get(tx.kind)
    if send is None:
        raise ValueError(f"{tx.kind.value} is not sent online")
    return send(tx)


def answer_of(backend: CatalogBackend, tx: Transaction) -> StackAnswer:
    """One transaction's answer, with a refusal or an outage as the answer instead of raised."""
    try:
        return tx, send_one(backend, tx)
    except (Refused, BackendUnavailable) as answer:
        return tx, answer


def one_by_one(backend: CatalogBackend,
               txs: Sequence[Transaction]) -> Iterator[list[StackAnswer]]:
    """`send_stack` the plain way: one request after the other, each answer as it comes."""
    return in_order(txs, lambda tx: answer_of(backend, tx))


def in_order(txs: Sequence[Transaction],
             answer: Callable[[Transaction], StackAnswer]) -> Iterator[list[StackAnswer]]:
    """Each transaction's `answer`, one after the other. Once the server is unreachable, the
    rest are not tried (answered with the same outage)."""
    for index, tx in enumerate(txs):
        got = answer(tx)
        if isinstance(got[1], BackendUnavailable):
            rest = not_sent(got[1])
            yield [got, *((t, rest) for t in txs[index + 1:])]
            return
        yield [got]


def status_flags_advice(*, online: bool, checkout_ok: bool, checkin_ok: bool) -> str:
    """The one rule for what a library system says about itself (SIP2 98, the REST
    heartbeat), and what `kiosk doctor` tells a technician about it: the flags are advice.

    Many library systems report checkout or checkin "not allowed" in their status while they
    accept every request (a static template, a flag nobody maintains), so the kiosk does not
    go offline on them: it sends each loan and return online, and the answer to that request
    decides (a refusal the patron hears, or the offline policy when there is no answer).
    Returns "" when every flag says yes, else what the technician should know."""
    off = [name for name, ok in (("online", online), ("checkout", checkout_ok),
                                 ("checkin", checkin_ok)) if not ok]
    if not off:
        return ""
    return (f"The server's status says {', '.join(off)}: no. The kiosk still sends each loan "
            "and return online and follows the server's answer to it (refused, or offline "
            "when there is no answer). If patrons are refused, check the server's settings.")


# ---------------------------------------------------------------- the seam's guarantees

SEAM_METHODS = ("identify", "account", "item", "checkout", "checkin", "renew", "send_stack",
                "replay", "end_session", "heartbeat")

B = TypeVar("B", bound=type)


def seam_guard(cls: B) -> B:
    """Class decorator: nothing but `BackendError` leaves the seam methods of `cls`."""
    for name in SEAM_METHODS:
        method = getattr(cls, name, None)
        if method is not None and not getattr(method, "_seam_guarded", False):
            setattr(cls, name, _guarded(cls.__name__, name, method))
    return cls


def _guarded(owner: str, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    where = f"{owner}.{name}"
    if inspect.isgeneratorfunction(method):  # its errors come while it is iterated
        @functools.wraps(method)
        def stream(self: object, *args: object, **kwargs: object) -> Any:
            with _only_seam_errors(where):
                yield from method(self, *args, **kwargs)
        call = stream
    else:
        @functools.wraps(method)
        def plain(self: object, *args: object, **kwargs: object) -> Any:
            with _only_seam_errors(where):
                return method(self, *args, **kwargs)
        call = plain
    call._seam_guarded = True  # type: ignore[attr-defined]
    return call


@contextlib.contextmanager
def _only_seam_errors(where: str) -> Iterator[None]:
    try:
        yield
    except BackendError:
        raise
    except Exception as exc:
        raise MalformedReply(unexpected(where, exc)) from None


def unexpected(where: str, exc: BaseException) -> str:
    """Log an exception nobody expected, for the technician, without its message (which may
    carry a value from a reply: a patron's name, a card number); returns a short description."""
    frames = traceback.extract_tb(exc.__traceback__)
    at = f"{frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}" if frames else "?"
    log.error("%s: unexpected %s at %s; treated as a reply the kiosk cannot use",
              where, type(exc).__name__, at)
    return f"{where}: reply not understood ({type(exc).__name__})"


# ---------------------------------------------------------------- how long a patron waits

@dataclass(slots=True)
class _Wait:
    """One `patron_wait` scope: its deadline (moved on by `extend_wait`) and its length."""

    deadline: float
    seconds: float
    outer: _Wait | None

    def left(self) -> float:
        scope: _Wait | None = self
        deadline = self.deadline
        while scope is not None:
            deadline = min(deadline, scope.deadline)
            scope = scope.outer
        return deadline - time.monotonic()


_wait: contextvars.ContextVar[_Wait | None] = contextvars.ContextVar(
    "kiosk_patron_wait", default=None)


class WaitExpired(BackendUnavailable, TimeoutError):
    """The patron's wait bound for this action ran out before the central side answered."""


@contextlib.contextmanager
def patron_wait(seconds: float | None) -> Iterator[None]:
    """Bound everything inside to `seconds` in total (an inner scope never extends an outer).

    The scope is shared with threads that copy the context (SIP2's parallel connections), so
    they end by the same deadline."""
    if seconds is None:
        yield
        return
    token = _wait.set(_Wait(time.monotonic() + seconds, seconds, _wait.get()))
    try:
        yield
    finally:
        _wait.reset(token)


def extend_wait() -> None:
    """The patron saw progress (an item of a stack answered): the innermost scope starts again,
    so a stack of thirty is bounded per answer, not by one item's wait. Outer scopes still hold."""
    scope = _wait.get()
    if scope is not None:
        scope.deadline = time.monotonic() + scope.seconds


def wait_left(default: float) -> float:
    """The timeout for the next blocking step: `default`, cut to what the patron's wait has
    left. Raises `WaitExpired` when nothing is left."""
    scope = _wait.get()
    if scope is None:
        return default
    left = scope.left()
    if left <= 0:
        raise WaitExpired("the patron's wait bound ran out")
    return min(default, left)


def patron_waiting() -> bool:
    """True inside a `patron_wait` scope (a patron is at the screen waiting for this)."""
    return _wait.get() is not None
