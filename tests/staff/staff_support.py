"""Helpers for the staff-tool tests: a demo kiosk (simulated devices) on the real reference
catalog, as `kiosk run` builds it."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from central.seed import DEMO_KIOSK_ID, DEMO_TOKEN
from kiosk import config, devices
from kiosk.app import Kiosk, build_kiosk

ROOT = Path(__file__).resolve().parents[2]


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def demo_settings(url: str, data_dir: Path, **status: Any) -> config.Settings:
    settings = config.load(ROOT / "config/demo.toml")
    return dataclasses.replace(
        settings,
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


@dataclasses.dataclass
class DemoKiosk:
    kiosk: Kiosk
    devs: devices.Devices
    settings: config.Settings




class RunnerLikeKiosk:
    """A demo kiosk wired exactly as kiosk/runner.py wires it: devices publish on their own
    queue and a pump moves events through `Kiosk.put` (which technician mode taps)."""

    def __init__(self, settings: config.Settings) -> None:
        import queue
        import threading

        from kiosk.status import status_snapshot

        self.settings = settings
        self.sink: queue.Queue[object] = queue.Queue()
        self.devs = devices.build(settings, self.sink)
        holder: dict[str, Kiosk] = {}
        self.kiosk = build_kiosk(settings, security=self.devs.security,
                                 print_receipt=self.devs.print_receipt,
                                 status=lambda: status_snapshot(holder["kiosk"]))
        holder["kiosk"] = self.kiosk
        self.kiosk.extras["devices"] = self.devs
        self._stop = threading.Event()

        def pump() -> None:
            while not self._stop.is_set():
                try:
                    self.kiosk.put(self.sink.get(timeout=0.05))
                except queue.Empty:
                    continue

        self._pump = threading.Thread(target=pump, daemon=True)
        self._pump.start()
        self.kiosk.subscribe(self.devs.on_view)
        self.kiosk.start()
        self.devs.start()

    def close(self) -> None:
        self._stop.set()
        self._pump.join(2)
        self.devs.close()
        self.kiosk.close()
