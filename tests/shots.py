"""Where the tests write their screenshots.

Into docs/screenshots/ only on request (`make screenshots` sets KIOSK_SCREENSHOTS to it), so
`make test` leaves the tracked tree as it found it; otherwise into a folder under the system's
temporary directory, where a failing test's pictures can still be looked at."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def screenshot_dir() -> Path:
    chosen = os.environ.get("KIOSK_SCREENSHOTS")
    path = Path(chosen) if chosen else Path(tempfile.gettempdir()) / "kiosk-screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path
