"""Prometheus metrics for one kiosk, observed from the outside of the core.

Why from the outside: the session, circulation and sync code stay free of metrics calls. The
figures come from three places instead:

* the session's views (a `Kiosk.subscribe` listener): every finished item line is one
  transaction, by kind (checkout / checkin / renew) and outcome (ok, offline, or the refusal's
  reason code), and every device that goes down is one device fault;
* the journal and the connectivity flag, read at scrape time (queue depth, conflicts, oldest
  pending age, online);
* the catalog backend, whose calls are timed by the `TimedBackend` the composition root puts
  between the core and the client.

Labels never carry a patron or item identifier: only kinds, outcomes and device names.
Each `KioskMetrics` has its own registry, so tests (and two kiosks in one process) never share
counters.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from domain.model import Account, Credential, Item, Outcome, Patron, ReplayResult, Transaction
from kiosk.backends.base import BackendStatus, CatalogBackend, StackAnswer

if TYPE_CHECKING:
    from kiosk.connectivity import Connectivity
    from kiosk.journal import Journal


R = TypeVar("R")

log = logging.getLogger(__name__)

CONTENT_TYPE = CONTENT_TYPE_LATEST
_LATENCY_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_KIND_BY_SCREEN = {"borrow": "checkout", "return": "checkin", "account": "renew"}


class Observed(Protocol):
    """What a scrape reads of a running kiosk (`kiosk.app.Kiosk` is one)."""

    @property
    def journal(self) -> Journal: ...

    @property
    def connectivity(self) -> Connectivity: ...

    @property
    def last_loop_at(self) -> float: ...


class KioskMetrics:
    """The kiosk's counters, gauges and histograms, in a registry of their own."""

    def __init__(self, *, devices: Iterable[str] = ()) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.transactions = Counter(
            "kiosk_transactions", "Items borrowed, returned or renewed at this kiosk",
            ["kind", "outcome"], registry=r)
        self.queue_depth = Gauge(
            "kiosk_queue_depth", "Transactions journaled and not yet accepted by the central side",
            registry=r)
        self.conflicts = Gauge(
            "kiosk_queue_conflicts", "Offline transactions the central side could not apply",
            registry=r)
        self.quarantined = Gauge(
            "kiosk_queue_quarantined",
            "Transactions set aside because the central side fails on them every time",
            registry=r)
        self.journal_salvage_recovered = Gauge(
            "kiosk_journal_salvage_recovered",
            "Transactions read back from a damaged journal at the last replacement", registry=r)
        self.journal_salvage_incomplete = Gauge(
            "kiosk_journal_salvage_incomplete",
            "1 when a damaged journal could not be read back whole (staff must compare records)",
            registry=r)
        self.oldest_pending_age = Gauge(
            "kiosk_oldest_pending_age_seconds", "Age of the oldest transaction still waiting",
            registry=r)
        self.backend_latency = Histogram(
            "kiosk_backend_latency_seconds", "Time the central side took to answer, per call",
            ["call"], buckets=_LATENCY_BUCKETS, registry=r)
        self.backend_errors = Counter(
            "kiosk_backend_errors", "Calls to the central side that failed, per call and error",
            ["call", "error"], registry=r)
        self.device_faults = Counter(
            "kiosk_device_faults", "Times a device went down (reader lost, paper out ...)",
            ["device"], registry=r)
        self.device_up = Gauge(
            "kiosk_device_up", "1 while the device works, 0 while it is down", ["device"],
            registry=r)
        self.online = Gauge(
            "kiosk_online", "1 while the central side answers, 0 while the kiosk is offline",
            registry=r)
        self.event_loop_age = Gauge(
            "kiosk_event_loop_age_seconds", "Time since the event thread last went round",
            registry=r)
        self._devices = set(devices)
        for name in self._devices:
            self.device_up.labels(name).set(1)
        self._lock = threading.Lock()
        self._counted: dict[str, set[str]] = {"items": set(), "renewals": set()}
        self._down: set[str] = set()

    # ---- session views ----------------------------------------------------------------------

    def observe_view(self, view: Any) -> None:
        """A `Kiosk.subscribe` listener: count finished item lines and device faults."""
        with self._lock:
            self._observe_devices(tuple(getattr(view, "devices_down", ()) or ()))
            screen = str(getattr(getattr(view, "screen", ""), "value", getattr(view, "screen", "")))
            self._count_lines("items", tuple(getattr(view, "items", ()) or ()),
                              _KIND_BY_SCREEN.get(screen, "checkout"))
            self._count_lines("renewals", tuple(getattr(view, "renewals", ()) or ()), "renew")

    def _count_lines(self, key: str, lines: tuple[Any, ...], kind: str) -> None:
        """Each line once, when it is settled: not while a stack is still being checked or a
        multi-part set waits. A line that leaves the list (a new visit) may count again."""
        listed = {getattr(line, "item_id", "") for line in lines}
        counted = self._counted[key] & listed
        for line in lines:
            item_id = getattr(line, "item_id", "")
            if item_id in counted or getattr(line, "working", False) \
                    or getattr(line, "pending", False):
                continue
            self.transactions.labels(kind, outcome_label(line)).inc()
            counted.add(item_id)
        self._counted[key] = counted

    def _observe_devices(self, down: tuple[str, ...]) -> None:
        now_down = set(down)
        for device in now_down - self._down:
            self.device_faults.labels(device).inc()
            self.device_up.labels(device).set(0)
        for device in self._down - now_down:
            self.device_up.labels(device).set(1)
        self._devices |= now_down
        self._down = now_down

    # ---- scrape time ------------------------------------------------------------------------

    def refresh(self, kiosk: Observed, *, now: Callable[[], float] = time.monotonic) -> None:
        """Read the journal, the connectivity flag and the event thread's pulse."""
        try:
            counts = kiosk.journal.counts()
            oldest = kiosk.journal.oldest_pending()
        except Exception as exc:  # a broken journal must not break the scrape
            log.warning("metrics: journal unreadable: %s", exc)
        else:
            self.queue_depth.set(counts.get("pending", 0) + counts.get("sent", 0))
            self.conflicts.set(counts.get("conflict", 0))
            self.quarantined.set(counts.get("quarantined", 0))
            self.oldest_pending_age.set(pending_age_s(oldest))
            salvage = kiosk.journal.salvage
            self.journal_salvage_recovered.set(salvage.recovered if salvage else 0)
            self.journal_salvage_incomplete.set(1 if salvage and not salvage.complete else 0)
        self.online.set(1 if kiosk.connectivity.online else 0)
        last = float(getattr(kiosk, "last_loop_at", 0.0) or 0.0)
        self.event_loop_age.set(max(0.0, now() - last) if last else 0.0)

    def render(self, kiosk: Observed | None = None) -> bytes:
        """The Prometheus text exposition (refreshed first when a kiosk is given)."""
        if kiosk is not None:
            self.refresh(kiosk)
        return generate_latest(self.registry)

