"""Simulated patron card reader for demo mode and tests of the layers above.

It publishes exactly the events `PcscCardReader` publishes, through the same
formatting and validation code (UID formats, national-number check), so a demo
script or a session test sees what a real kiosk would see. Test controls stand
in for the patron's hand: present_uid(), present_eid(), remove(), and the
technician's: unplug(), plug().
"""

from __future__ import annotations

import logging

from domain.events import CardPresented, CardRemoved, CardUnreadable, DeviceState, EventSink
from domain.model import Credential, CredentialKind
from drivers.card_errors import CardConfigError, InvalidNationalNumber
from drivers.cards import ASK_AGAIN, DEVICE, check_reader_options
from drivers.device import Device
from drivers.eid import validate_national_number
from drivers.uid import format_uid

logger = logging.getLogger(__name__)


class SimCardReader(Device):
    """A card reader driven by calls instead of cards. Each control returns whether
    the reader "saw" the card (False while unplugged or closed)."""

    label = "card reader"

    def __init__(
        self,
        sink: EventSink,
        *,
        uid_format: str = "hex",
        eid_identifier: str = "national_number",
        source: str = DEVICE,
    ) -> None:
        check_reader_options(uid_format, eid_identifier, 0.2)
        self._sink = sink
        self.uid_format = uid_format
        self.eid_identifier = eid_identifier
        self.source = source
        self.plugged = True
        self.card_on = False
        self._started = False
        self._closed = False

    def start(self) -> None:
        self._ensure_open()
        if not self._started:
            self._started = True
            self._sink.put(DeviceState(DEVICE, ok=self.plugged, detail="simulated reader"))

    def close(self) -> None:
        self._closed = True

    def _can_see(self) -> bool:
        if self._closed or not self.plugged:
            return False
        if self.card_on:  # a new card means the previous one was taken away
            self.remove()
        self.card_on = True
        return True

    def present_uid(self, uid_hex: str) -> bool:
        """An RFID/NFC card with this UID (hex, as the card sends it) is laid on the reader."""
        if not self._can_see():
            return False
        try:
            uid = bytes.fromhex(uid_hex)
            if not 1 <= len(uid) <= 10:
                raise ValueError("bad UID length")
        except ValueError:
            self._sink.put(CardUnreadable(ASK_AGAIN, source=self.source))
            return True
        value = format_uid(uid, self.uid_format)
        self._sink.put(CardPresented(Credential(CredentialKind.CARD_UID, value),
                                     source=self.source))
        return True

    def present_eid(
        self, national_number: str, first_name: str = "", card_number: str = "591234567890"
    ) -> bool:
        """A Belgian eID is inserted; an invalid national number reads as unreadable."""
        if not self._can_see():
            return False
        try:
            validate_national_number(national_number)
        except InvalidNationalNumber:
            self._sink.put(CardUnreadable(ASK_AGAIN, source=self.source))
            return True
        value = national_number if self.eid_identifier == "national_number" else card_number
        self._sink.put(
            CardPresented(Credential(CredentialKind.EID, value), display_name=first_name,
                          source=self.source)
        )
        return True

    def present_unreadable(self) -> bool:
        """A card that cannot be read (damaged, pulled too fast)."""
        if not self._can_see():
            return False
        self._sink.put(CardUnreadable(ASK_AGAIN, source=self.source))
        return True

    def remove(self) -> bool:
        if not self.card_on:
            return False
        self.card_on = False
        self._sink.put(CardRemoved(source=self.source))
        return True

    def unplug(self) -> None:
        if not self.plugged:
            return
        self.remove()
        self.plugged = False
        self._sink.put(DeviceState(DEVICE, ok=False, detail="card reader unplugged"))

    def plug(self) -> None:
        if self.plugged:
            return
        self.plugged = True
        self._sink.put(DeviceState(DEVICE, ok=True, detail="simulated reader"))


__all__ = ["CardConfigError", "SimCardReader"]
