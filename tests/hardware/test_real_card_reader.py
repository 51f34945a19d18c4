"""A real PC/SC card reader on a kiosk: collected only when a technician asks for it.

Run on the Pi with the reader plugged in, pcscd running and a card on the reader:
    KIOSK_HARDWARE=1 KIOSK_HW_CARD=uid .venv/bin/python -m pytest -q tests/hardware
KIOSK_HW_CARD says what lies on the reader: uid (an RFID/NFC library card) or eid (a Belgian
eID in the slot). Without a reader, or without a card, the tests fail and say which.
"""

from __future__ import annotations

import os
import queue
import time

import pytest
from smartcard import scard  # pyscard: part of the kiosk's "cards" extra

pytestmark = pytest.mark.hardware


def real_readers() -> list[str]:
    hresult, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hresult != scard.SCARD_S_SUCCESS:
        return []
    try:
        hresult, readers = scard.SCardListReaders(ctx, [])
        if hresult != scard.SCARD_S_SUCCESS:
            return []
        return [r for r in readers if not r.startswith("Virtual PCD")]
    finally:
        scard.SCardReleaseContext(ctx)


@pytest.fixture(scope="module")
def reader_name() -> str:
    readers = real_readers()
    assert readers, "no real PC/SC reader found: is it plugged in, and is pcscd running?"
    return readers[0]


def next_event(q: queue.Queue, kind: type, timeout: float):
    deadline = time.monotonic() + timeout
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            event = q.get(timeout=remaining)
        except queue.Empty:
            break
        if isinstance(event, kind):
            return event
    raise AssertionError(f"no {kind.__name__} within {timeout}s")


def test_real_reader_is_reported_ready(reader_name: str) -> None:
    from domain.events import DeviceState
    from drivers.cards import PcscCardReader

    q: queue.Queue = queue.Queue()
    with PcscCardReader(q, reader_filter=reader_name) as reader:
        state = next_event(q, DeviceState, 5)
        assert state.ok
        assert reader.reader_name == reader_name


def test_card_on_the_reader_is_identified(reader_name: str) -> None:
    from domain.events import CardPresented
    from domain.model import CredentialKind
    from drivers.cards import PcscCardReader

    kinds = {"uid": CredentialKind.CARD_UID, "eid": CredentialKind.EID}
    on_reader = os.environ.get("KIOSK_HW_CARD", "")
    assert on_reader in kinds, "lay a card on the reader and set KIOSK_HW_CARD=uid or eid"
    expected = kinds[on_reader]
    q: queue.Queue = queue.Queue()
    with PcscCardReader(q, reader_filter=reader_name):
        event = next_event(q, CardPresented, 15)
    assert event.credential.kind is expected
    assert event.credential.value
    if expected is CredentialKind.EID:
        assert len(event.credential.value) == 11
        assert event.display_name