def outcome_label(line: Any) -> str:
    """ok | offline | the refusal's reason code (a small, fixed set of values)."""
    if getattr(line, "ok", False):
        return "offline" if getattr(line, "offline", False) else "ok"
    reason = getattr(line, "reason", None)
    return str(getattr(reason, "value", reason) or "refused").lower()


def pending_age_s(oldest: datetime | None, *, now: datetime | None = None) -> float:
    if oldest is None:
        return 0.0
    if oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    return max(0.0, ((now or datetime.now(UTC)) - oldest).total_seconds())


class TimedBackend:
    """The kiosk's backend as circulation and sync see it: every call timed, nothing changed.

    A wrapper built by the composition root, not a patch on the backend object: the client
    stays as its module wrote it, and a backend of any shape (slotted, frozen, a test twin) is
    timed the same way. Errors pass through untouched, so the seam's contract holds."""

    def __init__(self, inner: CatalogBackend, metrics: KioskMetrics) -> None:
        self.inner = inner
        self._metrics = metrics

    @property
    def replay_batch_limit(self) -> int | None:
        return self.inner.replay_batch_limit

    def _timed(self, call: str, func: Callable[..., R], *args: Any) -> R:
        started = time.perf_counter()
        try:
            return func(*args)
        except Exception as exc:
            self._metrics.backend_errors.labels(call, type(exc).__name__).inc()
            raise
        finally:
            self._metrics.backend_latency.labels(call).observe(time.perf_counter() - started)

    def identify(self, credential: Credential, pin: str | None = None) -> Patron:
        return self._timed("identify", self.inner.identify, credential, pin)

    def account(self, patron_id: str) -> Account:
        return self._timed("account", self.inner.account, patron_id)

    def email_of(self, patron_id: str) -> str | None:
        return self._timed("contact", self.inner.email_of, patron_id)

    def item(self, item_id: str) -> Item:
        return self._timed("item", self.inner.item, item_id)

    def checkout(self, tx: Transaction) -> Outcome:
        return self._timed("checkout", self.inner.checkout, tx)

    def checkin(self, tx: Transaction) -> Outcome:
        return self._timed("checkin", self.inner.checkin, tx)

    def send_stack(self, txs: Sequence[Transaction]) -> Iterator[list[StackAnswer]]:
        """Timed from the first request to the last answer, as the patron waits for it, under
        the stack's kind (one pile of books is one checkout call)."""
        call = txs[0].kind.value if txs else "send_stack"
        started = time.perf_counter()
        try:
            yield from self.inner.send_stack(txs)
        except Exception as exc:
            self._metrics.backend_errors.labels(call, type(exc).__name__).inc()
            raise
        finally:
            self._metrics.backend_latency.labels(call).observe(time.perf_counter() - started)

    def renew(self, tx: Transaction) -> Outcome:
        return self._timed("renew", self.inner.renew, tx)

    def replay(self, transactions: Sequence[Transaction]) -> list[ReplayResult]:
        return self._timed("replay", self.inner.replay, transactions)

    def end_session(self, patron_id: str) -> None:
        self._timed("end_session", self.inner.end_session, patron_id)

    def heartbeat(self, status: Mapping[str, object]) -> BackendStatus:
        return self._timed("heartbeat", self.inner.heartbeat, status)

    def close(self) -> None:
        self.inner.close()
