"""`kiosk doctor [--config F] [--install]`: what is wrong with this kiosk, and what to do.

Why a table of rows: a technician in a branch library reads it top to bottom and fixes the
first red line. Each row is one check, its result, and the next step. The exit code is
non-zero when a check failed, so monitoring or an install script can use it; warnings (a
slow answer, a clock a few seconds off) keep the exit code at 0.

Checks, in the order one would debug: the config file, the journal's disk, the central side
(reachable, our credentials accepted, its clock against ours: due dates depend on it), then
each configured device. `--install` adds the Raspberry Pi install of docs/raspberry-pi.md:
the user, groups, units, udev and polkit rules, packages, screen settings. On a machine that
is not set up that way (a laptop, CI) it says what is missing, row by row.

Doctor never raises: whatever goes wrong inside a check becomes a failed row.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from typing import TextIO

from kiosk.appliance.layout import InstallLayout
from kiosk.doctor.checks import (
    check_backend,
    check_config,
    check_device,
    check_devices,
    check_journal,
    clock_row,
)
from kiosk.doctor.install import check_install
from kiosk.doctor.table import Level, Row, render, short, summary

__all__ = ["InstallLayout", "Level", "Row", "check_device", "check_devices", "check_install",
           "clock_row", "collect", "render", "run_doctor", "summary"]

log = logging.getLogger(__name__)


# ---- the command ------------------------------------------------------------------------------


def collect(config_path: str, *, install: bool = False,
            layout: InstallLayout | None = None) -> list[Row]:
    if layout is not None and not layout.is_live:
        # another root (an SD card, a test's folder): its config names paths of the kiosk it
        # will be, and no device or server of this machine says anything about it
        rows = [Row("root", Level.OK, f"{layout.root}: what is on its disk; config, backend "
                    "and devices are checked on the kiosk itself (kiosk doctor)")]
        return rows + _guarded("install", lambda: check_install(config_path, layout))
    settings, rows = check_config(config_path)
    if settings is not None:
        rows += _guarded("journal", lambda: check_journal(settings))
        rows += check_backend(settings)
        rows += check_devices(settings)
    else:
        rows.append(Row("backend, devices", Level.SKIP, "not checked: the config must be "
                        "fixed first"))
    if install:
        rows += _guarded("install", lambda: check_install(config_path, layout))
    return rows


def _guarded(name: str, check: Callable[[], list[Row]]) -> list[Row]:
    try:
        return check()
    except Exception as exc:  # doctor never raises
        log.debug("%s check failed", name, exc_info=True)
        return [Row(name, Level.FAIL, f"check failed: {short(exc)}", "see kiosk -v doctor")]


def run_doctor(config_path: str, *, install: bool = False, out: TextIO | None = None,
               layout: InstallLayout | None = None) -> int:
    """Print the table; 0 when nothing failed, 1 otherwise."""
    import sys

    stream = out or sys.stdout
    rows = collect(config_path, install=install, layout=layout)
    width = shutil.get_terminal_size((110, 24)).columns
    print(render(rows, width=max(90, width)), file=stream)
    print(file=stream)
    print(summary(rows), file=stream)
    return 1 if any(r.level is Level.FAIL for r in rows) else 0
