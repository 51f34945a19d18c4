"""The experiments this kiosk runs, and each visit's variants.

Why kept in the journal: an experiment is fetched with the heartbeat, but the kiosk must go on
running it while the network is down (and after a restart offline), or the visits made offline
would all fall outside it and the comparison would be skewed towards good-network days. So the
last list the service sent is kept (`Journal.keep_setting`) and each experiment stops on its
own end day, with or without a heartbeat.

Why the draw is made when the idle screen comes back, not at the first tap: one factor (the
idle screen's message) is what the next patron sees before touching anything, so the visit's
variants are chosen for the visit to come and shown, then recorded with it.
"""

from __future__ import annotations

import json
import logging
import random
import threading
from collections.abc import Callable, Sequence
from datetime import date

from domain.experiments import InvalidExperiment, Running, Variant, running_of
from kiosk.journal import Journal, JournalError

log = logging.getLogger(__name__)
_KEY = "experiments"


class ExperimentBook:
    """The experiments in force (any thread may update; the session draws on its thread)."""

    def __init__(self, journal: Journal, *, today: Callable[[], date] = date.today,
                 rng: random.Random | None = None) -> None:
        self._journal = journal
        self._today = today
        self._rng = rng or random.SystemRandom()
        self._lock = threading.Lock()
        self._running: tuple[Running, ...] = self._load()

    def _load(self) -> tuple[Running, ...]:
        try:
            raw = json.loads(self._journal.setting(_KEY) or "[]")
            return tuple(running_of(entry) for entry in raw)
        except (ValueError, TypeError, InvalidExperiment) as exc:
            log.warning("the experiments kept on this kiosk could not be read: %s", exc)
            return ()

    def update(self, running: Sequence[Running]) -> None:
        """What the service says this kiosk runs now (from the heartbeat)."""
        running = tuple(running)
        with self._lock:
            if running == self._running:
                return
            self._running = running
        try:
            self._journal.keep_setting(_KEY, json.dumps([_as_json(r) for r in running]))
        except JournalError as exc:  # kept in memory; written with the next change
            log.warning("could not keep the experiments on disk: %s", exc)
        log.info("experiments in force: %s", ", ".join(r.name for r in running) or "none")

    def draw(self) -> dict[str, tuple[str, Variant]]:
        """One variant of each experiment in force today, at random: factor -> (experiment,
        variant). One experiment per factor (the service sends no more)."""
        today = self._today()
        with self._lock:
            running = [r for r in self._running if today <= r.end]
        chosen: dict[str, tuple[str, Variant]] = {}
        for experiment in running:
            if experiment.factor not in chosen:
                chosen[experiment.factor] = (experiment.name,
                                             self._rng.choice(experiment.variants))
        return chosen


def _as_json(running: Running) -> dict[str, object]:
    return {"name": running.name, "factor": running.factor, "end": running.end.isoformat(),
            "variants": [{"name": v.name, "value": v.value} for v in running.variants]}
