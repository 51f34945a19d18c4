"""Experiments staff run on the service: two or more variants of something the kiosk can vary,
on chosen kiosks, between two days, with the outcome they want to move.

Why this shape: staff should try a change the way a town would want it tried, with a fair
comparison and an honest answer, not by switching something and watching the counts. Each
kiosk assigns each visit to a variant at random (kiosk/experiments.py) and the visit's record
carries the assignment (`Visit.variants`), so the result is read from the visits alone; offline
visits keep their variant and count when they arrive. The statistics are central/stats.py's.

What a kiosk can vary (`FACTORS`, value -> what the kiosk does):
- idle_message: the idle screen's line under "put your card here" (one text per language);
- receipt_default: which receipt choice comes first and has the focus: print, email or none;
- feedback: whether "How did it go?" is asked (on / off).
Outcomes: completion (visits that ended done), satisfaction (the 1..4 score), receipt_choice
(the share that chose a receipt, print or e-mail), visit_time (seconds).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from central import stats
from central.db import INTEGRITY_ERRORS, Database, get_setting
from domain.experiments import FACTORS, InvalidExperiment, Variant, is_slug, variant_of

OUTCOMES = ("completion", "satisfaction", "receipt_choice", "visit_time")
BadExperiment = InvalidExperiment  # what staff are told about a form that cannot run


@dataclass(frozen=True)
class Experiment:
    name: str
    factor: str
    variants: tuple[Variant, ...]
    start: date
    end: date
    outcome: str
    kiosks: tuple[str, ...] = ()  # none: every kiosk
    planned: int = 100  # sessions per variant before the result is worth reading

    def as_sent(self) -> dict[str, Any]:
        """What a kiosk gets with its heartbeat."""
        return {"name": self.name, "factor": self.factor, "end": self.end.isoformat(),
                "variants": [{"name": v.name, "value": v.value} for v in self.variants]}


def parse(raw: Mapping[str, Any]) -> Experiment:
    """An experiment from a staff form (JSON), or BadExperiment saying what is wrong."""
    try:
        name, factor, outcome = str(raw["name"]), str(raw["factor"]), str(raw["outcome"])
        start, end = date.fromisoformat(raw["start"]), date.fromisoformat(raw["end"])
        variants = tuple(variant_of(factor, v) for v in raw["variants"])
        kiosks = tuple(str(k) for k in raw.get("kiosks", ()))
        planned = int(raw.get("planned", 100))
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, BadExperiment):
            raise
        raise BadExperiment(f"name, factor, outcome, start, end and variants are needed: "
                            f"{exc}") from None
    if not is_slug(name):
        raise BadExperiment("the name is a short slug: lower case letters, digits, - and _")
    if factor not in FACTORS:
        raise BadExperiment(f"the kiosk can vary: {', '.join(FACTORS)}")
    if outcome not in OUTCOMES:
        raise BadExperiment(f"the outcome is one of: {', '.join(OUTCOMES)}")
    if not 2 <= len(variants) <= 4 or len({v.name for v in variants}) != len(variants):
        raise BadExperiment("two to four variants, each with its own name")
    if end < start:
        raise BadExperiment("the end comes after the start")
    if not 10 <= planned <= 100_000:
        raise BadExperiment("plan 10 to 100000 sessions per variant")
    return Experiment(name, factor, variants, start, end, outcome, kiosks, planned)


def save(db: Database, experiment: Experiment, staff: str) -> None:
    with db.write() as conn:
        try:
            conn.execute(
                "INSERT INTO experiments (name, factor, variants, kiosks, start, \"end\", outcome,"
                " planned, created_by, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (experiment.name, experiment.factor,
                 json.dumps([{"name": v.name, "value": v.value} for v in experiment.variants]),
                 json.dumps(list(experiment.kiosks)), experiment.start.isoformat(),
                 experiment.end.isoformat(), experiment.outcome, experiment.planned,
                 f"staff:{staff}", datetime.now().astimezone().isoformat(timespec="seconds")))
        except INTEGRITY_ERRORS:
            raise BadExperiment(f"there is an experiment called {experiment.name!r} "
                                "already") from None


def every(db: Database) -> list[Experiment]:
    with db.read() as conn:
        rows = conn.execute("SELECT * FROM experiments ORDER BY start DESC, name").fetchall()
    return [Experiment(r["name"], r["factor"],
                       tuple(Variant(v["name"], v["value"]) for v in json.loads(r["variants"])),
                       date.fromisoformat(r["start"]), date.fromisoformat(r["end"]),
                       r["outcome"], tuple(json.loads(r["kiosks"])), r["planned"])
            for r in rows]


def active_for(db: Database, kiosk_id: str, today: date) -> list[Experiment]:
    """The experiments a kiosk runs today: started, not ended, on it. One per factor (the
    first started wins): two experiments varying the same thing would confound each other."""
    chosen: dict[str, Experiment] = {}
    for e in sorted(every(db), key=lambda e: (e.start, e.name)):
        if e.start <= today <= e.end and (not e.kiosks or kiosk_id in e.kiosks):
            chosen.setdefault(e.factor, e)
    return list(chosen.values())


# ---- the result ---------------------------------------------------------------------------


def result(db: Database, experiment: Experiment, *, today: date) -> dict[str, Any]:
    """Per variant: sessions, the outcome with its 95 % interval; the test of the first two
    variants' difference (or of each against the first); whether the plan is reached."""
    k = _min_visits(db)
    per_variant = _outcomes(db, experiment)
    rows = []
    for variant in experiment.variants:
        values = per_variant.get(variant.name, [])
        estimate = _estimate(experiment.outcome, values) if len(values) >= k else None
        rows.append({"variant": variant.name, "sessions": len(values) if len(values) >= k
                     else None, "estimate": None if estimate is None else {
                         "value": estimate.value, "low": estimate.low, "high": estimate.high}})
    base = experiment.variants[0].name
    tests = []
    for other in experiment.variants[1:]:
        a, b = per_variant.get(base, []), per_variant.get(other.name, [])
        if len(a) >= k and len(b) >= k:
            t = _test(experiment.outcome, a, b)
            tests.append({"variants": [base, other.name], "test": t.name,
                          "statistic": round(t.statistic, 4), "p_value": t.p_value,
                          "significant": t.p_value < 0.05})
    smallest = min((len(per_variant.get(v.name, [])) for v in experiment.variants), default=0)
    return {"experiment": experiment.as_sent() | {
                "start": experiment.start.isoformat(), "outcome": experiment.outcome,
                "kiosks": list(experiment.kiosks), "planned": experiment.planned},
            "state": "planned" if today < experiment.start else
                     "running" if today <= experiment.end else "ended",
            "variants": rows, "tests": tests,
            "plan_reached": smallest >= experiment.planned,
            # the warning's facts, for a page that says it in its reader's language
            "smallest": smallest if smallest >= k else None, "min_visits": k,
            "warning": "" if smallest >= experiment.planned else (
                f"the planned {experiment.planned} sessions per variant are not reached yet "
                f"(smallest: {'fewer than ' + str(k) if smallest < k else smallest}): a "
                "difference now may be chance")}


