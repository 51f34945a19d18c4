"""Plausible anonymous visits, generated: the demo's month of insights and the benchmark's year.

Why generated and not recorded: there is no real patron behind any of these, by construction,
so the demo can show a full insights page on a fresh install. The library's settings say the
data is generated (`insights_demo = true`) and the page says so on top.

The shape follows a public library's week (closed on Sunday, busy after school and on
Saturday morning), Flemish languages (mostly Dutch), and the kiosk's own journeys; the numbers
are made up, and a seed makes them the same on every run.
"""

from __future__ import annotations

import dataclasses
import random
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta, timezone

from central import experiments, messages
from central.db import Database, set_setting
from central.insights import ADD_COUNTS, INSERT_VISIT, counted, visit_row
from domain.visits import Journey, Visit, quarter_hour

BRUSSELS = timezone(timedelta(hours=1))
# opening hours per weekday (Mon..Sun): (from, to) in whole hours, or None when closed
OPENING = ((13, 19), (10, 18), (10, 19), (13, 19), (10, 18), (10, 13), None)
# the share of a day's visits in each hour: a peak after school and on Saturday morning
_HOUR_WEIGHT = {10: 3, 11: 4, 12: 3, 13: 4, 14: 4, 15: 6, 16: 9, 17: 8, 18: 5}
_LANGUAGES = (("nl", 78), ("fr", 11), ("en", 7), ("de", 4))
_IDENTIFIED = (("barcode", 55), ("card_uid", 30), ("eid", 15))
DEMO_EXPERIMENT = "welcome-line"
DEMO_VARIANTS = ("plain", "warm")


def visits_for(day: date, kiosk_index: int, rng: random.Random,
               per_day: float = 60.0, *, experiment: str = "") -> Iterator[Visit]:
    """One kiosk's visits on `day` (none when the library is closed)."""
    hours = OPENING[day.weekday()]
    if hours is None:
        return
    busy = per_day * (1.5 if day.weekday() == 5 else 1.0) * (0.7 + 0.1 * (kiosk_index % 5))
    for hour in range(*hours):
        for _ in range(round(rng.gauss(busy * _HOUR_WEIGHT.get(hour, 3) / 40, 1.5))):
            moment = datetime(day.year, day.month, day.day, hour, rng.randrange(60),
                              tzinfo=BRUSSELS)
            if not experiment:
                yield _visit(moment, rng)
                continue
            # the demo's experiment: a warmer welcome line, a few less patrons give up
            variant = rng.choice(DEMO_VARIANTS)
            yield dataclasses.replace(_visit(moment, rng, give_up=0.045 if variant == "warm"
                                             else 0.085), variants={experiment: variant})


def _visit(moment: datetime, rng: random.Random, give_up: float = 0.07) -> Visit:
    language = _pick(_LANGUAGES, rng)
    returning = rng.random() < 0.55
    borrowing = rng.random() < 0.7
    journeys: list[Journey] = []
    refusals: Counter[str] = Counter()
    if returning:
        n = rng.choice((1, 1, 2, 3, 4))
        journeys.append(Journey("return", n, n))
    if borrowing or not returning:
        n = rng.choice((1, 2, 2, 3, 5))
        refused = sum(rng.random() < 0.06 for _ in range(n))
        refusals.update(rng.choice(("on_hold_for_other", "too_many_items", "not_for_loan"))
                        for _ in range(refused))
        journeys.append(Journey("borrow", n, n - refused))
    if rng.random() < 0.15:
        journeys.append(Journey("account"))
        if rng.random() < 0.6:
            journeys.append(Journey("renew", 2, 2))
    gave_up = rng.random() < give_up
    timeout = not gave_up and rng.random() < 0.04
    seconds = int(rng.lognormvariate(4.0, 0.45)) + 8 * len(journeys)
    feedback = None
    reason = ""
    asked = not gave_up and not timeout and rng.random() < 0.5
    if asked and rng.random() < 0.7:
        feedback = rng.choices((1, 2, 3, 4), weights=(4, 8, 30, 58))[0]
        if feedback <= 2 and rng.random() < 0.7:
            reason = rng.choice(("too_slow", "could_not_find", "machine_error", "other"))
    access = tuple(sorted(mode for mode, p in (("large_text", 0.06), ("speech", 0.015),
                                                ("high_contrast", 0.02), ("keypad", 0.01))
                          if rng.random() < p))
    ended = "abandoned" if gave_up else "timeout" if timeout else "done"
    # a return needs no card: half of those who only return do not show one
    identified = "none" if not borrowing and returning and rng.random() < 0.5 \
        else _pick(_IDENTIFIED, rng)
    return Visit(
        visit_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        started=quarter_hour(moment), ended=ended,
        last_screen=rng.choice(("borrow", "home", "pin", "return")) if ended != "done"
        else "goodbye",
        seconds=min(seconds, 1800), identified_by=identified,
        pin=identified != "none" and rng.random() < 0.3, language=language,
        offline=rng.random() < 0.03,
        journeys=tuple(journeys), refusals=dict(refusals), access=access,
        receipt="" if ended != "done" else rng.choices(("none", "print", "email"),
                                                       weights=(55, 25, 20))[0],
        feedback_asked=asked, feedback=feedback, feedback_reason=reason,
    )


