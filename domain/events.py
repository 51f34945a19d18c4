"""Events that devices publish to the application's single event queue.

Drivers only report what happened at the hardware; the session state machine
decides what it means. Identifiers inside events must never be logged in clear.
"""

from __future__ import annotations

import queue
from dataclasses import dataclass, field
from typing import Protocol

from domain.model import Credential


@dataclass(frozen=True, slots=True)
class CardPresented:
    credential: Credential
    display_name: str = ""  # e.g. first name read from an eID, for the greeting
    source: str = ""  # which reader


@dataclass(frozen=True, slots=True)
class CardRemoved:
    source: str = ""


@dataclass(frozen=True, slots=True)
class CardUnreadable:
    """A card was seen but could not be read: ask the patron to present it again."""

    detail: str = ""
    source: str = ""


@dataclass(frozen=True, slots=True)
class TagRead:
    """One RFID item tag, decoded."""

    item_id: str
    uid: str
    owner_isil: str = ""
    part: int = 1
    parts: int = 1
    usage: str = "loanable"  # loanable | reference | discarded | patron_card | unknown
    secured: bool = True


@dataclass(frozen=True, slots=True)
class ItemsOnPad:
    """The full set of tags on the pad now (replaces the previous set)."""

    tags: tuple[TagRead, ...] = field(default_factory=tuple)
    source: str = ""


@dataclass(frozen=True, slots=True)
class BarcodeScanned:
    code: str
    source: str = ""


@dataclass(frozen=True, slots=True)
class DeviceState:
    """A device went away, came back, or failed (reader unplugged, paper out ...)."""

    device: str  # "card_reader" | "rfid" | "scanner" | "printer" | "gpio"
    ok: bool
    detail: str = ""


@dataclass(frozen=True, slots=True)
class KeyPressed:
    """A patron pressed one of the kiosk's keys (GPIO buttons): up, down, select, back, help,
    speak. For the screen, not the session: the UI moves its focus ring with it."""

    key: str
    source: str = "gpio"


@dataclass(frozen=True, slots=True)
class SensorChanged:
    """A GPIO sensor changed: book-drop chute interrupted, service door opened..."""

    sensor: str
    active: bool
    source: str = "gpio"


Event = (
    CardPresented | CardRemoved | CardUnreadable | ItemsOnPad | BarcodeScanned | DeviceState
    | SensorChanged
    | KeyPressed
)


class EventSink(Protocol):
    """Where drivers publish; `queue.Queue` satisfies it."""

    def put(self, item: Event, block: bool = True, timeout: float | None = None) -> None: ...


def new_event_queue() -> queue.Queue[Event]:
    return queue.Queue()
