"""The library's messages to patrons on this kiosk: which to show, and how often they were.

Why beside the experiments and kept the same way: messages come with the heartbeat, must go on
showing while the network is down (a holiday closure matters most then), and stop on their end
day by themselves. The counts are times shown, never who saw what: the idle screen counts a
message each time its rotation puts it on screen, the home screen once per visit whose patron
category it is for; the sync worker sends the counts with a heartbeat and gives them back
when the heartbeat fails (an answer lost after the service counted them counts them twice,
which for a count of showings is fine).
"""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import date

from domain.experiments import InvalidExperiment, PatronMessage, message_of
from kiosk.journal import Journal, JournalError

log = logging.getLogger(__name__)
_KEY = "messages"


class MessageBoard:
    def __init__(self, journal: Journal, *, today: Callable[[], date] = date.today,
                 on_change: Callable[[], None] | None = None) -> None:
        self._journal = journal
        self._today = today
        self._on_change = on_change  # the screen shows the new messages without waiting
        self._lock = threading.Lock()
        self._counts: Counter[int] = Counter()
        self._messages: tuple[PatronMessage, ...] = self._load()

    def _load(self) -> tuple[PatronMessage, ...]:
        try:
            return tuple(message_of(m) for m in json.loads(self._journal.setting(_KEY) or "[]"))
        except (ValueError, TypeError, InvalidExperiment) as exc:
            log.warning("the messages kept on this kiosk could not be read: %s", exc)
            return ()

    def update(self, messages: Sequence[PatronMessage]) -> None:
        messages = tuple(messages)
        with self._lock:
            if messages == self._messages:
                return
            self._messages = messages
        try:
            self._journal.keep_setting(_KEY, json.dumps([
                {"message_id": m.message_id, "texts": m.texts, "end": m.end.isoformat(),
                 "audience": m.audience} for m in messages], ensure_ascii=False))
        except JournalError as exc:
            log.warning("could not keep the messages on disk: %s", exc)
        if self._on_change is not None:
            self._on_change()

    def for_idle(self) -> list[PatronMessage]:
        """For everyone, on the idle screen, today."""
        return [m for m in self._current() if not m.audience]

    def for_patron(self, category: str) -> list[PatronMessage]:
        """For this patron category, after identification, today."""
        return [m for m in self._current() if category and m.audience == category]

    def _current(self) -> list[PatronMessage]:
        today = self._today()
        with self._lock:
            return [m for m in self._messages if today <= m.end]

    def shown(self, message_id: int) -> None:
        with self._lock:
            if any(m.message_id == message_id for m in self._messages):
                self._counts[message_id] += 1

    def take_counts(self) -> dict[str, int]:
        """The counts since the last heartbeat, for the next one."""
        with self._lock:
            counts, self._counts = self._counts, Counter()
        return {str(k): n for k, n in counts.items()}

    def give_back(self, counts: Mapping[str, int]) -> None:
        """The heartbeat that carried them failed: they go with the next one."""
        with self._lock:
            self._counts.update({int(k): n for k, n in counts.items()})
