"""What the kiosk learns from each patron visit, for the library (domain/visits.py).

Why it lives beside the session and not in it: the session decides what a patron sees; the
recorder only watches. The session tells it a few facts at the points where they happen (a new
screen, how the patron identified, an item's answer, a receipt choice, the end), and the
recorder turns them into one anonymous `Visit` when the visit is over. Nothing of a patron
enters it: the credential's kind but never its value, an item's answer but never the item.

Why a writer thread: recording must never delay a screen, and one more SQLite commit per visit
on the event thread would (a commit on an SD card takes milliseconds). The writer takes
finished visits off a queue and commits them in batches; a kiosk killed in those milliseconds
loses that visit's record, never a loan. From the journal the sync worker forwards them exactly
once (`SyncWorker`: the central service keeps one row per visit id and says which it has).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from domain.model import CredentialKind, ReasonCode, TransactionKind
from domain.visits import MAX_SECONDS, Journey, Visit, new_visit_id, quarter_hour
from kiosk.backends.base import BackendError, EndpointMissing
from kiosk.journal import Journal, JournalError

log = logging.getLogger(__name__)

_JOURNEY_SCREENS = {"borrow": "borrow", "return": "return", "account": "account"}
_JOURNEY_OF_KIND = {TransactionKind.CHECKOUT: "borrow", TransactionKind.CHECKIN: "return",
                    TransactionKind.RENEW: "renew"}


@dataclass
class _Open:
    """The visit being watched."""

    visit_id: str
    started: str
    began: float
    screen: str
    since: float
    journeys: list[Journey] = field(default_factory=list)
    steps: dict[str, float] = field(default_factory=dict)
    refusals: dict[str, int] = field(default_factory=dict)
    identified_by: str = "none"
    pin: bool = False
    offline: bool = False
    receipt: str = ""
    feedback_asked: bool = False
    feedback: int | None = None
    feedback_reason: str = ""
    ending: str = ""
    faulted: bool = False
    current: str | None = None  # the journey whose screen is showing
    variants: dict[str, str] = field(default_factory=dict)  # experiment -> variant


class VisitRecorder:
    """Told by the session, on its event thread; hands each finished visit to `sink`."""

    def __init__(self, sink: Callable[[Visit], None], *, clock: Callable[[], float],
                 wall_clock: Callable[[], datetime]) -> None:
        self._sink = sink
        self._clock = clock
        self._wall_clock = wall_clock
        self._open: _Open | None = None
        self._access: set[str] = set()  # chosen before the visit began count for it
        self._variants: dict[str, str] = {}  # drawn for the visit to come (experiments)

    @property
    def in_visit(self) -> bool:
        return self._open is not None

    def screen(self, screen: str, *, offline: bool) -> None:
        """The screen the patron sees now (called after every change): a visit begins when
        the kiosk leaves the idle screen; time is counted per screen."""
        if self._open is None and screen == "idle":
            return
        visit = self._visit()
        visit.offline |= offline
        if screen == visit.screen:
            return
        now = self._clock()
        visit.steps[visit.screen] = visit.steps.get(visit.screen, 0.0) + now - visit.since
        kind = _JOURNEY_SCREENS.get(screen)
        if kind is not None and kind != visit.current:
            visit.journeys.append(Journey(kind))
        visit.current = kind
        visit.screen, visit.since = screen, now

    def _visit(self) -> _Open:
        """The visit under way; the first fact of a new one begins it (a card on the idle
        screen is told before the screen changes)."""
        if self._open is None:
            now = self._clock()
            self._open = _Open(new_visit_id(), quarter_hour(self._wall_clock()), now, "idle",
                               now, variants=dict(self._variants))
        return self._open

    def identified(self, kind: CredentialKind, *, pin: bool, offline: bool) -> None:
        visit = self._visit()
        visit.identified_by, visit.pin = kind.value, pin
        visit.offline |= offline

    def refused(self, reason: ReasonCode | None) -> None:
        """A refusal the patron was shown (identification, an item, a renewal)."""
        if reason is not None and reason is not ReasonCode.OK:
            visit = self._visit()
            visit.refusals[reason.value] = visit.refusals.get(reason.value, 0) + 1

    def item(self, kind: TransactionKind, *, ok: bool, reason: ReasonCode | None,
             offline: bool) -> None:
        """One item's answer (a loan, a return, a renewal, or a tag refused at the pad)."""
        name = _JOURNEY_OF_KIND.get(kind)
        if name is None:
            return
        visit = self._visit()
        at = next((n for n in range(len(visit.journeys) - 1, -1, -1)
                   if visit.journeys[n].kind == name), None)
        if at is None or (name != "renew" and visit.current != name):
            visit.journeys.append(Journey(name))
            at = len(visit.journeys) - 1
            if name != "renew":
                visit.current = name
        journey = visit.journeys[at]
        visit.journeys[at] = Journey(name, journey.items + 1, journey.ok + ok)
        visit.offline |= offline
        if not ok:
            self.refused(reason or ReasonCode.REFUSED)

    def assigned(self, variants: dict[str, str]) -> None:
        """The experiments' variants of the visit to come: experiment -> variant."""
        self._variants = dict(variants)
        if self._open is not None and not self._open.variants:
            self._open.variants = dict(variants)

    def access(self, mode: str) -> None:
        """An accessibility aid the patron turned on (large text, speech, the keypad ...)."""
        self._access.add(mode)

    def receipt(self, choice: str) -> None:
        if self._open is not None:
            self._open.receipt = choice

    def feedback(self, score: int | None = None, reason: str = "", *,
                 asked: bool = False) -> None:
        if self._open is not None:
            self._open.feedback_asked |= asked
            if score is not None:
                self._open.feedback = score
            if reason:
                self._open.feedback_reason = reason

    def ending(self, how: str) -> None:
        """How the visit is ending (done, timeout, refused); the first word given stands."""
        if self._open is not None and not self._open.ending:
            self._open.ending = how

    def fault(self) -> None:
        if self._open is not None:
            self._open.faulted = True

    def finish(self, language: str) -> None:
        """The patron is gone: the visit's record goes to the sink (never raises)."""
        visit, self._open = self._open, None
        access, self._access = self._access, set()
        if visit is None:
            return
        try:
            self._sink(self._record(visit, language, access))
        except Exception:  # insights must never cost the patron anything
            log.exception("could not record a visit")

    def _record(self, visit: _Open, language: str, access: set[str]) -> Visit:
        now = self._clock()
        visit.steps[visit.screen] = visit.steps.get(visit.screen, 0.0) + now - visit.since
        ending = visit.ending or ("error" if visit.faulted else "abandoned")
        if ending in ("abandoned", "timeout") and visit.faulted:
            ending = "error"
        return Visit(
            visit_id=visit.visit_id, started=visit.started, ended=ending,
            last_screen=visit.screen, seconds=_seconds(now - visit.began),
            identified_by=visit.identified_by, pin=visit.pin, language=language,
            offline=visit.offline, journeys=tuple(visit.journeys),
            steps={s: _seconds(t) for s, t in visit.steps.items() if s != "idle"},
            refusals=dict(visit.refusals), access=tuple(sorted(access)),
            receipt=visit.receipt, feedback_asked=visit.feedback_asked,
            feedback=visit.feedback,
            feedback_reason=visit.feedback_reason if visit.feedback is not None else "",
            variants=dict(visit.variants),
        )


