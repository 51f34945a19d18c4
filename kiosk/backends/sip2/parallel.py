"""A stack's checkouts over several logged-in SIP2 connections at once.

Why: inside an ILS a SIP2 checkout takes 50-300 ms, one after the other on one connection, so a
pile of ten books keeps a patron waiting seconds. Most ILSs accept several logins for one kiosk
account (`[sip2] connections`, default 1), so the items of a stack are shared out over that
many connections and their answers overlap.

What does not change: each item is one request on one connection, answered exactly once (its
read-back after a lost answer runs on the connection that sent it), and the items of a stack
are distinct, so no item's order can be swapped. The caller's patron wait holds in every worker
(the context is copied, see `kiosk.backends.base.patron_wait`). Once one item finds the server
unreachable, no further item is sent: the rest are answered with the same outage.

A server that refuses a second login (or drops it) is used with one connection, with a log line
for the technician, and asked again after `RETRY_S`.
"""

from __future__ import annotations

import contextvars
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

from domain.model import Transaction
from kiosk.backends.base import (
    AuthenticationFailed,
    BackendError,
    BackendUnavailable,
    MalformedReply,
    StackAnswer,
    in_order,
    not_sent,
    unexpected,
)
from kiosk.backends.sip2.client import Sip2Client

log = logging.getLogger(__name__)

RETRY_S = 900.0  # after a refused extra login, one connection for this long
RETRY_UNREACHABLE_S = 60.0  # after an extra connection could not be made at all


class ConnectionPool:
    """The backend's own connection plus up to `size - 1` more, logged in on first use."""

    def __init__(self, first: Sip2Client, size: int, make: Callable[[], Sip2Client], *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._first = first
        self._size = size
        self._make = make
        self._clock = clock
        self._extra: list[Sip2Client] = []
        self._refused_until = float("-inf")
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None

    def clients(self, wanted: int) -> list[Sip2Client]:
        """Connections for `wanted` items: just the first one for a single item, for a pool
        of one, or while extra logins are refused."""
        count = min(wanted, self._size)
        if count <= 1 or self._clock() < self._refused_until:
            return [self._first]
        with self._lock:
            while len(self._extra) < count - 1:
                self._extra.append(self._make())
            return [self._first, *self._extra[:count - 1]]

    def refused(self, client: Sip2Client, exc: BackendError) -> None:
        """An extra connection could not log in: one connection for a while. A refused login
        is the server's policy (a long while); a connection that could not be made may be the
        network, which the first connection's own request will tell (a short while)."""
        if isinstance(exc, AuthenticationFailed):
            log.warning("SIP2: the server did not accept another connection (login refused); "
                        "using one connection for %d minutes", RETRY_S // 60)
            pause = RETRY_S
        else:
            log.info("SIP2: no extra connection (%s); using one for now", exc)
            pause = RETRY_UNREACHABLE_S
        self._refused_until = self._clock() + pause
        with self._lock:
            if client in self._extra:
                self._extra.remove(client)
        client.close()

    def executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max(1, self._size - 1),
                                                    thread_name_prefix="sip2-stack")
            return self._executor

    def close(self) -> None:
        with self._lock:
            extra, self._extra = self._extra, []
            executor, self._executor = self._executor, None
        for client in extra:
            client.close()
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)


Send = Callable[[Sip2Client, Transaction], StackAnswer]


def send_parallel(pool: ConnectionPool, txs: Sequence[Transaction],
                  send: Send) -> Iterator[list[StackAnswer]]:
    """Share `txs` out over the pool's connections; yield the answers as they arrive (what has
    arrived together comes as one group, so it is settled in one journal commit)."""
    clients = pool.clients(len(txs))
    if len(clients) == 1:
        yield from in_order(txs, lambda tx: send(clients[0], tx))
        return
    work = _Work(txs)
    executor = pool.executor()
    for client in clients[1:]:
        context = contextvars.copy_context()
        executor.submit(context.run, _extra_worker, pool, client, work, send)
    thread = threading.Thread(target=contextvars.copy_context().run,
                              args=(_worker, clients[0], work, send), daemon=True,
                              name="sip2-stack-first")
    thread.start()
    yield from work.answers()


class _Work:
    """The stack's items still to send, and the answers as workers give them."""

    def __init__(self, txs: Sequence[Transaction]) -> None:
        self._todo: queue.SimpleQueue[Transaction] = queue.SimpleQueue()
        for tx in txs:
            self._todo.put(tx)
        self._total = len(txs)
        self._answers: queue.SimpleQueue[StackAnswer] = queue.SimpleQueue()
        self._outage: BackendUnavailable | None = None

    def next(self) -> Transaction | None:
        try:
            tx = self._todo.get_nowait()
        except queue.Empty:
            return None
        if self._outage is not None:  # the server is gone: this one is not sent
            self._answers.put((tx, not_sent(self._outage)))
            return self.next()
        return tx

    def answer(self, answer: StackAnswer) -> None:
        if isinstance(answer[1], BackendUnavailable) and self._outage is None:
            self._outage = answer[1]
        self._answers.put(answer)

    def answers(self) -> Iterator[list[StackAnswer]]:
        given = 0
        while given < self._total:
            batch = [self._answers.get()]
            while True:
                try:
                    batch.append(self._answers.get_nowait())
                except queue.Empty:
                    break
            given += len(batch)
            yield batch


def _worker(client: Sip2Client, work: _Work, send: Send) -> None:
    while (tx := work.next()) is not None:
        work.answer(_safely(send, client, tx))


def _extra_worker(pool: ConnectionPool, client: Sip2Client, work: _Work, send: Send) -> None:
    """Log in first (cheap when it is logged in already): an item is only ever handed to a
    connection the server accepted, so a refused login never touches a transaction."""
    try:
        client.status()
    except BackendError as exc:
        pool.refused(client, exc)
        return
    except Exception as exc:  # a bug must not leave the stack waiting for this worker
        unexpected("SIP2 extra connection", exc)
        return
    _worker(client, work, send)


def _safely(send: Send, client: Sip2Client, tx: Transaction) -> StackAnswer:
    try:
        return send(client, tx)
    except Exception as exc:  # every item gets an answer, whatever happens
        return tx, MalformedReply(unexpected("SIP2 stack", exc))
