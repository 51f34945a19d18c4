"""Belgian eID identity file: TLV parsing, national number, READ BINARY edge cases."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vpcd_emulator import EidCard, build_identity_file, encode_eid_length, sample_identity

from drivers.card_errors import (
    CardDataError,
    CardNotSupported,
    CardProtocolError,
    CardReadError,
    InvalidNationalNumber,
)
from drivers.eid import (
    parse_identity,
    parse_tlv,
    read_binary_file,
    read_identity,
    validate_national_number,
)


def card_transmit(card: EidCard):
    """Drive the emulator's card logic directly, as pcscd would."""

    def transmit(apdu: bytes) -> tuple[bytes, int, int]:
        answer = card.apdu(apdu)
        assert answer is not None
        return answer[:-2], answer[-2], answer[-1]

    return transmit


def scripted(*answers: bytes):
    """A transmit that replays fixed answers and records the commands."""
    sent: list[bytes] = []
    queue = list(answers)

    def transmit(apdu: bytes) -> tuple[bytes, int, int]:
        sent.append(apdu)
        answer = queue.pop(0)
        return answer[:-2], answer[-2], answer[-1]

    transmit.sent = sent  # type: ignore[attr-defined]
    return transmit


# --- TLV --------------------------------------------------------------------


def test_tlv_exact_bytes() -> None:
    data = bytes.fromhex("0103414243" "0600" "08 02 C3AB".replace(" ", ""))
    assert parse_tlv(data) == {0x01: b"ABC", 0x06: b"", 0x08: "ë".encode()}


def test_tlv_length_continues_while_ff() -> None:
    assert encode_eid_length(300) == b"\xff\x2d"
    assert encode_eid_length(255) == b"\xff\x00"
    value = bytes(range(256)) + bytes(44)
    assert parse_tlv(b"\x11\xff\x2d" + value) == {0x11: value}
    assert parse_tlv(b"\x11\xff\x00" + b"x" * 255) == {0x11: b"x" * 255}
    assert parse_tlv(b"\x11\x00\x12\x01A") == {0x11: b"", 0x12: b"A"}


def test_tlv_trailing_zero_padding_is_ignored() -> None:
    assert parse_tlv(b"\x01\x01A" + bytes(20)) == {0x01: b"A"}


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x01",  # tag without length
        b"\x01\x05AB",  # value shorter than its length
        b"\x01\xff",  # length continues past the end
        b"\x01\x01A\x01\x01B",  # the same field twice
    ],
)
def test_tlv_rejects_garbage_with_our_error(data: bytes) -> None:
    with pytest.raises(CardDataError):
        parse_tlv(data)


@given(st.binary(max_size=600))
@settings(max_examples=400, deadline=None)
def test_random_bytes_only_ever_raise_card_data_error(data: bytes) -> None:
    with contextlib.suppress(CardDataError):  # anything else fails the test
        parse_identity(data)


@given(
    st.lists(
        st.tuples(st.integers(1, 0xFE), st.binary(max_size=700)),
        max_size=12,
        unique_by=lambda f: f[0],
    )
)
@settings(max_examples=200, deadline=None)
def test_tlv_round_trip(fields: list[tuple[int, bytes]]) -> None:
    data = build_identity_file(fields)
    if not fields:
        with pytest.raises(CardDataError):
            parse_tlv(data)
        return
    assert parse_tlv(data) == dict(fields)


@given(st.binary(min_size=1, max_size=60), st.integers(0, 400))
@settings(max_examples=200, deadline=None)
def test_mutated_identity_file_never_escapes_our_errors(noise: bytes, at: int) -> None:
    good = sample_identity()
    at = at % len(good)
    mutated = good[:at] + noise + good[at + len(noise) :]
    try:
        identity = parse_identity(mutated)
    except CardDataError:
        return
    assert len(identity.national_number) == 11


# --- national register number ------------------------------------------------


@pytest.mark.parametrize(
    "number",
    [
        "85073003328",  # born 1985
        "01020312345",  # born 2001: check digits use the "2" prefix
        "01020312316",  # born 1901: same digits, check without prefix
        "00000000097",  # unknown birth date, 97 - 0
        "85273003371",  # "bis" number (month + 20) still checks mod 97
    ],
)
def test_valid_national_numbers(number: str) -> None:
    assert validate_national_number(number) == number