def _pick(weighted: Sequence[tuple[str, int]], rng: random.Random) -> str:
    return rng.choices([v for v, _ in weighted], weights=[w for _, w in weighted])[0]


def load(db: Database, visits: Iterator[tuple[str, str, Visit]], *, batch: int = 20000,
         rows_too: bool = True) -> int:
    """(kiosk id, branch, visit) rows straight into empty tables, the counters summed in
    memory first (the same ones a kiosk's upload adds): for seeding, not for kiosks. Without
    `rows_too` only the counters are written (what the insights page reads; the benchmark's
    year of two million visits would otherwise take a gigabyte)."""
    total = 0
    rows: list[tuple[object, ...]] = []
    counts: Counter[tuple[str, str, str, str]] = Counter()

    def flush() -> None:
        with db.write() as conn:
            conn.executemany(INSERT_VISIT, rows)
            conn.executemany(ADD_COUNTS, [(*key, n) for key, n in counts.items()])
        rows.clear()
        counts.clear()

    for kiosk_id, branch, visit in visits:
        if rows_too:
            rows.append(visit_row(kiosk_id, branch, visit))
        counts.update(counted(kiosk_id, visit))
        total += 1
        if total % batch == 0:
            flush()
    flush()
    return total


def seed_demo_month(db: Database, today: date, *, seed: int = 2026) -> int:
    """A month of generated visits for every kiosk the library has, marked as demo data."""
    rng = random.Random(seed)
    with db.read() as conn:
        kiosks = [(r["kiosk_id"], r["branch"]) for r in conn.execute(
            "SELECT kiosk_id, branch FROM kiosks ORDER BY kiosk_id")]

    def rows() -> Iterator[tuple[str, str, Visit]]:
        for offset in range(30, 0, -1):
            day = today - timedelta(days=offset)
            for index, (kiosk_id, branch) in enumerate(kiosks):
                for visit in visits_for(day, index, rng, experiment=DEMO_EXPERIMENT):
                    yield kiosk_id, branch, visit

    added = load(db, rows())
    experiments.save(db, experiments.parse({
        "name": DEMO_EXPERIMENT, "factor": "idle_message", "outcome": "completion",
        "start": (today - timedelta(days=30)).isoformat(),
        "end": (today + timedelta(days=14)).isoformat(), "planned": 400,
        "variants": [{"name": "plain", "value": {"nl": "Vandaag open tot 19 uur."}},
                     {"name": "warm", "value": {
                         "nl": "Fijn dat u er bent! Vandaag open tot 19 uur.",
                         "fr": "Bienvenue ! Ouvert aujourd'hui jusqu'à 19 h.",
                         "de": "Schön, dass Sie da sind! Heute bis 19 Uhr geöffnet.",
                         "en": "Good to see you! Open until 7 pm today."}}]}), "demo")
    with db.write() as conn:
        set_setting(conn, "insights_demo", "true")
    return added


def seed_demo_messages(db: Database, today: date) -> None:
    """Two messages to patrons for the demo: a closure for everyone, an event for children."""
    for texts, audience in (
            ({"nl": "Op 25 en 26 december is de bibliotheek gesloten.",
              "fr": "La bibliothèque est fermée les 25 et 26 décembre.",
              "de": "Am 25. und 26. Dezember ist die Bibliothek geschlossen.",
              "en": "The library is closed on 25 and 26 December."}, ""),
            ({"nl": "Woensdag om 14 uur: voorleesuurtje in de jeugdafdeling!",
              "fr": "Mercredi à 14 h : heure du conte au coin des enfants !",
              "de": "Mittwoch um 14 Uhr: Vorlesestunde in der Kinderabteilung!",
              "en": "Wednesday at 2 pm: story hour in the children's corner!"}, "child")):
        messages.publish(db, messages.parse({
            "texts": texts, "start": today.isoformat(),
            "end": (today + timedelta(days=30)).isoformat(), "audience": audience}), "demo")

