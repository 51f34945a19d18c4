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

"The server is down" and "this row breaks the server" look alike from one failed request (a
SIP2 server's worker that dies on one message closes the connection; a REST service may answer
500 for one row). So after a failed batch the worker asks the server how it is (a heartbeat).
When it answers, the kiosk stays online; a batch of several rows is retried one row at a time
to find the one at fault, and a row that fails `poison_after` times in a row while the server
answers is quarantined for staff with the evidence, with the later rows for the same item (they
never overtake it); rows for other items go on in order.

The worker also keeps the journal tidy on a schedule (`maintain`): retention, the offline patron
cache, rows left in doubt by a failed call, and the disk reserve. And while online with no loan
waiting, it forwards the anonymous visit records (kiosk/visits.py) by the same rule: a record
leaves the journal once the central side says it has it.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta

from domain.model import Transaction, utcnow
from kiosk.backends.base import (
    AuthenticationFailed,
    BackendUnavailable,
    CatalogBackend,
    Refused,
    patron_waiting,
    unexpected,
)
from kiosk.connectivity import Connectivity
from kiosk.experiments import ExperimentBook
from kiosk.journal import Journal, JournalError
from kiosk.messages import MessageBoard
from kiosk.profile import ProfileKeeper
from kiosk.visits import VisitForwarder

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
    quarantined: int = 0
    error: str = ""
    retry_in: float | None = None


