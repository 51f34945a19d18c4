"""What technician mode may see and do of a running kiosk: one narrow port.

Why a port: the console shows and tests a kiosk's devices, network, queue and log, but it must
not reach into the journal, the sync worker or a driver and change them on the way. Everything
it can do is listed in `TechnicianPort`; `KioskPort` is the kiosk's implementation, built by the
composition root. A test may hand the console any other implementation.

Every value that crosses the port is already safe to show a technician: device names and
states, counts, pseudonymised queue rows, scrubbed log lines.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from kiosk.config import Settings
from kiosk.journal import QueueRow
from kiosk.status import StatusSource, device_states
from kiosk.sync import DrainReport

if TYPE_CHECKING:
    from drivers.printer import Receipt
    from kiosk.devices import Devices
    from kiosk.status import RecentLog

EventFilter = Callable[[object], bool]  # True: the event is the console's, not the session's


class TechnicianPort(Protocol):
    """The kiosk as technician mode sees it."""

    @property
    def settings(self) -> Settings: ...

    # ---- events: while the console is open, cards and tags test the readers
    def add_event_filter(self, take: EventFilter) -> None: ...

    def remove_event_filter(self, take: EventFilter) -> None: ...

    # ---- devices, through the bundle's own tests
    def device_states(self) -> Mapping[str, Mapping[str, Any]]: ...

    def print_test_receipt(self, receipt: Receipt, gettext: Callable[[str], str]) -> bool: ...

    def test_lights(self, step_s: float) -> bool: ...

    # ---- the central side
    @property
    def online(self) -> bool: ...

    @property
    def last_error(self) -> str: ...

    @property
    def last_sync(self) -> DrainReport: ...

    @property
    def clock_skew_s(self) -> float | None: ...

    def heartbeat(self) -> bool: ...

    def sync_now(self) -> None: ...

    # ---- the queue and the log
    def queue_counts(self) -> Mapping[str, int]: ...

    def oldest_pending(self) -> datetime | None: ...

    def queue_rows(self) -> list[QueueRow]: ...

    def log_lines(self, count: int) -> list[str]: ...


class _Running(StatusSource, Protocol):
    """What the port reads of a running kiosk (`kiosk.app.Kiosk` is one)."""

    @property
    def event_filters(self) -> list[EventFilter]: ...

    @property
    def devices(self) -> Devices: ...

    @property
    def recent_log(self) -> RecentLog: ...


class KioskPort:
    """`TechnicianPort` over a running kiosk."""

    def __init__(self, kiosk: _Running) -> None:
        self._kiosk = kiosk

    @property
    def settings(self) -> Settings:
        return self._kiosk.settings

    def add_event_filter(self, take: EventFilter) -> None:
        self._kiosk.event_filters.append(take)

    def remove_event_filter(self, take: EventFilter) -> None:
        if take in self._kiosk.event_filters:
            self._kiosk.event_filters.remove(take)

    def device_states(self) -> Mapping[str, Mapping[str, Any]]:
        return device_states(self._kiosk)

    def print_test_receipt(self, receipt: Receipt, gettext: Callable[[str], str]) -> bool:
        return self._kiosk.devices.print_test_receipt(receipt, gettext)

    def test_lights(self, step_s: float) -> bool:
        return self._kiosk.devices.test_lights(step_s)

    @property
    def online(self) -> bool:
        return self._kiosk.connectivity.online

    @property
    def last_error(self) -> str:
        return self._kiosk.connectivity.last_error or ""

    @property
    def last_sync(self) -> DrainReport:
        return self._kiosk.sync.last_report

    @property
    def clock_skew_s(self) -> float | None:
        return self._kiosk.sync.clock_skew_s

    def heartbeat(self) -> bool:
        return self._kiosk.sync.heartbeat()

    def sync_now(self) -> None:
        self._kiosk.sync.wake(now=True)

    def queue_counts(self) -> Mapping[str, int]:
        return self._kiosk.journal.counts()

    def oldest_pending(self) -> datetime | None:
        return self._kiosk.journal.oldest_pending()

    def queue_rows(self) -> list[QueueRow]:
        return self._kiosk.journal.rows()

    def log_lines(self, count: int) -> list[str]:
        return self._kiosk.recent_log.lines(count)
