"""Composition root: the one place that turns settings into a running kiosk.

`build_kiosk` makes every part and every connection between them: the journal (recovered before
any device can speak), the devices from `[devices.*]`, publishing straight onto the kiosk's one
event queue, the backend behind a timing wrapper, circulation, sync, the session, and the
observers (metrics, lights and buzzer, the change heartbeat, the technician's recent log).
`kiosk run`, `kiosk demo`, the benches and the test harnesses differ only in what they pass it
(settings, a backend, a device builder, a clock); nothing else wires parts together.

The event thread here is the only caller of `Session.handle`: devices and the UI put events on
one queue, nothing polls hardware.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from domain.events import CardRemoved, DeviceState, EventSink, KeyPressed, SensorChanged
from kiosk import devices as device_bundle
from kiosk.backends.base import CatalogBackend
from kiosk.circulation import CirculationService
from kiosk.config import Settings
from kiosk.connectivity import Connectivity
from kiosk.devices import Devices
from kiosk.experiments import ExperimentBook
from kiosk.journal import Journal
from kiosk.messages import MessageBoard
from kiosk.metrics import KioskMetrics, TimedBackend
from kiosk.profile import ProfileKeeper
from kiosk.session import (
    ConnectivityChanged,
    Session,
    SessionSettings,
    SessionView,
    SetLanguage,
    StillHere,
)
from kiosk.session_io import AccessUsed, MessageShown, MoreTime, ServiceChanged
from kiosk.status import ChangeHeartbeat, RecentLog, status_snapshot
from kiosk.sync import Backoff, SyncWorker
from kiosk.technician.port import KioskPort
from kiosk.visits import VisitForwarder, VisitRecorder, VisitUplink, VisitWriter

if TYPE_CHECKING:
    from kiosk.receipt_mail import ReceiptMailer

log = logging.getLogger(__name__)

# builds the devices from the settings; they publish on the sink (the kiosk's event queue)
DeviceBuilder = Callable[[Settings, EventSink], Devices]

# events answered without the backend: no busy indicator flicker for these
_INSTANT = (ConnectivityChanged, DeviceState, CardRemoved, SensorChanged, StillHere, SetLanguage,
            MoreTime, AccessUsed, MessageShown, ServiceChanged)


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
        max_stack=s.max_stack,
        feedback=settings.insights.enabled and settings.insights.feedback,
        feedback_every=settings.insights.feedback_every,
    )


@dataclass
class Kiosk:
    """A running kiosk: devices, journal, backend, circulation, sync, the session's event
    thread and the observers. `backend` is the timed wrapper; the client is `backend.inner`."""

    settings: Settings
    journal: Journal
    backend: TimedBackend
    connectivity: Connectivity
    circulation: CirculationService
    sync: SyncWorker
    session: Session
    events: queue.Queue[object]
    devices: Devices
    metrics: KioskMetrics
    recent_log: RecentLog
    mailer: ReceiptMailer | None = None  # receipts by e-mail ([email] enabled)
    visits: VisitWriter | None = None  # anonymous visit records ([insights] enabled, REST)
    experiments: ExperimentBook | None = None  # what the service tries on this kiosk
    messages: MessageBoard | None = None  # the library's messages to patrons
    profiles: ProfileKeeper | None = None  # the central profile this kiosk runs with
    listeners: list[Callable[[SessionView], None]] = field(default_factory=list)
    # each filter sees every event first; True means "mine, not the session's" (e.g. the
    # technician console takes cards and tags while it is open)
    event_filters: list[Callable[[object], bool]] = field(default_factory=list)
    last_loop_at: float = 0.0  # monotonic time the event thread last went round (watchdog)
    _thread: threading.Thread | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    def subscribe(self, listener: Callable[[SessionView], None]) -> None:
        """Called (on the event thread) with every new view; the UI hops to its own thread."""
        self.listeners.append(listener)
        listener(self.session.view)

    def subscribe_keys(self, listener: Callable[[str], None]) -> None:
        """The patron's GPIO keys (`KeyPressed`) go to the screen's focus ring, not the
        session: `listener` gets each key's name on the event thread."""
        def take(event: object) -> bool:
            if isinstance(event, KeyPressed):
                listener(event.key)
                return True
            return False
        self.event_filters.append(take)

    @property
    def technician(self) -> KioskPort:
        """All technician mode may see and do of this kiosk (kiosk.technician.port)."""
        return KioskPort(self)

    def tell(self, view: SessionView) -> None:
        """The session's `on_change`: every listener sees the new view, in order."""
        for listener in self.listeners:
            listener(view)

    def put(self, event: object, block: bool = True, timeout: float | None = None) -> None:
        """The UI's and tests' way in: the same queue the devices publish on."""
        self.events.put(event, block, timeout)

    def start(self) -> None:
        """Serve: the event thread and the sync worker first, then the devices may speak."""
        self.sync.start()
        if self.mailer is not None:
            self.mailer.start()
        self._thread = threading.Thread(target=self._run, name="session", daemon=True)
        self._thread.start()
        self.devices.start()

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
        # the event thread first: a view change after the lights closed would log a fault
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self.devices.close()
        if self.mailer is not None:
            self.mailer.stop()
        if self.visits is not None:
            self.visits.close()  # what the last visits left, before the journal closes
        self.sync.stop()
        self.backend.close()
        self.journal.close()
        logging.getLogger().removeHandler(self.recent_log)