class SyncWorker:
    def __init__(
        self,
        journal: Journal,
        backend: CatalogBackend,
        *,
        connectivity: Connectivity,
        batch_size: int = 100,
        backoff: Backoff | None = None,
        heartbeat_s: float = 30.0,
        status: Callable[[], Mapping[str, object]] | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        poison_after: int = 5,
        maintain_s: float = 60.0,
        patron_cache_max_age: timedelta = timedelta(days=14),
        visits: VisitForwarder | None = None,
        experiments: ExperimentBook | None = None,
        messages: MessageBoard | None = None,
        profiles: ProfileKeeper | None = None,
    ) -> None:
        self._journal = journal
        self._visits = visits
        self._experiments = experiments
        self._messages = messages
        self._profiles = profiles
        self._backend = backend
        self.connectivity = connectivity
        limit = backend.replay_batch_limit  # see the module doc
        self._batch_size = min(batch_size, limit) if limit else batch_size
        self._poison_after = max(1, poison_after)
        self._suspect: tuple[str, int] = ("", 0)  # head row failing while the server answers
        self._isolating = False  # a batch broke the server: one row at a time to find which
        self._maintain_s = maintain_s
        self._next_maintenance = 0.0
        self._patron_cache_max_age = patron_cache_max_age
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
        # this kiosk's clock minus the central side's, from the last heartbeat (None: unknown)
        self.clock_skew_s: float | None = None

    # ---- one pass -----------------------------------------------------------------------------

    def flush(self) -> bool:
        """Drain now, for circulation: True when nothing is left waiting.

        An online transaction must never overtake queued ones (an offline return of a book must
        reach the server before someone else borrows it online), so circulation flushes first.
        A row known to break the server is not sent again on a patron's time while it backs off.
        """
        if self._suspect[1] and self._clock() < self._next_attempt:
            return self._journal.pending_count() == 0
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
            try:
                if not self._one_batch(report):
                    break
            except JournalError as exc:  # the disk, not the network: stay online, try later
                log.error("sync paused, the journal cannot record answers: %s", exc)
                report.error = str(exc)
                break
            batches += 1
            if progress is not None:
                report.remaining = self._journal.pending_count()
                progress(report)
        report.remaining = self._journal.pending_count()
        self.last_report = report
        return report

    def _one_batch(self, report: DrainReport) -> bool:
        """Send one batch and record its answers; False when the drain should stop."""
        batch = self._journal.forwardable(1 if self._isolating else self._batch_size)
        if not batch:
            self._isolating = False
            return False
        ids = [tx.tx_id for tx in batch]
        self._journal.mark_sent(ids)
        try:
            results = self._backend.replay(batch)
        except BackendUnavailable as exc:
            return self._failed(batch, exc, report)
        except Refused as exc:  # a whole-batch refusal is a server fault
            return self._failed(batch, BackendUnavailable(str(exc)), report)
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
                log.warning("transaction %s needs staff: %s", r.tx_id[:8], r.detail,
                            extra={"event": "conflict", "txn_id": r.tx_id})
            else:
                report.rejected += 1
                log.warning("transaction %s rejected: %s", r.tx_id[:8], r.detail,
                            extra={"event": "rejected", "txn_id": r.tx_id})
        if results and results[0].tx_id == self._suspect[0]:
            self._suspect = ("", 0)
        self._succeeded()
        return not missing

    def _failed(self, batch: list[Transaction], exc: BackendUnavailable,
                report: DrainReport) -> bool:
        """A batch got no answer: is the server down, or does this batch break it?"""
        with contextlib.suppress(JournalError):  # still `sent`: forwardable all the same
            self._journal.mark_failed([tx.tx_id for tx in batch], str(exc), reached=exc.reached)
        report.error = str(exc)
        if isinstance(exc, AuthenticationFailed) or not self._server_answers():
            self._fail(exc, report)
            return False
        self.connectivity.report(True)
        if len(batch) > 1:
            log.warning("sync: the server answers but failed on a batch of %d; sending one row "
                        "at a time to find the one at fault (%s)", len(batch), exc)
            self._isolating = True
            return True
        if patron_waiting():  # a patron's flush counts no strikes; the background does
            return False
        head = batch[0].tx_id
        strikes = self._suspect[1] + 1 if self._suspect[0] == head else 1
        if strikes >= self._poison_after:
            self._suspect = ("", 0)
            evidence = (f"quarantined: the server failed on this transaction {strikes} times in a "
                        f"row while it answered other requests; it may or may not have been "
                        f"applied; last error: {exc}")
            report.quarantined += len(self._journal.quarantine(head, evidence))
            self._isolating = False
            return True
        self._suspect = (head, strikes)
        delay = self._backoff.delay(strikes, exc.retry_after, self._rng)
        self._next_attempt = self._clock() + delay
        report.retry_in = delay
        log.warning("sync: transaction %s failed %d time(s) while the server answers; next try "
                    "in %.1f s (%s)", head[:8], strikes, delay, exc)
        return False

    def _server_answers(self) -> bool:
        try:
            self._backend.heartbeat(self._status())
        except (BackendUnavailable, Refused):
            return False
        return True

    def _fail(self, exc: BackendUnavailable, report: DrainReport) -> None:
        self._failures += 1
        delay = self._backoff.delay(self._failures, exc.retry_after, self._rng)
        self._next_attempt = self._clock() + delay
        report.retry_in = delay
        self.connectivity.report(False, str(exc))
        log.info("sync paused for %.1f s after: %s", delay, exc)

    def _succeeded(self) -> None:
        self._failures = 0
        self._next_attempt = 0.0
        self.connectivity.report(True)

    # ---- keeping the journal tidy ---------------------------------------------------------------

    def maintain(self) -> None:
        """Retention, the offline patron cache, rows left in doubt, the disk reserve: each on its
        own, so one failing (a full disk) does not stop the others."""
        jobs: tuple[tuple[str, Callable[[], object]], ...] = (
            ("settle rows left in doubt", self._journal.void_orphans),
            ("purge synced transactions", self._journal.purge),
            ("forget stale offline patrons",
             lambda: self._journal.forget_stale_patrons(self._patron_cache_max_age)),
            ("keep the disk reserve", self._journal.keep_reserve),
        )
        for what, job in jobs:
            try:
                job()
            except JournalError as exc:
                log.warning("journal upkeep (%s) postponed: %s", what, exc)
            except Exception as exc:
                unexpected(f"journal upkeep ({what})", exc)
        self._next_maintenance = self._clock() + self._maintain_s

    def heartbeat(self) -> bool:
        """Probe the central side and report the kiosk's essentials; returns online or not."""
        status = dict(self._status())
        shows = self._messages.take_counts() if self._messages is not None else {}
        if shows:
            status["message_shows"] = shows
        try:
            answer = self._backend.heartbeat(status)
        except (BackendUnavailable, Refused) as exc:
            if self._messages is not None:
                self._messages.give_back(shows)
            self.connectivity.report(False, str(exc))
            return False
        if answer.messages is not None and self._messages is not None:
            self._messages.update(answer.messages)
        self.connectivity.report(True)
        if answer.server_time is not None:  # shown to the technician and in /status
            with contextlib.suppress(OverflowError, TypeError, ValueError):
                self.clock_skew_s = round((utcnow() - answer.server_time).total_seconds(), 1)
        if answer.experiments is not None and self._experiments is not None:
            self._experiments.update(answer.experiments)
        if answer.profile is not None and self._profiles is not None:
            try:
                self._profiles.offer(*answer.profile)
            except Exception as exc:  # a profile must never stop the heartbeat
                unexpected("central profile", exc)
        if answer.resolved:
            try:
                self._journal.forget_resolved(answer.resolved)
            except JournalError as exc:
                log.warning("could not forget conflicts staff resolved: %s", exc)
        return True

    # ---- background loop ----------------------------------------------------------------------

    def step(self) -> float:
        """One round of the loop; returns how long to sleep before the next round."""
        now = self._clock()
        if now >= self._next_maintenance:
            self.maintain()
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
        if self._visits is not None and self.connectivity.online and not waiting:
            self._visits.forward()  # after loans, never before: insights can wait
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
