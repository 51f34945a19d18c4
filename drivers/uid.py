"""Card UID formatting: the same card must give the identifier the library system stored.

Library systems register RFID/NFC patron cards by whatever their desk reader
typed, and desk readers disagree: some send the UID bytes as hex in the order
the card transmits them, some reverse the bytes (little-endian), some send the
bytes as one decimal number (often a 10-digit number for a 4-byte UID). The
kiosk must match the library's convention, so the format is configuration.

Formats (`uid_format`):
    hex               04A1B2C3    bytes as received, upper-case hex
    hex_reversed      C3B2A104    byte order reversed
    decimal           77705923    bytes as received, read as one big-endian integer
    decimal_reversed  3283263748  byte order reversed, then as an integer
    decimal10         0077705923  like decimal, zero-padded to at least 10 digits
    decimal10_reversed 3283263748 like decimal_reversed, zero-padded to 10 digits
"""

from __future__ import annotations

UID_FORMATS = (
    "hex",
    "hex_reversed",
    "decimal",
    "decimal_reversed",
    "decimal10",
    "decimal10_reversed",
)

MAX_UID_BYTES = 10  # ISO 14443-3 triple-size UID


class UnknownUidFormat(ValueError):
    """The configured `uid_format` is not one of `UID_FORMATS` (a configuration error)."""


def check_uid_format(uid_format: str) -> str:
    """Validate a configured format early, so a typo fails at start-up, not at the first card."""
    if uid_format not in UID_FORMATS:
        raise UnknownUidFormat(
            f"unknown uid_format {uid_format!r}; expected one of {', '.join(UID_FORMATS)}"
        )
    return uid_format


def format_uid(uid: bytes, uid_format: str = "hex") -> str:
    """Turn raw UID bytes into the identifier string the library system expects."""
    check_uid_format(uid_format)
    if not uid:
        raise ValueError("empty UID")
    ordered = uid[::-1] if uid_format.endswith("_reversed") else uid
    if uid_format.startswith("hex"):
        return ordered.hex().upper()
    number = str(int.from_bytes(ordered, "big"))
    if uid_format.startswith("decimal10"):
        return number.zfill(10)
    return number
