"""The root of every error a driver raises, and the errors every driver shares.

Why one root: the kiosk and the technician console hold devices of every kind, and must tell
"this device failed" (shown as a device fault, the kiosk serves on) from a bug. Each driver's own
tree (`CardError`, `RfidError`, `ScannerError`, `GpioError`, `PrinterError`) hangs under
`DriverError`, so `except DriverError` is the one catch for any device, and nothing else leaves
a driver's public methods.
"""

from __future__ import annotations


class DriverError(Exception):
    """Root of every error raised by the drivers."""


class DeviceClosed(DriverError, RuntimeError):
    """A device was used (or started) after close()."""
