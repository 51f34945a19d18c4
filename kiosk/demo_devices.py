"""A patron's hands at the demo kiosk: cards, books and the network, through simulated devices.

Why through the devices and not onto the event queue: the demo should run the same drivers a
kiosk runs, so a card is laid on the simulated card reader (which publishes `CardPresented`),
a barcode goes under the simulated scanner, and books lie on the simulated RFID reader that
the real `RfidPad` driver polls over its serial protocol. The demo keys (F1..F11) and both tours
act through this one class.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from drivers.cards_sim import SimCardReader
from drivers.scanner import SimScanner
from kiosk.devices import Devices

if TYPE_CHECKING:
    from central.faultproxy import FaultProxy
    from kiosk.app import Kiosk

log = logging.getLogger(__name__)


class DemoDeviceMissing(RuntimeError):
    """The demo's settings lack the simulated device this action needs."""


class DemoHands:
    """Acts on the simulated devices of one kiosk; `network` cuts or restores the catalog."""

    def __init__(self, devices: Devices, *, owner_isil: str,
                 network: Callable[[bool], None] | None = None) -> None:
        self._devices = devices
        self._owner_isil = owner_isil
        self._network = network

    @classmethod
    def at(cls, kiosk: Kiosk, proxy: FaultProxy | None = None) -> DemoHands:
        """Hands at this kiosk; `proxy` is the fault proxy in front of the demo catalog."""
        network = None
        if proxy is not None:
            network = lambda up: proxy.restore() if up else proxy.cut()  # noqa: E731
        isils = kiosk.settings.library.isils
        return cls(kiosk.devices, owner_isil=isils[0] if isils else "", network=network)

    def show_card(self, barcode: str, *, uid: str | None = None) -> None:
        """An NFC card on the reader when it has a UID and there is a card reader, else its
        barcode under the scanner."""
        reader = self._devices.card_reader
        if uid and isinstance(reader, SimCardReader):
            reader.present_uid(uid)
            return
        self.scan(barcode)

    def take_card(self) -> None:
        reader = self._devices.card_reader
        if isinstance(reader, SimCardReader):
            reader.remove()

    def scan(self, code: str) -> None:
        scanner = self._devices.scanner
        if not isinstance(scanner, SimScanner):
            raise DemoDeviceMissing("the settings have no simulated scanner ([devices.scanner] "
                                    "type = \"sim\")")
        scanner.scan(code)

    def place(self, item_ids: Sequence[str]) -> None:
        """The pad holds exactly these books now (an empty list: all lifted off)."""
        sim, pad = self._devices.rfid_sim, self._devices.rfid
        if sim is None or pad is None:
            raise DemoDeviceMissing("the settings have no simulated RFID pad ([devices.rfid] "
                                    "type = \"sim\")")
        sim.place_items(item_ids, owner_isil=self._owner_isil)
        pad.poll_once()  # publish now rather than at the next poll: the tours wait for it

    def network(self, up: bool) -> None:
        if self._network is None:
            raise DemoDeviceMissing("this kiosk has no fault proxy in front of its catalog")
        self._network(up)
