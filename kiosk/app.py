"""Composition root: the one place that turns settings into a running kiosk.

Everything else receives its collaborators as arguments (backend, journal, clock, devices), so
tests and the demo build the same objects with other parts. The event thread here is the only
caller of `Session.handle`: devices and the UI put events on one queue, nothing polls hardware.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from drivers.events import CardRemoved, DeviceState, SensorChanged
from kiosk.backends.base import CatalogBackend
from kiosk.circulation import CirculationService, Connectivity
from kiosk.config import Settings
from kiosk.journal import Journal
from kiosk.session import (
    ConnectivityChanged,
    Session,
    SessionSettings,
    SessionView,
    SetLanguage,
    StillHere,
)
from kiosk.sync import Backoff, SyncWorker

log = logging.getLogger(__name__)

# events answered without the backend: no busy indicator flicker for these
_INSTANT = (ConnectivityChanged, DeviceState, CardRemoved, SensorChanged, StillHere, SetLanguage)


def build_backend(settings: Settings) -> CatalogBackend:
    """The configured central-side protocol; imported lazily so each stays optional."""
    if settings.backend.type == "sip2":
        from kiosk.backends.sip2 import Sip2Backend, Sip2Settings

        return Sip2Backend(Sip2Settings.from_mapping(settings.sip2))
    from kiosk.backends.rest import RestBackend

    b = settings.backend
    return RestBackend(b.url, settings.api_token, kiosk_id=settings.kiosk.id,
                       timeout=(b.connect_timeout_s, b.timeout_s), verify=b.verify_tls)


def session_settings(settings: Settings) -> SessionSettings:
    s = settings.session
    return SessionSettings(
        timeout_s=s.timeout_s, warning_s=s.warning_s, goodbye_s=s.goodbye_s,
        default_language=settings.kiosk.language, languages=tuple(settings.kiosk.languages),
        auto_print_on_timeout=s.auto_print_on_timeout, require_pin=s.require_pin,
        library_isils=tuple(settings.library.isils),
        card_barcode_prefixes=tuple(settings.library.card_barcode_prefixes),
    )


@dataclass
class Kiosk:
    """A running kiosk core: journal, backend, circulation, sync and the session's event thread."""

    settings: Settings
    journal: Journal
    backend: CatalogBackend
    connectivity: Connectivity
    circulation: CirculationService
    sync: SyncWorker
    session: Session
    events: queue.Queue[object]
    listeners: list[Callable[[SessionView], None]] = field(default_factory=list)
    # each filter sees every event first; True means "mine, not the session's" (e.g. the
    # technician console takes cards and tags while it is open)
    event_filters: list[Callable[[object], bool]] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)
    last_loop_at: float = 0.0  # monotonic time the event thread last went round (watchdog)
    _thread: threading.Thread | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    def subscribe(self, listener: Callable[[SessionView], None]) -> None:
        """Called (on the event thread) with every new view; the UI hops to its own thread."""
        self.listeners.append(listener)
        listener(self.session.view)

    def put(self, event: object) -> None:
        self.events.put(event)

    def start(self) -> None:
        self.sync.start()
        self._thread = threading.Thread(target=self._run, name="session", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.last_loop_at = time.monotonic()
            try:
                event = self.events.get(timeout=0.25)
            except queue.Empty:
                self.session.tick()
                continue
            if any(taken(event) for taken in list(self.event_filters)):
                self.events.task_done()
                continue
            slow = not isinstance(event, _INSTANT)
            try:
                if slow:  # a spinner in the next frame, even if the backend takes seconds
                    self.session.set_busy(True)
                self.session.handle(event)
                self.session.tick()
                if self.journal.pending_count():
                    self.sync.wake()
            finally:
                if slow:
                    self.session.set_busy(False)
                self.events.task_done()

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Block until every queued event has been handled (tests and the scripted demo)."""
        deadline = time.monotonic() + timeout
        while self.events.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.002)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self.sync.stop()
        self.backend.close()
        self.journal.close()


def build_kiosk(
    settings: Settings,
    *,
    backend: CatalogBackend | None = None,
    security: Callable[[str, bool], bool] | None = None,
    print_receipt: Callable[..., None] | None = None,
    status: Callable[[], Mapping[str, object]] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Kiosk:
    journal = Journal(
        settings.journal_path,
        retention=timedelta(seconds=settings.journal.retention_s),
        min_free_bytes=int(settings.journal.min_free_mb * 1024 * 1024),
        reserve_bytes=int(settings.journal.reserve_mb * 1024 * 1024),
        conflict_max_age=timedelta(days=settings.journal.conflict_max_days),
    )
    journal.recover_inflight()
    backend = backend if backend is not None else build_backend(settings)
    events: queue.Queue[object] = queue.Queue()
    connectivity = Connectivity(recheck_s=settings.sync.recheck_s,
                                on_change=lambda online: events.put(ConnectivityChanged(online)))
    sync = SyncWorker(journal, backend, connectivity=connectivity,
                      batch_size=settings.sync.batch_size, heartbeat_s=settings.sync.heartbeat_s,
                      backoff=Backoff(settings.sync.backoff_base_s, settings.sync.backoff_max_s),
                      status=status, poison_after=settings.sync.poison_after,
                      patron_cache_max_age=timedelta(days=settings.offline.cache_days))
    circulation = CirculationService(backend, journal, policy=settings.offline,
                                     connectivity=connectivity, kiosk_id=settings.kiosk.id,
                                     flush=sync.flush,
                                     patron_wait_s=settings.session.patron_wait_s)
    kiosk: Kiosk
    session = Session(
        circulation, clock=clock, settings=session_settings(settings),
        on_change=lambda view: [listener(view) for listener in kiosk.listeners],
        security=security, print_receipt=print_receipt,
    )
    kiosk = Kiosk(settings=settings, journal=journal, backend=backend, connectivity=connectivity,
                  circulation=circulation, sync=sync, session=session, events=events)
    if journal.moved_aside is not None:
        log.error("started on a fresh journal; the damaged one is at %s", journal.moved_aside)
    return kiosk
