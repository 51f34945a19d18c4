"""Fixtures for the staff tools: a demo kiosk (simulated devices) on the real reference
catalog, as `kiosk run` builds it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from staff_support import DemoKiosk, demo_settings

from kiosk import devices
from kiosk.app import Kiosk, build_kiosk
from kiosk.status import status_snapshot


@pytest.fixture
def demo_kiosk(library: Any, tmp_path: Path) -> Iterator[DemoKiosk]:
    settings = demo_settings(library.url, tmp_path)
    holder: dict[str, Kiosk] = {}
    kiosk = build_kiosk(settings, status=lambda: status_snapshot(holder["kiosk"]))
    holder["kiosk"] = kiosk
    devs = devices.build(settings, kiosk.events)
    kiosk.session._security = devs.security
    kiosk.session._print = devs.print_receipt
    kiosk.extras["devices"] = devs
    kiosk.subscribe(devs.on_view)
    kiosk.start()
    devs.start()
    yield DemoKiosk(kiosk, devs, settings)
    kiosk.close()
    devs.close()