@pytest.mark.parametrize(
    "number",
    ["85073003329", "8507300332", "850730033280", "85O73003328", "８５０７３００３３２８", ""],
)
def test_invalid_national_numbers(number: str) -> None:
    with pytest.raises(InvalidNationalNumber):
        validate_national_number(number)


# --- identity file -------------------------------------------------------------


def test_identity_fields_and_first_name() -> None:
    identity = parse_identity(sample_identity(first_names="Jean-Luc Marie"))
    assert identity.card_number == "591234567890"
    assert identity.national_number == "85073003328"
    assert identity.surname == "Peeters"
    assert identity.first_name == "Jean-Luc"
    assert "85073003328" not in repr(identity)
    assert "Peeters" not in repr(identity)


def test_identity_without_national_number_is_garbled() -> None:
    with pytest.raises(CardDataError, match="lacks"):
        parse_identity(build_identity_file([(0x01, b"591234567890")]))


def test_identity_with_control_characters_is_garbled() -> None:
    data = build_identity_file([(0x01, b"5912\x00"), (0x06, b"85073003328")])
    with pytest.raises(CardDataError):
        parse_identity(data)


# --- SELECT and READ BINARY ------------------------------------------------------


def test_select_and_read_exact_apdus() -> None:
    identity = sample_identity(first_names="Anaïs " + "y" * 200)  # two chunks
    t = scripted(b"\x90\x00", identity[:0xF8] + b"\x90\x00",
                 bytes([0x6C, len(identity) - 0xF8]), identity[0xF8:] + b"\x90\x00")
    assert read_identity(t).national_number == "85073003328"
    assert t.sent == [
        bytes.fromhex("00A4080C063F00DF014031"),
        bytes.fromhex("00B00000F8"),
        bytes.fromhex("00B000F8F8"),
        bytes.fromhex("00B000F8") + bytes([len(identity) - 0xF8]),
    ]


def test_read_stops_on_6b00_past_the_end() -> None:
    t = scripted(b"A" * 0xF8 + b"\x90\x00", b"\x6b\x00")
    assert read_binary_file(t) == b"A" * 0xF8


def test_read_returns_data_that_came_with_6282() -> None:
    t = scripted(b"ABC\x62\x82")
    assert read_binary_file(t) == b"ABC"


def test_read_with_repeated_6cxx_is_a_protocol_error() -> None:
    with pytest.raises(CardProtocolError):
        read_binary_file(scripted(b"\x6c\x10", b"\x6c\x08"))


@pytest.mark.parametrize("sw", [b"\x69\x82", b"\x6b\x00", b"\x67\x00"])
def test_read_unexpected_status_word(sw: bytes) -> None:
    with pytest.raises(CardProtocolError) as info:
        read_binary_file(scripted(sw))
    assert (info.value.sw1, info.value.sw2) == (sw[0], sw[1])


def test_endless_file_is_cut_off() -> None:
    def transmit(apdu: bytes) -> tuple[bytes, int, int]:
        return b"\x01" * apdu[4], 0x90, 0x00

    with pytest.raises(CardDataError):
        read_binary_file(transmit)


def test_select_on_a_card_without_the_file_is_not_supported() -> None:
    t = scripted(b"\x6a\x82", b"\x6a\x82")
    with pytest.raises(CardNotSupported):
        read_identity(t)
    assert t.sent[1] == bytes.fromhex("00A4040C0CA000000177496446696C6573")


def test_newer_applet_is_read_after_selecting_its_id_files_application() -> None:
    card = EidCard(needs_id_files_aid=True)
    assert read_identity(card_transmit(card)).national_number == "85073003328"
    assert card.id_files_selected


def test_emulated_eid_reads_through_both_end_of_file_styles() -> None:
    for answers_6c in (True, False):
        card = EidCard(wrong_le_answers_6c=answers_6c)
        assert read_identity(card_transmit(card)).first_name == "Anaïs"


@given(st.lists(st.binary(min_size=0, max_size=300), min_size=1, max_size=8))
@settings(max_examples=300, deadline=None)
def test_any_card_answers_only_raise_card_read_errors(answers: list[bytes]) -> None:
    """Whatever a broken card answers, only our CardReadError comes out."""
    queue = list(answers)

    def transmit(apdu: bytes) -> tuple[bytes, int, int]:
        raw = queue.pop(0) if queue else b"\x90\x00"
        if len(raw) < 2:
            raise CardProtocolError("response without status word")
        return raw[:-2], raw[-2], raw[-1]

    with contextlib.suppress(CardReadError):  # anything else fails the test
        read_identity(transmit)
