"""A real PC/SC card reader on a kiosk. Skips cleanly where there is none.

Run on the Pi with the reader plugged in and pcscd running:
    .venv/bin/python -m pytest -q tests/hardware/test_real_card_reader.py
To also read a card, lay one on the reader first and set KIOSK_HW_CARD=uid
(an RFID/NFC card) or KIOSK_HW_CARD=eid (a Belgian eID in the slot).
"""

from __future__ import annotations

import os
import queue
import time

import pytest

pytestmark = pytest.mark.hardware

scard = pytest.importorskip("smartcard.scard", reason="pyscard not installed")


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


READERS = real_readers()
if not READERS:
    pytest.skip("no real PC/SC reader (or pcscd not running)", allow_module_level=True)


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


def test_real_reader_is_reported_ready() -> None:
    from drivers.cards import PcscCardReader
    from drivers.events import DeviceState

    q: queue.Queue = queue.Queue()
    with PcscCardReader(q, reader_filter=READERS[0]) as reader:
        state = next_event(q, DeviceState, 5)
        assert state.ok
        assert reader.reader_name == READERS[0]


@pytest.mark.skipif(not os.environ.get("KIOSK_HW_CARD"), reason="set KIOSK_HW_CARD=uid|eid")
def test_card_on_the_reader_is_identified() -> None:
    from drivers.cards import PcscCardReader
    from drivers.events import CardPresented
    from kiosk.domain import CredentialKind

    expected = {"uid": CredentialKind.CARD_UID, "eid": CredentialKind.EID}[
        os.environ["KIOSK_HW_CARD"]
    ]
    q: queue.Queue = queue.Queue()
    with PcscCardReader(q, reader_filter=READERS[0]):
        event = next_event(q, CardPresented, 15)
    assert event.credential.kind is expected
    assert event.credential.value
    if expected is CredentialKind.EID:
        assert len(event.credential.value) == 11
        assert event.display_name
