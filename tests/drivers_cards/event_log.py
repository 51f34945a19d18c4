"""Waiting for driver events in tests (kept out of conftest so it imports by a unique name)."""

from __future__ import annotations

import queue
import time

from domain.events import Event


class EventLog:
    """Collects events from the queue a driver publishes to, and waits for them."""

    def __init__(self) -> None:
        self.queue: queue.Queue[Event] = queue.Queue()
        self.seen: list[Event] = []

    def next(self, kind: type | tuple[type, ...], timeout: float = 5.0) -> Event:
        """The next event of `kind`; fails if something else or nothing arrives."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {kind} within {timeout}s; saw {self.seen}")
            try:
                event = self.queue.get(timeout=remaining)
            except queue.Empty:
                continue
            self.seen.append(event)
            if isinstance(event, kind):
                return event
            raise AssertionError(f"expected {kind}, got {event!r}; saw {self.seen}")

    def quiet(self, seconds: float) -> list[Event]:
        """Whatever arrives in the next `seconds` (usually asserted to be nothing)."""
        got: list[Event] = []
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                got.append(self.queue.get(timeout=remaining))
            except queue.Empty:
                break
        self.seen.extend(got)
        return got
