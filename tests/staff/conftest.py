"""Fixtures for the staff tools: a demo kiosk (simulated devices) on the real reference
catalog, as `kiosk run` builds it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from staff_support import PASSWORD, RunningKiosk, Service, demo_settings

from central.db import Database
from central.staff import add_staff


@pytest.fixture
def demo_kiosk(library: Any, tmp_path: Path) -> Iterator[RunningKiosk]:
    running = RunningKiosk(demo_settings(library.url, tmp_path))
    yield running
    running.close()


@pytest.fixture
def service(library: Any) -> Service:
    """The seeded reference service (from tests/conftest.py) with one staff member."""
    with Database(library.db_path) as db:
        add_staff(db, "alice", PASSWORD)
    return Service(library.direct_url, library.db_path)
