"""PcscCardReader against a real pcscd, the real vpcd driver and our card emulator."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest
from event_log import EventLog
from pcscd_daemon import VPCD_READER, Pcscd
from vpcd_emulator import (
    ATR_CONTACTLESS,
    EidCard,
    ScriptedCard,
    UidCard,
    VpcdEmulator,
    build_identity_file,
    sample_identity,
)

from domain.events import CardPresented, CardRemoved, CardUnreadable, DeviceState
from domain.model import CredentialKind
from drivers.card_errors import CardConfigError
from drivers.cards import ASK_AGAIN, PcscCardReader
from drivers.errors import DeviceClosed

FAST = {"poll_interval": 0.05, "retry_initial": 0.1, "retry_max": 0.3}


@pytest.fixture
def reader(events: EventLog, emulator: VpcdEmulator) -> Iterator[PcscCardReader]:
    with PcscCardReader(events.queue, reader_filter=VPCD_READER, **FAST) as r:
        state = events.next(DeviceState)
        assert state.ok and state.detail == VPCD_READER
        yield r


def present(emulator: VpcdEmulator, events: EventLog, card) -> CardPresented:
    emulator.insert(card)
    return events.next(CardPresented)


@pytest.mark.parametrize(
    ("uid_format", "expected"),
    [
        ("hex", "04A1B2C3"),
        ("hex_reversed", "C3B2A104"),
        ("decimal", str(0x04A1B2C3)),
        ("decimal_reversed", str(0xC3B2A104)),
        ("decimal10", "0077705923"),
    ],
)
def test_uid_card_gives_the_identifier_in_the_configured_format(
    events: EventLog, emulator: VpcdEmulator, uid_format: str, expected: str
) -> None:
    with PcscCardReader(events.queue, uid_format=uid_format, reader_filter=VPCD_READER,
                        **FAST):
        assert events.next(DeviceState).ok
        got = present(emulator, events, UidCard(uid=bytes.fromhex("04A1B2C3")))
    assert got.credential.kind is CredentialKind.CARD_UID
    assert got.credential.value == expected
    assert got.display_name == ""


def test_seven_byte_uid_and_removal(
    reader: PcscCardReader, emulator: VpcdEmulator, events: EventLog
) -> None:
    got = present(emulator, events, UidCard(uid=bytes.fromhex("04112233445566")))
    assert got.credential.value == "04112233445566"
    assert events.quiet(0.5) == []  # a card left on the reader is announced once
    emulator.pull()
    events.next(CardRemoved)


def test_eid_gives_national_number_and_first_name(
    reader: PcscCardReader, emulator: VpcdEmulator, events: EventLog
) -> None:
    got = present(emulator, events, EidCard())
    assert got.credential.kind is CredentialKind.EID
    assert got.credential.value == "85073003328"
    assert got.display_name == "Anaïs"
    emulator.pull()
    events.next(CardRemoved)


def test_eid_can_identify_by_card_number(events: EventLog, emulator: VpcdEmulator) -> None:
    with PcscCardReader(events.queue, eid_identifier="card_number",
                        reader_filter=VPCD_READER, **FAST):
        assert events.next(DeviceState).ok
        got = present(emulator, events, EidCard())
    assert got.credential.value == "591234567890"


def test_eid_born_after_2000_with_a_long_name_field(
    reader: PcscCardReader, emulator: VpcdEmulator, events: EventLog
) -> None:
    # 300-byte first-names field: its length is encoded FF 2D
    identity = sample_identity(national_number="01020312345", first_names="Zoë " + "x" * 296)
    got = present(emulator, events, EidCard(identity=identity))
    assert got.credential.value == "01020312345"
    assert got.display_name == "Zoë"


def test_eid_read_when_card_answers_end_of_file_with_6282(
    reader: PcscCardReader, emulator: VpcdEmulator, events: EventLog
) -> None:
    card = EidCard(wrong_le_answers_6c=False)
    assert present(emulator, events, card).credential.value == "85073003328"


def test_garbled_identity_file_asks_to_present_again(
    reader: PcscCardReader, emulator: VpcdEmulator, events: EventLog
) -> None:
    garbled = sample_identity()[:-7]  # photo hash cut short: the TLV does not add up
    emulator.insert(EidCard(identity=garbled))
    assert events.next(CardUnreadable).detail == ASK_AGAIN
    emulator.pull()
    events.next(CardRemoved)


def test_wrong_check_digits_are_unreadable_not_a_patron(
    reader: PcscCardReader, emulator: VpcdEmulator, events: EventLog
) -> None:
    emulator.insert(EidCard(identity=sample_identity(national_number="85073003329")))
    events.next(CardUnreadable)


def test_non_utf8_name_is_unreadable(
    reader: PcscCardReader, emulator: VpcdEmulator, events: EventLog
) -> None:
    identity = build_identity_file(
        [(0x01, b"591234567890"), (0x06, b"85073003328"), (0x08, b"\xff\xfe")]
    )
    emulator.insert(EidCard(identity=identity))
    events.next(CardUnreadable)


def test_card_pulled_mid_read_is_unreadable_then_removed(
    reader: PcscCardReader, emulator: VpcdEmulator, events: EventLog
) -> None:
    emulator.insert(EidCard(pull_after_reads=1))  # answers the first chunk, then leaves
    events.next(CardUnreadable)
    events.next(CardRemoved)
    # the reader carries on: the next patron is served
    assert present(emulator, events, UidCard()).credential.value == "04A1B2C3"


def test_unexpected_status_word_is_unreadable(
    reader: PcscCardReader, emulator: VpcdEmulator, events: EventLog
) -> None:
    # GET DATA refused with 6300 ("operation failed"): not a card we can use
    emulator.insert(ScriptedCard(handler=lambda apdu: b"\x63\x00", atr=ATR_CONTACTLESS))
    events.next(CardUnreadable)


def test_card_that_is_neither_uid_nor_eid_is_unreadable(
    reader: PcscCardReader, emulator: VpcdEmulator, events: EventLog
) -> None:
    emulator.insert(ScriptedCard(handler=lambda apdu: b"\x6a\x82" if apdu[1] == 0xA4
                                 else b"\x6e\x00"))
    events.next(CardUnreadable)


def test_no_matching_reader_is_reported_unavailable(events: EventLog, pcscd: Pcscd) -> None:
    pcscd.ensure_running()
    with PcscCardReader(events.queue, reader_filter="No Such Reader", **FAST) as r:
        state = events.next(DeviceState)
        assert not state.ok
        assert "No Such Reader" in state.detail
        assert not r.available
        assert events.quiet(0.5) == []  # retried quietly, reported once


def test_close_is_prompt_and_final(events: EventLog, emulator: VpcdEmulator) -> None:
    r = PcscCardReader(events.queue, reader_filter=VPCD_READER, poll_interval=5.0)
    r.start()
    assert events.next(DeviceState).ok
    t0 = time.monotonic()
    r.close()
    assert time.monotonic() - t0 < 2.5  # SCardCancel interrupts the 5 s wait
    emulator.insert(UidCard())
    assert events.quiet(1.0) == []
    with pytest.raises(DeviceClosed):
        r.start()


@pytest.mark.parametrize(
    "kwargs",
    [{"uid_format": "octal"}, {"eid_identifier": "surname"}, {"poll_interval": 0},
     {"retry_initial": 2.0, "retry_max": 1.0}],
)
def test_bad_configuration_fails_at_construction(events: EventLog, kwargs: dict) -> None:
    with pytest.raises(CardConfigError):
        PcscCardReader(events.queue, **kwargs)


def test_pcscd_stopped_then_back(pcscd: Pcscd, events: EventLog, emulator: VpcdEmulator) -> None:
    if not pcscd.owned:
        pytest.fail("a pcscd not started by these tests is running; stop it to run this test")
    with PcscCardReader(events.queue, reader_filter=VPCD_READER, **FAST):
        assert events.next(DeviceState).ok
        emulator.insert(UidCard())
        events.next(CardPresented)
        pcscd.stop()
        # the card goes with the daemon, then the reader is reported gone
        events.next(CardRemoved)
        down = events.next(DeviceState)
        assert not down.ok
        assert "PC/SC" in down.detail
        emulator.pull()
        pcscd.start()
        up = events.next(DeviceState, timeout=10)
        assert up.ok
        assert present(emulator, events, UidCard()).credential.value == "04A1B2C3"


def test_starting_without_pcscd_is_unavailable_not_a_crash(
    pcscd: Pcscd, events: EventLog, emulator: VpcdEmulator
) -> None:
    if not pcscd.owned:
        pytest.fail("a pcscd not started by these tests is running; stop it to run this test")
    pcscd.stop()
    with PcscCardReader(events.queue, reader_filter=VPCD_READER, **FAST) as r:
        down = events.next(DeviceState)
        assert not down.ok
        assert "0x8010001D" in down.detail or "not available" in down.detail
        assert r.available is False
        pcscd.start()
        assert events.next(DeviceState, timeout=10).ok
        assert present(emulator, events, EidCard()).display_name == "Anaïs"


def test_nothing_from_the_card_reaches_the_logs(
    reader: PcscCardReader, emulator: VpcdEmulator, events: EventLog,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    present(emulator, events, EidCard())
    emulator.pull()
    events.next(CardRemoved)
    present(emulator, events, UidCard(uid=bytes.fromhex("04A1B2C3")))
    text = caplog.text + repr(events.seen)
    for secret in ("85073003328", "591234567890", "Peeters", "04A1B2C3", "04a1b2c3"):
        assert secret not in text
    assert "card read: eid #" in caplog.text  # a hash lets a technician correlate
