"""`kiosk run`: devices, the kiosk core, the status endpoint, the watchdog, and the screen.

Start order matters for the promises we make: the journal recovers interrupted transactions
before any device can produce an event, and systemd hears READY only once the kiosk can serve.
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

from kiosk import devices as devices_mod
from kiosk.app import Kiosk, build_kiosk
from kiosk.config import Settings

log = logging.getLogger(__name__)


def _optional(module: str, name: str) -> Any:
    """Staff-tool pieces (status endpoint, watchdog) are optional at run time."""
    try:
        imported = __import__(module, fromlist=[name])
    except ImportError as exc:
        log.warning("%s unavailable: %s", module, exc)
        return None
    return getattr(imported, name, None)


def run_kiosk(settings: Settings, *, headless: bool = False) -> int:
    kiosk: Kiosk | None = None
    status_snapshot = _optional("kiosk.status", "status_snapshot")
    holder: dict[str, Kiosk] = {}

    def status() -> dict[str, object]:
        return status_snapshot(holder["kiosk"]) if status_snapshot and holder else {}

    import queue

    sink: queue.Queue[object] = queue.Queue()
    try:
        devs = devices_mod.build(settings, sink)
    except Exception as exc:
        print(f"kiosk: the devices could not be set up: {exc}")
        return 1
    kiosk = build_kiosk(settings, security=devs.security, print_receipt=devs.print_receipt,
                        status=status)
    holder["kiosk"] = kiosk
    kiosk.extras["devices"] = devs
    # devices publish on their own queue; one pump moves events onto the kiosk's queue so
    # everything the session sees arrives in one order
    pump_stop = threading.Event()

    def pump() -> None:
        while not pump_stop.is_set():
            try:
                kiosk.put(sink.get(timeout=0.25))
            except queue.Empty:
                continue

    threading.Thread(target=pump, name="device-pump", daemon=True).start()
    kiosk.subscribe(devs.on_view)
    start_status = _optional("kiosk.status", "start_status_server")
    status_server = None
    if start_status is not None:
        try:
            status_server = start_status(kiosk, settings)
        except Exception as exc:  # a bad [status] section must not keep patrons away
            log.error("status endpoint not started: %s", exc)
    watchdog_cls = _optional("kiosk.watchdog", "Watchdog")
    watchdog = watchdog_cls(kiosk) if watchdog_cls else None
    stop = threading.Event()

    def on_sigterm(*_: object) -> None:
        """systemd stops us with SIGTERM: end the UI loop too, or we would be SIGKILLed."""
        stop.set()
        if not headless:
            from kivy.app import App

            app = App.get_running_app()
            if app is not None:
                app.stop()

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        kiosk.start()
        devs.start()
        if watchdog is not None:
            watchdog.ready()
        if headless:
            while not stop.wait(1.0):
                if watchdog is not None:
                    watchdog.tick()
        else:
            from kiosk.ui import UiContext, run_ui, ui_config_from_settings

            unlock = _optional("kiosk.ui.technician", "technician_unlock_hook")
            devs.beep_on_views = False  # the UI cues the buzzer, obeying the sound switch
            run_ui(UiContext(
                events=kiosk, subscribe=kiosk.subscribe,
                config=ui_config_from_settings(settings), cue=devs.cue,
                on_technician_pin=unlock(kiosk, settings) if unlock else None,
                heartbeat=watchdog.tick if watchdog is not None else None,
            ))
    finally:
        if watchdog is not None:
            watchdog.stopping()
        pump_stop.set()
        if status_server is not None:
            status_server.stop()
        # the event thread first: a view change after the lights closed would log a fault
        kiosk.close()
        devs.close()
    return 0