def open_journal(settings: Settings) -> Journal:
    """The journal, with interrupted transactions settled before anything else can run."""
    j = settings.journal
    journal = Journal(
        settings.journal_path,
        retention=timedelta(seconds=j.retention_s),
        min_free_bytes=int(j.min_free_mb * 1024 * 1024),
        reserve_bytes=int(j.reserve_mb * 1024 * 1024),
        conflict_max_age=timedelta(days=j.conflict_max_days),
    )
    journal.recover_inflight()
    if journal.moved_aside is not None:
        log.error("started on a fresh journal; the damaged one is at %s", journal.moved_aside)
    return journal


def build_mailer(settings: Settings, journal: Journal,
                 backend: CatalogBackend) -> ReceiptMailer | None:
    """Receipts by e-mail when `[email]` is enabled: queued in the journal, sent through the
    library's relay with the address the library holds."""
    if not settings.email.enabled:
        return None
    from kiosk.receipt_mail import ReceiptMailer, SmtpRelay  # smtplib, ssl: only when used

    return ReceiptMailer(journal, backend, SmtpRelay(settings.email),
                         sender=settings.email.from_address, library_name=settings.library.name)


def build_kiosk(
    settings: Settings,
    *,
    backend: CatalogBackend | None = None,
    devices: DeviceBuilder = device_bundle.build,
    clock: Callable[[], float] = time.monotonic,
    profiles: ProfileKeeper | None = None,
) -> Kiosk:
    """Everything a kiosk is, from its settings. Raises `DeviceConfigError` for a device table
    that cannot be opened (nothing is left open then)."""
    journal = open_journal(settings)
    events: queue.Queue[object] = queue.Queue()
    try:
        devs = devices(settings, events)
    except Exception:
        journal.close()
        raise
    metrics = KioskMetrics(devices=[name for name, table in settings.devices.items()
                                    if str(table.get("type", "none")) != "none"])
    client = backend if backend is not None else build_backend(settings)
    timed = TimedBackend(client, metrics)
    listening = _listening(settings, journal, client, clock,
                           on_board=lambda: events.put(ServiceChanged()),
                           on_visits=lambda: sync.wake())
    connectivity = Connectivity(recheck_s=settings.sync.recheck_s,
                                on_change=lambda online: events.put(ConnectivityChanged(online)))
    kiosk: Kiosk
    sync = SyncWorker(journal, timed, connectivity=connectivity,
                      batch_size=settings.sync.batch_size, heartbeat_s=settings.sync.heartbeat_s,
                      backoff=Backoff(settings.sync.backoff_base_s, settings.sync.backoff_max_s),
                      status=lambda: status_snapshot(kiosk),
                      poison_after=settings.sync.poison_after,
                      patron_cache_max_age=timedelta(days=settings.offline.cache_days),
                      visits=listening.forwarder, experiments=listening.book,
                      messages=listening.board, profiles=profiles)
    circulation = CirculationService(timed, journal, policy=settings.offline,
                                     connectivity=connectivity, kiosk_id=settings.kiosk.id,
                                     flush=sync.flush,
                                     patron_wait_s=settings.session.patron_wait_s,
                                     open_days=settings.library.open_days())
    mailer = build_mailer(settings, journal, timed)
    session = Session(
        circulation, clock=clock, settings=session_settings(settings),
        on_change=lambda view: kiosk.tell(view), security=devs.security,
        print_receipt=devs.print_receipt if devs.printer is not None else None,
        email_receipt=mailer.queue_receipt if mailer is not None else None,
        visits=listening.recorder,
        experiments=listening.book.draw if listening.book is not None else None,
        messages=listening.board,
    )
    recent_log = RecentLog()
    logging.getLogger().addHandler(recent_log)
    kiosk = Kiosk(settings=settings, journal=journal, backend=timed, connectivity=connectivity,
                  circulation=circulation, sync=sync, session=session, events=events,
                  devices=devs, metrics=metrics, recent_log=recent_log, mailer=mailer,
                  visits=listening.writer, experiments=listening.book,
                  messages=listening.board, profiles=profiles)
    for observer in (metrics.observe_view, ChangeHeartbeat(sync.wake), devs.on_view):
        kiosk.subscribe(observer)
    return kiosk


@dataclass(frozen=True)
class _Listening:
    """The parts that listen to patrons ([insights]); all None where visits cannot go."""

    writer: VisitWriter | None = None
    recorder: VisitRecorder | None = None
    forwarder: VisitForwarder | None = None
    book: ExperimentBook | None = None
    board: MessageBoard | None = None


def _listening(settings: Settings, journal: Journal, client: CatalogBackend,
               clock: Callable[[], float], *, on_board: Callable[[], None],
               on_visits: Callable[[], None]) -> _Listening:
    """Visits are recorded only where they can go (a central service that takes them), and
    experiments and messages to patrons come with that service's heartbeat (experiments'
    results are read from the visits)."""
    if not settings.insights.enabled or not isinstance(client, VisitUplink):
        return _Listening()
    writer = VisitWriter(journal, on_written=on_visits)
    return _Listening(writer, VisitRecorder(writer.put, clock=clock, wall_clock=_local_now),
                      VisitForwarder(journal, client), ExperimentBook(journal),
                      MessageBoard(journal, on_change=on_board))


def _local_now() -> datetime:
    return datetime.now().astimezone()