def _min_visits(db: Database) -> int:
    with db.read() as conn:
        return max(1, int(get_setting(conn, "insights_min_visits")))


def _outcomes(db: Database, experiment: Experiment) -> dict[str, list[float]]:
    """Each variant's visits as one number each: 1/0 for a share, the score or the seconds."""
    variant, key = db.json_text("record", "variants", experiment.name)
    where = ["day BETWEEN ? AND ?", f"{variant} IS NOT NULL"]
    args: list[Any] = [experiment.start.isoformat(), experiment.end.isoformat(), key]
    if experiment.kiosks:
        where.append(f"kiosk_id IN ({','.join('?' * len(experiment.kiosks))})")
        args += experiment.kiosks
    if experiment.outcome == "satisfaction":
        where.append("feedback IS NOT NULL")
    if experiment.outcome == "receipt_choice":
        where.append("receipt != ''")  # only visits that were asked
    column = {"completion": "ended = 'done'", "satisfaction": "feedback",
              "receipt_choice": "receipt IN ('print', 'email')",
              "visit_time": "seconds"}[experiment.outcome]
    with db.read() as conn:
        rows = conn.execute(
            f"SELECT {variant}, {column} FROM visits WHERE {' AND '.join(where)}",
            [key, *args]).fetchall()
    out: dict[str, list[float]] = {}
    for variant, value in rows:
        out.setdefault(str(variant), []).append(float(value))
    return out


def _estimate(outcome: str, values: list[float]) -> stats.Estimate:
    if outcome in ("completion", "receipt_choice"):
        return stats.wilson(int(sum(values)), len(values))
    if outcome == "visit_time":
        return stats.median_interval(values)
    return stats.mean_interval(values)


def _test(outcome: str, a: list[float], b: list[float]) -> stats.Test:
    if outcome in ("completion", "receipt_choice"):
        return stats.two_proportions(int(sum(a)), len(a), int(sum(b)), len(b))
    return stats.mann_whitney(a, b)
