"""What every driver shares: its lifetime, and how `kiosk doctor` asks it whether it works.

Why a base: a driver is started once, closed once, and must say so plainly when used after
close (one `DeviceClosed` for every kind of device), and the doctor must ask each driver about
its own hardware (a PC/SC service, a serial port, a printer's address) through the driver,
which knows that hardware's errors, instead of repeating its options and its error names.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Self

from drivers.errors import DeviceClosed


@dataclass(frozen=True)
class Probe:
    """A driver's answer to "would you work here, with these options?": for the doctor."""

    ok: bool
    detail: str
    advice: str = ""


SIMULATED = Probe(True, "simulated (demo mode)")


class Device:
    """Lifetime of a driver: `start()`, `close()`, a context manager, `DeviceClosed` after."""

    label: ClassVar[str] = "device"  # how messages name it: "card reader", "scanner" ...
    _closed: bool = False

    def _ensure_open(self) -> None:
        if self._closed:
            raise DeviceClosed(f"{self.label}: used after close()")

    def start(self) -> None:
        self._ensure_open()

    def close(self) -> None:
        self._closed = True

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @classmethod
    def probe(cls, **options: Any) -> Probe:
        """Whether this driver would work here with `options` (a device table of the config,
        without `type`), without publishing anything. Simulated twins always would."""
        return SIMULATED


def probe_device_path(path: str, *, write: bool) -> Probe:
    """Whether a device node (serial port, input device, printer file) can be opened."""
    node = Path(path)
    if not path or not node.exists():
        return Probe(False, f"{path or '(no path)'} does not exist",
                     "plug the device in; check the udev rules (systemd/70-kiosk-devices.rules)")
    if not os.access(node, os.R_OK | (os.W_OK if write else 0)):
        return Probe(False, f"{path} exists but this user may not open it",
                     "add the kiosk user to the device's group (dialout, plugdev, input)")
    return Probe(True, f"{path} present and usable")
