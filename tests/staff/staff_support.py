"""Helpers for the staff-tool tests: a demo kiosk (simulated devices) on the real reference
catalog, as `kiosk run` builds it."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from domain.demo_library import DEMO_KIOSK_ID, DEMO_TOKEN
from kiosk import config
from kiosk.app import Kiosk, build_kiosk
from kiosk.devices import Devices

PASSWORD = "correct horse battery"  # the staff member "alice" of the `service` fixture


@dataclasses.dataclass
class Service:
    """The seeded reference service with one staff member (the `service` fixture)."""

    url: str
    db_path: Path

ROOT = Path(__file__).resolve().parents[2]


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def demo_settings(url: str, data_dir: Path, *, feedback: bool = False,
                  **status: Any) -> config.Settings:
    """The demo kiosk's settings on `url`; "How did it go?" is off unless asked for (it keeps
    the goodbye screen up for an answer)."""
    settings = config.load(ROOT / "config/demo.toml")
    return dataclasses.replace(
        settings,
        insights=dataclasses.replace(settings.insights, feedback=feedback),
        backend=dataclasses.replace(settings.backend, url=url, token=DEMO_TOKEN,
                                    connect_timeout_s=0.5, timeout_s=1.5),
        kiosk=dataclasses.replace(settings.kiosk, data_dir=str(data_dir), id=DEMO_KIOSK_ID),
        library=dataclasses.replace(settings.library, isils=["NL-AmRBL"]),
        session=dataclasses.replace(settings.session, goodbye_s=0.2),
        sync=dataclasses.replace(settings.sync, heartbeat_s=30.0, backoff_base_s=0.05,
                                 backoff_max_s=0.2, recheck_s=0.2),
        status=dataclasses.replace(settings.status, listen="127.0.0.1:0", **status),
        api_token=DEMO_TOKEN,
    )


class RunningKiosk:
    """A demo kiosk built and started exactly as `kiosk run` builds it (`build_kiosk`): the
    simulated devices publish straight onto the kiosk's event queue."""

    def __init__(self, settings: config.Settings) -> None:
        self.settings = settings
        self.kiosk: Kiosk = build_kiosk(settings)
        self.kiosk.start()

    @property
    def devs(self) -> Devices:
        return self.kiosk.devices

    def close(self) -> None:
        self.kiosk.close()
