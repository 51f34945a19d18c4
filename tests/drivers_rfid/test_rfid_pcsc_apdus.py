"""PC/SC single-tag path: APDU bytes and reply parsing (no radio needed)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.rfid_errors import (
    ReaderProtocolError,
    ReaderUnavailable,
    RfidError,
    TagReadError,
    TagWriteError,
)
from drivers.rfid_pcsc import (
    PcscTagReader,
    apdu_end_transparent,
    apdu_get_uid,
    apdu_read_block,
    apdu_start_transparent,
    apdu_transceive,
    apdu_update_block,
    check_sw,
    frame_nxp,
    frame_system_info,
    frame_write_afi,
    parse_system_info_answer,
    parse_transparent,
    parse_uid,
)

UID = "E004010012345678"
UID_ON_AIR = bytes.fromhex("78563412000104E0")


def test_storage_card_apdus() -> None:
    assert apdu_get_uid() == [0xFF, 0xCA, 0x00, 0x00, 0x00]
    assert apdu_read_block(5) == [0xFF, 0xB0, 0x00, 0x05, 0x04]
    assert apdu_update_block(5, b"\x01\x02\x03\x04") == [0xFF, 0xD6, 0x00, 5, 4, 1, 2, 3, 4]
    with pytest.raises(TagReadError):
        apdu_read_block(256)
    with pytest.raises(TagWriteError):
        apdu_update_block(1, b"")


def test_transparent_exchange_wraps_a_raw_iso15693_frame() -> None:
    assert apdu_start_transparent() == [0xFF, 0xC2, 0x00, 0x00, 0x02, 0x81, 0x00]
    assert apdu_end_transparent() == [0xFF, 0xC2, 0x00, 0x00, 0x02, 0x82, 0x00]
    frame = frame_write_afi(UID, 0xC2)
    assert frame == bytes([0x22, 0x27]) + UID_ON_AIR + b"\xC2"
    apdu = apdu_transceive(frame)
    assert apdu[:5] == [0xFF, 0xC2, 0x00, 0x01, len(frame) + 2]
    assert apdu[5:7] == [0x95, len(frame)]
    assert bytes(apdu[7:-1]) == frame and apdu[-1] == 0x00


def test_other_raw_frames() -> None:
    assert frame_system_info(UID) == b"\x22\x2B" + UID_ON_AIR
    assert frame_nxp(UID, 0xA2) == b"\x22\xA2\x04" + UID_ON_AIR


def test_uid_comes_back_msb_first_whatever_the_reader_sends() -> None:
    assert parse_uid(UID_ON_AIR) == UID
    assert parse_uid(bytes.fromhex(UID)) == UID
    with pytest.raises(ReaderProtocolError):
        parse_uid(bytes.fromhex("04A23B1C2D3E80"))  # a 7-byte ISO 14443 UID


@pytest.mark.parametrize(
    ("sw", "error"),
    [((0x6A, 0x81), ReaderProtocolError), ((0x63, 0x00), TagReadError),
     ((0x6F, 0x00), ReaderProtocolError)],
)
def test_status_words(sw: tuple[int, int], error: type[Exception]) -> None:
    assert check_sw([1, 2], 0x90, 0x00) == b"\x01\x02"
    with pytest.raises(error):
        check_sw([], *sw)
    if error is TagReadError:
        with pytest.raises(TagWriteError):
            check_sw([], *sw, writing=True)


def test_transparent_reply_parsing() -> None:
    ok = bytes.fromhex("C003000000" "9702" "0000")
    assert parse_transparent(ok) == b"\x00"
    tag_error = bytes.fromhex("C003000000" "9702" "010F")
    with pytest.raises(TagWriteError, match="0x0F"):
        parse_transparent(tag_error, writing=True)
    no_answer = bytes.fromhex("C003010000")
    with pytest.raises(TagReadError):
        parse_transparent(no_answer)


def test_system_information_answer() -> None:
    answer = bytes([0x0F]) + UID_ON_AIR + bytes([0x06, 0xC2, 27, 3, 0x01])
    info = parse_system_info_answer(answer)
    assert (info.uid, info.dsfid, info.afi, info.block_count, info.block_size) == (
        UID, 0x06, 0xC2, 28, 4)
    with pytest.raises(ReaderProtocolError):
        parse_system_info_answer(answer[:11])


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=40))
def test_random_replies_raise_only_rfid_errors(data: bytes) -> None:
    for parse in (lambda: parse_uid(data), lambda: parse_transparent(data),
                  lambda: parse_system_info_answer(data)):
        with contextlib.suppress(RfidError):
            parse()


def test_missing_reader_is_reader_unavailable() -> None:
    # Whether or not a pcscd runs on this machine, no reader has this name.
    with PcscTagReader("no-such-rfid-reader-here") as reader, pytest.raises(ReaderUnavailable):
        reader.inventory()
