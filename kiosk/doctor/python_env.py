"""The kiosk's Python environment: that its packages are its own, and that a Pi has the
modules of the `[pi]` extra.

Why the first check: the distribution installs four top-level packages with short names
(`kiosk`, `drivers`, `central`, `domain`, the folders of the design). Installed into a venv of
their own from the lock file (scripts/install-pi.sh), nothing else in that venv provides those
names; installed beside other software, a package of the same name would silently replace
ours, file by file. The doctor names the other distribution instead of letting that happen
unseen. docs/development.md, "Why the packages keep their short names", says why we did not
move them under one namespace.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from importlib import metadata
from typing import Any

from kiosk.doctor.table import Level, Row

DISTRIBUTION = "library-kiosk"
OUR_PACKAGES = ("kiosk", "drivers", "central", "domain")

# module -> what a Pi kiosk needs it for (the `[pi]` extra in pyproject.toml)
PI_MODULES = {
    "kivy": "the touchscreen",
    "smartcard": "card readers (pyscard)",
    "lgpio": "GPIO on a Pi 5 (gpiozero's pin factory)",
    "evdev": "USB scanners that type",
    "usb": "USB receipt printers (pyusb)",
    "systemd": "log fields in the journal",
}


def _canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def package_owners_row(owners: dict[str, list[str]] | None = None) -> Row:
    """FAIL when any of our top-level packages is also provided by another distribution."""
    provided = owners if owners is not None else metadata.packages_distributions()
    clashes = {}
    for package in OUR_PACKAGES:
        others = sorted({d for d in provided.get(package, [])
                         if _canonical(d) != DISTRIBUTION})
        if others:
            clashes[package] = others
    if clashes:
        named = "; ".join(f"{p!r} also from {', '.join(d)}" for p, d in clashes.items())
        return Row("python packages", Level.FAIL, named,
                   "install the kiosk into a venv of its own (scripts/install-pi.sh)")
    return Row("python packages", Level.OK, f"{', '.join(OUR_PACKAGES)}: only {DISTRIBUTION}")


def pi_modules_row(on_a_pi: bool,
                   find: Callable[[str], Any] = importlib.util.find_spec) -> Row:
    """FAIL on a Pi (a warning elsewhere) for each module of the `[pi]` extra not installed."""
    missing = [f"{m} ({why})" for m, why in PI_MODULES.items() if find(m) is None]
    if not missing:
        return Row("pi modules", Level.OK, ", ".join(PI_MODULES))
    return Row("pi modules", Level.FAIL if on_a_pi else Level.WARN,
               f"missing: {'; '.join(missing)}",
               "pip install -r requirements/kiosk-pi.txt, then 'library-kiosk[pi]' "
               "(scripts/install-pi.sh does both)")
