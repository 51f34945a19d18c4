"""FEIG ISO-host protocol: exact frames, reply parsing, garbage from a real pty."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drivers.rfid_errors import (
    ReaderProtocolError,
    ReaderUnavailable,
    RfidError,
    TagReadError,
    TagWriteError,
)
from drivers.rfid_feig import (
    FeigReader,
    build_frame,
    crc16_feig,
    parse_blocks,
    parse_inventory,
    parse_reply,
    parse_system_info,
    split_frame,
)
from drivers.rfid_sim import SimRfidReader, SimTag

UID = "E004010012345678"


def test_crc_matches_the_published_check_value() -> None:
    # CRC-16/MCRF4XX (poly 0x8408 reflected, preset 0xFFFF): "123456789" -> 0x6F91
    assert crc16_feig(b"123456789") == 0x6F91


def test_inventory_request_frame_layout() -> None:
    frame = build_frame(0xB0, bytes([0x01, 0x00]))
    assert frame[:7] == bytes([0x02, 0x00, 0x09, 0xFF, 0xB0, 0x01, 0x00])
    assert len(frame) == 9  # ALENGTH counts STX .. CRC
    crc = crc16_feig(frame[:7])
    assert frame[7:] == bytes([crc & 0xFF, crc >> 8])  # low byte first


def test_reply_round_trip_and_address() -> None:
    reply = build_frame(0xB0, b"\x00", address=0x05, status=0x01)
    frame = parse_reply(reply, expected_command=0xB0)
    assert (frame.address, frame.command, frame.payload) == (0x05, 0xB0, b"\x01\x00")


def test_reply_to_another_command_is_refused() -> None:
    with pytest.raises(ReaderProtocolError, match="expected"):
        parse_reply(build_frame(0x65, status=0), expected_command=0xB0)


def test_corrupt_crc_is_a_protocol_error() -> None:
    reply = bytearray(build_frame(0xB0, b"\x00", status=0))
    reply[-3] ^= 0xFF
    with pytest.raises(ReaderProtocolError, match="CRC"):
        parse_reply(bytes(reply))


def test_split_frame_skips_noise_and_waits_for_the_rest() -> None:
    reply = build_frame(0xB0, b"\x00", status=0)
    frame, used = split_frame(b"\xAA\xBB" + reply[:5])
    assert frame is None and used == 2
    frame, used = split_frame(b"\xAA\xBB" + reply + b"\x02")
    assert frame is not None and used == 2 + len(reply)


def test_inventory_records() -> None:
    data = bytes([2, 0x03, 0x00]) + bytes.fromhex(UID) + bytes([0x03, 0x06]) + bytes(
        range(0xE0, 0xE8))
    tags = parse_inventory(data)
    assert [t.uid for t in tags] == [UID, "E0E1E2E3E4E5E6E7"]
    assert [t.dsfid for t in tags] == [0x00, 0x06]
    with pytest.raises(ReaderProtocolError):
        parse_inventory(data[:-1])


def test_blocks_arrive_msb_first_and_are_turned_back() -> None:
    reply = bytes([2, 4, 0, 0x44, 0x33, 0x22, 0x11, 0, 0x88, 0x77, 0x66, 0x55])
    assert parse_blocks(reply, 2) == bytes([0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88])
    with pytest.raises(ReaderProtocolError):
        parse_blocks(reply, 3)


def test_system_info_fields() -> None:
    info = parse_system_info(bytes([0x06]) + bytes.fromhex(UID) + bytes([0xC2, 3, 27, 1]))
    assert (info.dsfid, info.uid, info.afi, info.block_size, info.block_count) == (
        0x06, UID, 0xC2, 4, 28)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_random_reply_bytes_only_raise_protocol_errors(data: bytes) -> None:
    for parse in (lambda: split_frame(data), lambda: parse_reply(data),
                  lambda: parse_inventory(data), lambda: parse_blocks(data, 2),
                  lambda: parse_system_info(data)):
        with contextlib.suppress(ReaderProtocolError):
            parse()


# ------------------------------------------------------------- over a real pty


@pytest.fixture
def sim() -> Iterator[SimRfidReader]:
    with SimRfidReader() as device:
        yield device


@pytest.fixture
def reader(sim: SimRfidReader) -> Iterator[FeigReader]:
    with sim.open_reader(timeout=0.3) as driver:
        yield driver


def test_ping_and_empty_pad(reader: FeigReader) -> None:
    reader.ping()
    assert reader.inventory() == []


def test_read_and_write_blocks_over_the_wire(sim: SimRfidReader, reader: FeigReader) -> None:
    tag = SimTag.library_item("12345", "NL-AmRBL")
    sim.place(tag)
    reader.write_blocks(tag.uid, 8, b"ABCDEFGH")
    assert bytes(sim.tag(tag.uid).memory[32:40]) == b"ABCDEFGH"  # memory order on the tag
    assert reader.read_blocks(tag.uid, 8, 2) == b"ABCDEFGH"
    assert reader.read_blocks(tag.uid, 0, 8) == bytes(tag.memory[:32])


def test_tag_errors_are_named(sim: SimRfidReader, reader: FeigReader) -> None:
    tag = SimTag.library_item("12345")
    with pytest.raises(TagReadError):
        reader.read_blocks(tag.uid, 0, 1)  # not on the pad
    sim.place(tag)
    with pytest.raises(TagReadError):
        reader.read_blocks(tag.uid, 27, 2)  # beyond the tag's memory
    sim.fail_next_writes(1)
    with pytest.raises(TagWriteError):
        reader.write_afi(tag.uid, 0xC2)
    with pytest.raises(TagReadError):
        reader.read_blocks("not-hex", 0, 1)


def test_silent_reader_is_unavailable_within_the_timeout(sim: SimRfidReader,
                                                          reader: FeigReader) -> None:
    sim.set_silent(True)
    started = time.monotonic()
    with pytest.raises(ReaderUnavailable, match="did not answer"):
        reader.inventory()
    assert time.monotonic() - started < 5.0  # a timeout, not a hang
    sim.set_silent(False)
    assert reader.inventory() == []


def test_missing_port_is_reader_unavailable() -> None:
    with pytest.raises(ReaderUnavailable, match="cannot open"):
        FeigReader("/dev/nonexistent-rfid-reader")


def test_unplugged_reader_is_reader_unavailable() -> None:
    sim = SimRfidReader()
    reader = sim.open_reader(timeout=0.3)
    try:
        sim.close()  # both pty ends go away, like a USB adapter pulled out
        with pytest.raises(ReaderUnavailable):
            reader.inventory()
    finally:
        reader.close()


def test_stale_noise_before_a_reply_is_survived(sim: SimRfidReader, reader: FeigReader) -> None:
    sim.place(SimTag.library_item("1"))
    sim.inject(b"\x00\x13\x37" + build_frame(0x65, b"", status=0))  # junk + a stale reply
    assert len(reader.inventory()) == 1


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(noise=st.binary(min_size=1, max_size=40))
def test_garbage_from_the_device_never_escapes_as_foreign_error(
    sim: SimRfidReader, reader: FeigReader, noise: bytes
) -> None:
    reader.timeout = 0.05
    sim.set_silent(True)
    sim.inject(noise)  # the device side of the pty babbles
    try:
        reader.inventory()  # a result or our own RfidError; anything else fails the test
    except RfidError:
        sim.set_silent(False)
    finally:
        sim.set_silent(False)


def test_reader_plugged_in_later_and_replugged(tmp_path) -> None:
    """The port path (like /dev/serial/by-id/...) comes and goes; the driver follows."""
    link = tmp_path / "rfid-reader"
    reader = FeigReader(str(link), parity="N", timeout=0.3, connect_later=True)
    first = SimRfidReader()
    second = SimRfidReader()
    try:
        with pytest.raises(ReaderUnavailable, match="cannot open"):
            reader.inventory()  # nothing plugged in yet
        link.symlink_to(first.port)
        first.place(SimTag.library_item("1"))
        assert len(reader.inventory()) == 1
        first.close()  # pulled out
        with pytest.raises(ReaderUnavailable):
            reader.inventory()
        link.unlink()
        link.symlink_to(second.port)  # plugged back in (udev gives a new tty)
        second.place(SimTag.library_item("2"), SimTag.library_item("3"))
        assert len(reader.inventory()) == 2
    finally:
        reader.close()
        second.close()
