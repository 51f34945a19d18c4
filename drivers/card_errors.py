"""The card drivers' errors, apart from the readers so that `cards` and `eid` share them
without importing each other.

Error tree (PC/SC result codes and pyscard exceptions are translated in `drivers.cards`):

    DriverError (drivers.errors)     anything any driver raises
    ├── DeviceClosed (RuntimeError)  start() after close(), the same class for every driver
    └── CardError                    anything the card drivers raise
        ├── CardConfigError (ValueError) bad constructor arguments (uid_format, ...)
        ├── PcscNotInstalled (ImportError)  pyscard missing: `pip install pyscard`
        ├── ReaderUnavailable            no pcscd (0x8010001D), reader unplugged, no reader
        └── CardReadError                a card was seen but not read: ask again
            ├── CardRemovedDuringRead    pulled out, reset or unpowered mid-read
            ├── CardProtocolError        unexpected status word (kept in .sw1/.sw2)
            ├── CardNotSupported         neither a UID card nor a Belgian eID
            └── CardDataError (ValueError)  garbled or truncated card data
                └── InvalidNationalNumber   national number check digits wrong
"""

from __future__ import annotations

from drivers.errors import DriverError


class CardError(DriverError):
    """Root of every error raised by the card drivers."""


class CardConfigError(CardError, ValueError):
    """A constructor argument is invalid (caught at start-up, not at the first patron)."""


class PcscNotInstalled(CardError, ImportError):
    """pyscard is not installed; the PC/SC reader cannot run (use the simulated one)."""


class ReaderUnavailable(CardError):
    """No usable reader: pcscd not running, reader unplugged, or none matches the filter."""


class CardReadError(CardError):
    """A card was seen but could not be read; the patron should present it again."""


class CardRemovedDuringRead(CardReadError):
    """The card left the reader (or was reset) before we finished reading it."""


class CardProtocolError(CardReadError):
    """The card answered a status word we did not expect."""

    def __init__(self, step: str, sw1: int | None = None, sw2: int = 0) -> None:
        super().__init__(step if sw1 is None else f"{step}: status word {sw1:02X}{sw2:02X}")
        self.sw1 = sw1
        self.sw2 = sw2


class CardNotSupported(CardReadError):
    """The card is neither a UID (ISO 14443/MIFARE) card nor a Belgian eID."""


class CardDataError(CardReadError, ValueError):
    """Card data is garbled or truncated."""


class InvalidNationalNumber(CardDataError):
    """A national register number whose check digits do not match."""
