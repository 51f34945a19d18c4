"""`kiosk run`: the kiosk from its settings, the status endpoint, the watchdog, and the screen.

Start order matters for the promises we make: `build_kiosk` recovers interrupted transactions
before any device can produce an event, and systemd hears READY only once the kiosk can serve.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time

from domain import logs
from kiosk.app import Kiosk, build_kiosk
from kiosk.config import Settings
from kiosk.devices import DeviceConfigError
from kiosk.profile import ProfileKeeper
from kiosk.session import Screen
from kiosk.status import StatusServer, start_status_server
from kiosk.watchdog import Watchdog

log = logging.getLogger(__name__)


def _status_server(kiosk: Kiosk) -> StatusServer | None:
    try:
        return start_status_server(kiosk)
    except Exception as exc:  # a bad [status] section must not keep patrons away
        log.error("status endpoint not started: %s", exc)
        return None


def _stop_on_sigterm(stop: threading.Event) -> None:
    """systemd stops us with SIGTERM. The handler only raises a flag: it runs between any two
    bytecodes of the main thread, and stopping Kivy from there (mid-frame, mid-layout) left a
    half-closed window for the rest of that frame to trip over. The loop that owns the screen
    looks at the flag on its own clock (see `_run_screen`)."""

    def on_sigterm(*_: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_sigterm)


def _follow_the_profile(kiosk: Kiosk, profiles: ProfileKeeper, stop: threading.Event) -> None:
    """Confirm the profile this start tried once the kiosk has stayed up `[profile]
    confirm_after_s`; stop (systemd starts us again with the new one) when a new profile
    waits and no patron is at the kiosk."""
    confirm_after_s = kiosk.settings.profile.confirm_after_s

    # only a service manager starts us again (systemd's Type=notify sets NOTIFY_SOCKET); a
    # kiosk started by hand in a terminal keeps running and says what to do
    restarted = bool(os.environ.get("NOTIFY_SOCKET"))

    def follow() -> None:
        confirmed, told = False, False
        started = time.monotonic()
        while not stop.wait(1.0):
            if not confirmed and time.monotonic() - started >= confirm_after_s:
                profiles.confirm()
                confirmed = True
            view = kiosk.session.view
            if not (confirmed and profiles.restart_wanted and view.screen == Screen.IDLE
                    and not view.busy):
                continue
            if restarted:
                log.info("a new central profile waits and the kiosk is idle: restarting")
                stop.set()
            elif not told:
                log.warning("a new central profile waits: restart the kiosk to apply it")
                told = True

    threading.Thread(target=follow, name="profile", daemon=True).start()


def _run_screen(kiosk: Kiosk, watchdog: Watchdog, stop: threading.Event) -> None:
    from kiosk.speech import speaker_from
    from kiosk.technician.panel import unlock_hook
    from kiosk.ui import UiContext, run_ui, ui_config_from_settings

    def heartbeat() -> None:
        """Called by the UI's clock every second: feed systemd's watchdog, or end the loop
        once we were asked to stop (a signal that came before the window opened included)."""
        if not stop.is_set():
            watchdog.tick()
            return
        from kivy.app import App

        app = App.get_running_app()
        if app is not None:
            app.stop()

    kiosk.devices.beep_on_views = False  # the UI cues the buzzer, obeying the sound switch
    run_ui(UiContext(
        events=kiosk, subscribe=kiosk.subscribe,
        config=ui_config_from_settings(kiosk.settings), cue=kiosk.devices.cue,
        on_technician_pin=unlock_hook(kiosk.technician),
        heartbeat=heartbeat, speaker=speaker_from(kiosk.settings),
        keys=kiosk.subscribe_keys,
    ))


def run_kiosk(settings: Settings, *, headless: bool = False,
              profiles: ProfileKeeper | None = None) -> int:
    logs.configure(settings.logging.format, level=settings.logging.level, identifier="kiosk",
                   fields={"kiosk_id": settings.kiosk.id})
    try:
        kiosk = build_kiosk(settings, profiles=profiles)
    except DeviceConfigError as exc:
        print(f"kiosk: the devices could not be set up: {exc}")
        if profiles is not None:
            profiles.start_failed(str(exc))
        return 1
    except Exception as exc:  # a driver that cannot open its port, a journal we cannot create
        log.exception("the kiosk could not be built")
        print(f"kiosk: could not start: {exc}")
        if profiles is not None:
            profiles.start_failed(str(exc))
        return 1
    status_server = _status_server(kiosk)
    watchdog = Watchdog(kiosk)
    stop = threading.Event()
    _stop_on_sigterm(stop)
    try:
        kiosk.start()
        watchdog.ready()
        if profiles is not None:
            _follow_the_profile(kiosk, profiles, stop)
        if headless:
            while not stop.wait(1.0):
                watchdog.tick()
        else:
            _run_screen(kiosk, watchdog, stop)
    finally:
        watchdog.stopping()
        if status_server is not None:
            status_server.stop()
        kiosk.close()
    return 0
