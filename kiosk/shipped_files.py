"""Files the kiosk ships beside its code: the example and demo configs, the systemd units,
udev/polkit rules and sysusers file, the kiosks' lock file and Debian package list.

They live in the repository's top-level `config/`, `systemd/` and `requirements/` (where a
technician looks for them); `kiosk/shipped/` holds symbolic links to those folders, which the
wheel build follows, so an installed kiosk finds the same files inside its package and a
checkout finds them in place. One lookup for both: nothing asks whether it runs from a checkout.
"""

from __future__ import annotations

from pathlib import Path

SHIPPED = Path(__file__).resolve().parent / "shipped"


def config_file(name: str) -> Path:
    """A config the kiosk ships, e.g. "demo.toml" or "kiosk.example.toml"."""
    return SHIPPED / "config" / name


def systemd_file(name: str) -> Path:
    """A unit or rule the kiosk ships, e.g. "kiosk.service" or "70-kiosk-devices.rules"."""
    return SHIPPED / "systemd" / name


def requirements_file(name: str) -> Path:
    """The kiosks' lock ("kiosk-pi.txt") or Debian package list ("debian-pi.txt")."""
    return SHIPPED / "requirements" / name
