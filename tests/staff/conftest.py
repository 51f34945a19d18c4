"""Fixtures for the staff tools: a demo kiosk (simulated devices) on the real reference
catalog, as `kiosk run` builds it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from staff_support import RunningKiosk, demo_settings


@pytest.fixture
def demo_kiosk(library: Any, tmp_path: Path) -> Iterator[RunningKiosk]:
    running = RunningKiosk(demo_settings(library.url, tmp_path))
    yield running
    running.close()
