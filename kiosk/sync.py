"""Forwarding the journal to the central side: in order, in batches, exactly once.

Exactly once rests on two things: each transaction carries its UUID, which the central side
uses as an idempotency key (a replay returns the first answer and changes nothing), and a row
leaves the journal only after the server's answer is committed locally. A crash anywhere
between means the batch is sent again, which is harmless. (SIP2 has no idempotency key: rows
sent before without an answer arrive flagged `maybe_applied`, and the SIP2 backend reads the
library's records back before sending such a row again. That can settle one row in doubt, not a
batch, so a backend may cap its batches with `replay_batch_limit` (SIP2: one row, each answer
journaled before the next is sent); see docs/architecture.md.)

Failures split in two kinds. "Later" (network, timeout, 5xx, 429, a malformed reply): the rows
stay pending and the worker backs off exponentially with jitter, honouring Retry-After.
"No" (the server says conflict or rejected): recorded with the server's reason for staff and
never retried blindly.

The worker also owns the online/offline state the UI shows: a heartbeat probes the central
side while the queue is empty, so the kiosk notices both an outage and the recovery.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from kiosk.backends.base import BackendUnavailable, CatalogBackend, Refused
from kiosk.circulation import Connectivity
from kiosk.journal import Journal, JournalError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Backoff:
    base_s: float = 1.0
    max_s: float = 300.0
    # the server's Retry-After wins over our own schedule, up to this (a bogus "1 week" must
    # not silence a kiosk)
    retry_after_max_s: float = 3600.0

    def delay(self, failures: int, retry_after: float | None, rng: random.Random) -> float:
        """Full-jitter exponential backoff, never shorter than the server's Retry-After."""
        ceiling = min(self.max_s, self.base_s * (2 ** min(failures, 20)))
        delay = rng.uniform(ceiling / 2, ceiling)
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.retry_after_max_s))
        return delay


@dataclass
class DrainReport:
    sent: int = 0
    done: int = 0
    conflicts: int = 0
    rejected: int = 0
    remaining: int = 0
    error: str = ""
    retry_in: float | None = None


class SyncWorker:
    def __init__(
        self,
        journal: Journal,
        backend: CatalogBackend,
        *,
        connectivity: Connectivity | None = None,
        batch_size: int = 100,
        backoff: Backoff | None = None,
        heartbeat_s: float = 30.0,
        status: Callable[[], Mapping[str, object]] | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self._journal = journal
        self._backend = backend
        self.connectivity = connectivity or Connectivity()
        limit = getattr(backend, "replay_batch_limit", None)  # see the module doc
        self._batch_size = min(batch_size, limit) if limit else batch_size
        self._backoff = backoff or Backoff()
        self._heartbeat_s = heartbeat_s
        self._status = status or (lambda: {})
        self._clock = clock
        self._rng = rng or random.Random()
        self._failures = 0
        self._next_attempt = 0.0
        self._next_heartbeat = 0.0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._draining = threading.Lock()
        self._thread: threading.Thread | None = None
        self.last_report = DrainReport()

    # ---- one pass -----------------------------------------------------------------------------

    def flush(self) -> bool:
        """Drain now, for circulation: True when nothing is left waiting.

        An online transaction must never overtake queued ones (an offline return of a book must
        reach the server before someone else borrows it online), so circulation flushes first.
        """
        self.drain()
        return self._journal.pending_count() == 0

    def drain(self, *, max_batches: int | None = None,
              progress: Callable[[DrainReport], None] | None = None) -> DrainReport:
        """Forward pending transactions until the queue is empty or the server cannot answer."""
        with self._draining:  # the background loop and circulation's flush take turns
            return self._drain(max_batches, progress)

    def _drain(self, max_batches: int | None,
               progress: Callable[[DrainReport], None] | None) -> DrainReport:
        report = DrainReport()
        batches = 0
        while max_batches is None or batches < max_batches:
            batch = self._journal.forwardable(self._batch_size)
            if not batch:
                break
            batches += 1
            ids = [tx.tx_id for tx in batch]
            try:
                self._journal.mark_sent(ids)
                results = self._backend.replay(batch)
            except BackendUnavailable as exc:
                self._fail(ids, exc, report)
                break
            except (Refused, JournalError) as exc:  # a whole-batch refusal is a server fault
                self._fail(ids, BackendUnavailable(str(exc)), report)
                break
            answered = {r.tx_id for r in results}
            missing = [t for t in ids if t not in answered]
            self._journal.record_results(results)
            if missing:  # a server that skips rows must not make us forget them
                self._journal.mark_failed(missing, "no answer for this transaction in the batch")
            report.sent += len(ids)
            for r in results:
                if r.status.value == "done":
                    report.done += 1
                elif r.status.value == "conflict":
                    report.conflicts += 1
                    log.warning("transaction %s needs staff: %s", r.tx_id[:8], r.detail)
                else:
                    report.rejected += 1
                    log.warning("transaction %s rejected: %s", r.tx_id[:8], r.detail)
            self._succeeded()
            if progress is not None:
                report.remaining = self._journal.pending_count()
                progress(report)
            if missing:
                break
        report.remaining = self._journal.pending_count()
        self.last_report = report
        return report

    def _fail(self, ids: list[str], exc: BackendUnavailable, report: DrainReport) -> None:
        self._journal.mark_failed(ids, str(exc))
        self._failures += 1
        delay = self._backoff.delay(self._failures, exc.retry_after, self._rng)
        self._next_attempt = self._clock() + delay
        report.error = str(exc)
        report.retry_in = delay
        self.connectivity.report(False, str(exc))
        log.info("sync paused for %.1f s after: %s", delay, exc)

    def _succeeded(self) -> None:
        self._failures = 0
        self._next_attempt = 0.0
        self.connectivity.report(True)

    def heartbeat(self) -> bool:
        """Probe the central side and report the kiosk's essentials; returns online or not."""
        try:
            self._backend.heartbeat(self._status())
        except (BackendUnavailable, Refused) as exc:
            self.connectivity.report(False, str(exc))
            return False
        self.connectivity.report(True)
        return True

    # ---- background loop ----------------------------------------------------------------------

    def step(self) -> float:
        """One round of the loop; returns how long to sleep before the next round."""
        now = self._clock()
        if self._journal.pending_count() and now >= self._next_attempt:
            report = self.drain()
            if report.retry_in is not None:
                return report.retry_in
        if now >= self._next_heartbeat:
            self._next_heartbeat = now + self._heartbeat_s
            if self.heartbeat() and self._journal.pending_count():
                self._next_attempt = 0.0  # back online: drain now, not after the backoff
                return 0.0
            if not self.connectivity.online:
                self._next_heartbeat = now + min(self._heartbeat_s, self._current_backoff())
        waiting = self._journal.pending_count()
        if self._journal.needs_scrub and not waiting:
            self._journal.scrub()
        wait_until = min(self._next_heartbeat, self._next_attempt if waiting else float("inf"))
        return max(0.05, wait_until - self._clock())

    def _current_backoff(self) -> float:
        return self._backoff.delay(max(self._failures, 1), None, self._rng)

    def wake(self, *, now: bool = False) -> None:
        """New work was journaled; with `now` (a technician's "sync now") skip the backoff too."""
        if now:
            self._next_attempt = 0.0
            self._next_heartbeat = 0.0
        self._wake.set()

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="sync", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                pause = self.step()
            except Exception:  # keep forwarding whatever one round did wrong
                log.exception("sync round failed")
                pause = 5.0
            self._wake.wait(pause)
            self._wake.clear()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
