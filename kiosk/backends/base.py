"""The one seam between the kiosk and the library's central system.

Every backend (our Kiosk Catalog API over HTTPS, SIP2 to the ILS) implements
`CatalogBackend`. Callers never see requests, socket or codec errors: each
backend translates them at its boundary into this tree::

    BackendError
    ├── BackendUnavailable      network, timeout, 5xx, 429: the offline policy applies
    │   ├── MalformedReply      the server answered, but not in the protocol
    │   └── AuthenticationFailed the server refused our credentials (a config fault)
    └── Refused                 the server said no; `reason` is a ReasonCode the UI translates

Refusals for a transaction (blocked patron, item on hold ...) raise `Refused`;
`replay` never raises `Refused`, it reports a status per transaction instead,
because one refused transaction must not hold back the rest of the queue.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from kiosk.domain import (
    Account,
    Credential,
    Item,
    Outcome,
    Patron,
    ReasonCode,
    Transaction,
)


class BackendError(Exception):
    """Root of every error a backend may raise."""


class BackendUnavailable(BackendError, ConnectionError):
    """The central side cannot answer now; try again later (offline policy applies)."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class MalformedReply(BackendUnavailable):
    """The server answered something that is not a valid reply (bad JSON, HTML page ...)."""


class AuthenticationFailed(BackendUnavailable):
    """The central side rejected the kiosk's credentials: a technician must fix the config."""


class Refused(BackendError):
    """The central side refused the request for a reason the patron should hear."""

    def __init__(self, reason: ReasonCode, message: str = "", *, title: str = "") -> None:
        super().__init__(f"{reason.value}: {message}" if message else reason.value)
        self.reason = reason
        self.message = message
        self.title = title  # the item's title when the server named it: "Not borrowed: <title>"


class ReplayStatus(enum.StrEnum):
    DONE = "done"  # applied (or already applied: same UUID)
    CONFLICT = "conflict"  # could not be applied as-is; staff must look at it
    REJECTED = "rejected"  # invalid (unknown patron/item ...); never retried


@dataclass(frozen=True, slots=True)
class ReplayResult:
    tx_id: str
    status: ReplayStatus
    outcome: Outcome | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class BackendStatus:
    """What the central side says about itself (REST heartbeat, SIP2 ACS status)."""

    online: bool
    server_time: datetime | None = None
    checkout_ok: bool = True
    checkin_ok: bool = True
    offline_ok: bool = True
    screen_message: str = ""


@runtime_checkable
class CatalogBackend(Protocol):
    """What the kiosk needs from the library system. Every method may raise
    `BackendUnavailable` or `Refused`, and nothing else.

    A backend may also have `replay_batch_limit` (an int): the most transactions the sync
    worker hands `replay` at once (SIP2: 1, see `Sip2Backend`)."""

    def identify(self, credential: Credential, pin: str | None = None) -> Patron: ...

    def account(self, patron_id: str) -> Account: ...

    def item(self, item_id: str) -> Item: ...

    def checkout(self, tx: Transaction) -> Outcome: ...

    def checkin(self, tx: Transaction) -> Outcome: ...

    def renew(self, tx: Transaction) -> Outcome: ...

    def replay(self, transactions: Sequence[Transaction]) -> list[ReplayResult]: ...

    def end_session(self, patron_id: str) -> None: ...

    def heartbeat(self, status: Mapping[str, object]) -> BackendStatus: ...

    def close(self) -> None: ...
