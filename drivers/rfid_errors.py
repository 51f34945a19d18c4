"""The RFID seam's error tree, in its own module so the data model, the reader
protocols and the pad can all raise it without importing each other.

    RfidError                       root: catch this to catch every RFID failure
    ├── ReaderUnavailable           port missing, unplugged, silent (also ConnectionError)
    ├── ReaderProtocolError         reader answered garbage: bad frame, bad CRC, unknown
    │                               status (also ValueError)
    ├── TagReadError                the tag did not answer (left the pad, collision, ISO error)
    ├── TagWriteError               the tag refused or failed a write
    │   └── SecurityWriteFailed     AFI/EAS still wrong after the configured retries
    └── TagDataError                tag memory is not a valid ISO 28560 record (also ValueError)

Foreign exceptions (pyserial's SerialException, OSError, pyscard's errors) are
translated into these at the reader boundary; nothing else leaves a driver.
"""

from __future__ import annotations

from drivers.errors import DriverError


class RfidError(DriverError):
    """Root of every RFID failure."""


class ReaderUnavailable(RfidError, ConnectionError):
    """The reader cannot be reached: the kiosk should show 'use the desk'."""


class ReaderProtocolError(RfidError, ValueError):
    """The reader's reply made no sense (corrupt frame, CRC mismatch, odd status)."""


class TagReadError(RfidError):
    """A tag did not answer or answered with an ISO 15693 error."""


class TagWriteError(RfidError):
    """A tag refused or failed a write (locked block, weak field, tag removed)."""


class SecurityWriteFailed(TagWriteError):
    """The security state (AFI/EAS) could not be set and verified."""


class TagDataError(RfidError, ValueError):
    """Tag memory is not a valid ISO 28560 record (blank, CRC mismatch, bad fields)."""