def _seconds(value: float) -> int:
    return max(0, min(MAX_SECONDS, round(value)))


class VisitWriter:
    """Finished visits onto the journal, off the event thread, in batches.

    It waits `linger_s` after a visit before committing, for the next ones: one commit per
    quiet moment instead of one per visit, so a busy kiosk's loans do not queue behind insight
    writes for the disk (a kill in that window loses those visits' records, never a loan)."""

    def __init__(self, journal: Journal, *, linger_s: float = 3.0,
                 on_written: Callable[[], None] | None = None) -> None:
        self._journal = journal
        self._linger_s = linger_s
        self._on_written = on_written  # the sync worker forwards them without waiting a round
        self._queue: queue.SimpleQueue[Visit | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="visit-writer", daemon=True)
        self._thread.start()

    def put(self, visit: Visit) -> None:
        self._queue.put(visit)

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued, then stop."""
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            batch = [] if first is None else [first]
            stop = first is None
            written_by = time.monotonic() + 10 * self._linger_s  # a busy day still commits
            while not stop:
                try:
                    more = self._queue.get(timeout=max(0.0, min(
                        self._linger_s, written_by - time.monotonic())))
                except queue.Empty:
                    break
                stop = more is None
                if more is not None:
                    batch.append(more)
            try:
                if batch and self._journal.record_visits(
                        [(v.visit_id, v.to_json()) for v in batch]) and self._on_written:
                    self._on_written()
            except Exception:  # e.g. the journal closed under it at shutdown
                log.exception("could not write %d visit record(s)", len(batch))
            if stop:
                return


@runtime_checkable
class VisitUplink(Protocol):
    """A central side that takes visit records (the REST backend; a SIP2 library system
    does not). Raises only the backend seam's errors."""

    def send_visits(self, records: Sequence[str]) -> list[str]: ...


class VisitForwarder:
    """Journaled visits to the central side, exactly once: a visit leaves the journal only
    once the service says it has it, and the service keeps one row per visit id, so a batch
    sent again after a lost answer (or a kill) counts once there."""

    def __init__(self, journal: Journal, uplink: VisitUplink, *, batch: int = 200) -> None:
        self._journal = journal
        self._uplink = uplink
        self._batch = batch
        self._missing = False  # the service is older than visit records: try again later

    def forward(self, max_batches: int = 5) -> int:
        """Send what is queued (called by the sync worker while online); returns how many
        visits the service settled. Failures wait for the next round."""
        settled = 0
        for _ in range(max_batches):
            rows = self._journal.visits_to_send(self._batch)
            if not rows:
                break
            try:
                answered = self._uplink.send_visits([record for _, record in rows])
            except EndpointMissing:
                if not self._missing:
                    log.warning("the central service takes no visit records (an older "
                                "version): they stay on the kiosk")
                self._missing = True
                break
            except BackendError as exc:
                log.info("visit records not sent yet: %s", exc)
                break
            self._missing = False
            sent = {visit_id for visit_id, _ in rows}
            done = [v for v in answered if v in sent]  # never forget what was not sent
            try:
                self._journal.visits_sent(done)
            except JournalError as exc:
                log.warning("could not forget sent visit records yet: %s", exc)
                break
            settled += len(done)
            if len(done) < len(rows):
                break
        return settled
