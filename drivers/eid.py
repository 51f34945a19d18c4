"""Belgian eID: read the identity file, parse its TLV, check the national number.

Pure protocol code: it talks to the card through a `transmit` function (APDU
bytes in, response data + status word out) so it runs the same against pcscd,
an emulator, or a list of canned answers, and never imports pyscard.

The identity file is 3F00/DF01/4031. It is a flat list of fields:
one tag byte, a length made of bytes that are summed while they are 0xFF (so
300 is `FF 2D`), then the value (UTF-8 text, except a few binary fields).
Tags used here: 01 card number, 06 national register number, 07 surname,
08 first two given names. Nothing read from the card is ever logged.

Every failure is one of the `CardError` leaves from `drivers.cards`; garbled
data is `CardDataError`, which is also a `ValueError`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from drivers.card_errors import (
    CardDataError,
    CardNotSupported,
    CardProtocolError,
    InvalidNationalNumber,
)

logger = logging.getLogger(__name__)

# APDU pieces (ISO 7816-4).
IDENTITY_FILE_PATH = bytes.fromhex("3F00DF014031")
SELECT_BY_PATH_NO_FCI = bytes.fromhex("00A4080C")  # P1=08 path from MF, P2=0C no answer data
SELECT_BY_AID_NO_FCI = bytes.fromhex("00A4040C")
ID_FILES_AID = bytes.fromhex("A000000177496446696C6573")  # "...IdFiles" (eID applet 1.8)
READ_BINARY = bytes.fromhex("00B0")
# Ask for less than 256 per READ BINARY: T=0 readers and older eID applets
# handle it everywhere, and the identity file is only a few hundred bytes.
READ_CHUNK = 0xF8
MAX_IDENTITY_FILE = 4096  # a real one is < 1 KiB; more means garbage, stop reading

TAG_CARD_NUMBER = 0x01
TAG_NATIONAL_NUMBER = 0x06
TAG_SURNAME = 0x07
TAG_FIRST_NAMES = 0x08

Transmit = Callable[[bytes], tuple[bytes, int, int]]
"""Send one command APDU; return (response data, SW1, SW2)."""

_NOT_THIS_CARD = {(0x6A, 0x82), (0x6A, 0x86), (0x6D, 0x00), (0x6E, 0x00), (0x6A, 0x81)}


@dataclass(frozen=True, slots=True)
class EidIdentity:
    """The fields the kiosk needs from the identity file; repr hides them."""

    card_number: str
    national_number: str
    surname: str = ""
    first_names: str = ""

    @property
    def first_name(self) -> str:
        """The first given name, for a greeting ("Hello Anaïs")."""
        parts = self.first_names.split()
        return parts[0] if parts else ""

    def __repr__(self) -> str:
        return "EidIdentity(<masked>)"


def parse_tlv(data: bytes) -> dict[int, bytes]:
    """Split an eID file into {tag: value}; raise CardDataError on anything malformed.

    Trailing zero bytes are padding (cards pad files to their allocated size).
    """
    fields: dict[int, bytes] = {}
    i = 0
    n = len(data)
    while i < n:
        if fields and not any(data[i:]):
            break
        tag = data[i]
        i += 1
        length = 0
        while True:
            if i >= n:
                raise CardDataError("identity file truncated inside a length")
            b = data[i]
            i += 1
            length += b
            if b != 0xFF:
                break
        if i + length > n:
            raise CardDataError("identity file truncated inside a value")
        if tag in fields:
            raise CardDataError("identity file repeats a field")
        fields[tag] = data[i : i + length]
        i += length
    if not fields:
        raise CardDataError("identity file is empty")
    return fields


def _text(fields: dict[int, bytes], tag: int, *, required: bool) -> str:
    raw = fields.get(tag)
    if raw is None:
        if required:
            raise CardDataError(f"identity file lacks field {tag:#04x}")
        return ""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CardDataError(f"field {tag:#04x} is not UTF-8") from exc
    if not text.isprintable():
        raise CardDataError(f"field {tag:#04x} holds control characters")
    return text.strip()


def validate_national_number(number: str) -> str:
    """Check a Belgian national register number (YYMMDD SSS CC) and return it.

    CC = 97 - (first nine digits mod 97); for people born in 2000 or later the
    nine digits are prefixed with "2" before the modulo. The birth date part is
    not checked as a date: it is 00 when unknown, and "bis" numbers add 20/40
    to the month.
    """
    if len(number) != 11 or not number.isascii() or not number.isdigit():
        raise InvalidNationalNumber("national number must be 11 digits")
    body, check = number[:9], int(number[9:])
    if check in (97 - int(body) % 97, 97 - int("2" + body) % 97):
        return number
    raise InvalidNationalNumber("national number check digits do not match")


def parse_identity(data: bytes) -> EidIdentity:
    """Identity file bytes -> EidIdentity, validating what the kiosk relies on."""
    fields = parse_tlv(data)
    card_number = _text(fields, TAG_CARD_NUMBER, required=True)
    if not card_number or not card_number.isalnum():
        raise CardDataError("card number is not alphanumeric")
    national_number = validate_national_number(
        _text(fields, TAG_NATIONAL_NUMBER, required=True)
    )
    return EidIdentity(
        card_number=card_number,
        national_number=national_number,
        surname=_text(fields, TAG_SURNAME, required=False),
        first_names=_text(fields, TAG_FIRST_NAMES, required=False),
    )


def _select(transmit: Transmit, header: bytes, data: bytes) -> tuple[int, int]:
    _, sw1, sw2 = transmit(header + bytes([len(data)]) + data)
    return sw1, sw2


def _ok(sw: tuple[int, int]) -> bool:
    return sw == (0x90, 0x00) or sw[0] == 0x61


def select_identity_file(transmit: Transmit) -> None:
    """SELECT 3F00/DF01/4031 by path; CardNotSupported when the card has no such file.

    Cards with the newer eID applet (1.8) may only find the path once their
    "IdFiles" application is selected, so on "file not found" we select that
    application by AID and try the path once more.
    """
    sw = _select(transmit, SELECT_BY_PATH_NO_FCI, IDENTITY_FILE_PATH)
    if _ok(sw):
        return
    if sw in _NOT_THIS_CARD:
        if _ok(_select(transmit, SELECT_BY_AID_NO_FCI, ID_FILES_AID)):
            sw = _select(transmit, SELECT_BY_PATH_NO_FCI, IDENTITY_FILE_PATH)
            if _ok(sw):
                return
        if sw in _NOT_THIS_CARD:
            raise CardNotSupported("card has no eID identity file")
    raise CardProtocolError("SELECT identity file", *sw)


def read_binary_file(transmit: Transmit, *, chunk: int = READ_CHUNK) -> bytes:
    """READ BINARY the selected file to its end, whatever way the card signals the end.

    Cards say "end" in several ways: a short answer with 9000, 6282 (end reached
    before Le bytes), 6B00 (offset past the end), or 6Cxx ("ask again with Le=xx").
    """
    data = bytearray()
    le = chunk
    retried_6c = False
    while True:
        offset = len(data)
        if offset > MAX_IDENTITY_FILE:
            raise CardDataError("file longer than any identity file")
        apdu = READ_BINARY + offset.to_bytes(2, "big") + bytes([le & 0xFF])
        answer, sw1, sw2 = transmit(apdu)
        if sw1 == 0x6C:
            if retried_6c:
                raise CardProtocolError("READ BINARY (repeated 6Cxx)", sw1, sw2)
            retried_6c = True
            le = sw2 or 256
            continue
        told_remaining, retried_6c = retried_6c, False
        if (sw1, sw2) == (0x90, 0x00):
            if len(answer) > le:
                raise CardDataError("card answered more bytes than asked")
            data += answer
            # 6Cxx told us what was left, and a short answer means the end too
            if told_remaining or len(answer) < le or not answer:
                return bytes(data)
            le = chunk
            continue
        if (sw1, sw2) == (0x62, 0x82):
            return bytes(data + answer)
        if (sw1, sw2) == (0x6B, 0x00) and offset > 0:
            return bytes(data)
        raise CardProtocolError("READ BINARY", sw1, sw2)


def read_identity(transmit: Transmit) -> EidIdentity:
    """Select, read and parse the identity file of a Belgian eID."""
    select_identity_file(transmit)
    identity = parse_identity(read_binary_file(transmit))
    logger.debug("eID identity file read and validated")
    return identity
