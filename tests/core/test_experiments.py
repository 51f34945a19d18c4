"""Experiments, end to end on the real parts: staff define one on the service, the kiosk gets
it with its heartbeat (through its own REST client), assigns each visit a variant at random,
shows it, keeps running it offline and after a restart, and the result staff read comes from
the visits' records."""

from __future__ import annotations

import json
import random
from datetime import date, timedelta

import pytest
from test_session import PATRON
from test_visits import WALL, Visiting

from central.db import Database
from central.experiments import BadExperiment, active_for, parse, result, save
from central.insights import store_visits
from domain.demo_library import AVAILABLE_ITEMS, DEMO_KIOSK_ID
from domain.events import BarcodeScanned
from domain.experiments import InvalidExperiment, Variant, running_of
from domain.visits import Visit
from kiosk.experiments import ExperimentBook
from kiosk.session import (
    ChooseMode,
    Done,
    Mode,
    ReceiptChoice,
    Session,
    SessionSettings,
    SetLanguage,
)

TODAY = WALL.date()
MESSAGES = {"plain": {"nl": "Vandaag open tot 20 uur.", "fr": "Ouvert jusqu'à 20 h."},
            "warm": {"nl": "Fijn dat u er bent! Vandaag open tot 20 uur."}}


def _idle_message_test(**overrides: object) -> dict:
    return {"name": "idle-line", "factor": "idle_message", "outcome": "completion",
            "start": (TODAY - timedelta(days=1)).isoformat(),
            "end": (TODAY + timedelta(days=13)).isoformat(), "planned": 20,
            "variants": [{"name": n, "value": v} for n, v in MESSAGES.items()], **overrides}


def test_staff_forms_are_checked_before_anything_runs():
    parse(_idle_message_test())
    for bad in ({"name": "Idle Line!"}, {"factor": "printer_colour"}, {"outcome": "loans"},
                {"end": "2020-01-01"}, {"variants": [{"name": "only", "value": {"nl": "x"}}]},
                {"variants": [{"name": "a", "value": {"xx": "x"}},
                              {"name": "b", "value": {"nl": "y"}}]},
                {"variants": [{"name": "a", "value": {"nl": "x" * 161}},
                              {"name": "b", "value": {"nl": "y"}}]},
                {"factor": "receipt_default", "variants": [{"name": "a", "value": "fax"},
                                                           {"name": "b", "value": "none"}]}):
        with pytest.raises(BadExperiment):
            parse(_idle_message_test(**bad))
    # what a hostile service sends the kiosk gets the same checks; control characters go
    with pytest.raises(InvalidExperiment):
        running_of({"name": "x", "factor": "idle_message", "end": "2026-12-31",
                    "variants": [{"name": "a", "value": {"nl": "\x00\x07\u200b"}},
                                 {"name": "b", "value": {"nl": "ok"}}]})
    cleaned = running_of({"name": "x", "factor": "idle_message", "end": "2026-12-31",
                          "variants": [{"name": "a", "value": {"nl": "Open\x00 tot\n20 uur"}},
                                       {"name": "b", "value": {"nl": "ok"}}]})
    assert cleaned.variants[0].value == {"nl": "Open tot 20 uur"}


def test_the_kiosk_gets_its_experiments_with_the_heartbeat_and_keeps_them_offline(
        make_core, twin, tmp_path):
    with Database(twin.app.state.service.db.path) as db:
        save(db, parse(_idle_message_test()), "alice")
        save(db, parse(_idle_message_test(name="elsewhere", factor="feedback",
                                          kiosks=["another-kiosk"], variants=[
                                              {"name": "ask", "value": "on"},
                                              {"name": "quiet", "value": "off"}])), "alice")
    core = make_core(on=twin, journal_path=tmp_path / "j.db")
    assert core.sync.heartbeat()
    book = ExperimentBook(core.journal, today=lambda: TODAY, rng=random.Random(3))
    status = core.backend.heartbeat({})
    assert [r.name for r in status.experiments or ()] == ["idle-line"]  # not the other kiosk's
    book.update(status.experiments or ())
    drawn = {book.draw()["idle_message"][1].name for _ in range(40)}
    assert drawn == {"plain", "warm"}  # both variants, at random
    # a restart with the network down: the kiosk goes on with what it was told
    again = ExperimentBook(core.journal, today=lambda: TODAY)
    assert again.draw()["idle_message"][0] == "idle-line"
    # and stops on the end day by itself
    after = ExperimentBook(core.journal, today=lambda: TODAY + timedelta(days=14))
    assert after.draw() == {}


def _session_with(variants: dict[str, Variant], circulation) -> Visiting:
    v = Visiting(circulation)
    chosen = {factor: (f"exp-{factor}", variant) for factor, variant in variants.items()}
    v.session = Session(circulation, clock=v.clock, visits=v.recorder,
                        print_receipt=lambda receipt: None, experiments=lambda: dict(chosen),
                        settings=SessionSettings(card_barcode_prefixes=("21",), feedback=True))
    return v


def test_each_variant_does_what_it_says_and_the_visit_carries_it(make_core, twin):
    core = make_core(on=twin)
    v = _session_with({"idle_message": Variant("warm", MESSAGES["warm"]),
                       "receipt_default": Variant("none-first", "none"),
                       "feedback": Variant("quiet", "off")}, core.circulation)
    view = v.session.view
    assert view.idle_message == "Fijn dat u er bent! Vandaag open tot 20 uur."
    v.card(PATRON)
    v.do(ChooseMode(Mode.BORROW))
    v.do(BarcodeScanned(AVAILABLE_ITEMS[40]))
    v.do(Done())
    assert v.session.view.receipt_first == "none"
    v.do(ReceiptChoice(print_receipt=False))
    assert v.session.view.feedback == ""  # the "quiet" variant asks nothing
    v.wait(5)
    [visit] = v.records
    assert visit.variants == {"exp-idle_message": "warm", "exp-receipt_default": "none-first",
                              "exp-feedback": "quiet"}
    # French patron, no French text in that variant: the library's own language
    v.do(SetLanguage("fr"))
    assert v.session.view.idle_message.startswith("Fijn")


def test_the_result_per_variant_with_its_interval_and_test(make_core, twin):
    with Database(twin.app.state.service.db.path) as db:
        experiment = parse(_idle_message_test(planned=100))
        save(db, experiment, "alice")
        raw = []
        for n in range(300):
            variant = "plain" if n % 2 else "warm"
            # warm finishes 90 % of visits, plain 75 %
            done = (n // 2) % 10 < (9 if variant == "warm" else 7.5)
            raw.append(Visit(visit_id=f"00000000-0000-4000-8000-{n:012d}",
                             started=f"{TODAY.isoformat()}T10:15+01:00",
                             ended="done" if done else "timeout",
                             last_screen="goodbye" if done else "borrow", seconds=60,
                             variants={"idle-line": variant}))
        stored = store_visits(db, DEMO_KIOSK_ID, [_as_dict(v) for v in raw])
        assert stored.new == 300
        got = result(db, experiment, today=TODAY)
    rows = {r["variant"]: r for r in got["variants"]}
    assert rows["warm"]["sessions"] == rows["plain"]["sessions"] == 150
    warm, plain = rows["warm"]["estimate"], rows["plain"]["estimate"]
    assert warm["value"] == pytest.approx(0.9) and plain["value"] == pytest.approx(0.8)
    assert warm["low"] < 0.9 < warm["high"]
    [test] = got["tests"]
    assert test["test"] == "two-proportion z-test" and test["significant"]
    assert got["state"] == "running" and got["plan_reached"] and got["warning"] == ""


def _as_dict(visit: Visit) -> dict:
    return json.loads(visit.to_json())


def test_a_result_under_its_planned_size_says_so_and_small_cells_are_withheld(make_core, twin):
    with Database(twin.app.state.service.db.path) as db:
        experiment = parse(_idle_message_test(planned=50, name="tiny"))
        save(db, experiment, "alice")
        raw = [Visit(visit_id=f"00000000-0000-4000-8000-{n:012d}",
                     started=f"{TODAY.isoformat()}T10:15+01:00", ended="done",
                     last_screen="goodbye", seconds=60,
                     variants={"tiny": "plain" if n < 12 else "warm"}) for n in range(15)]
        store_visits(db, DEMO_KIOSK_ID, [_as_dict(v) for v in raw])
        got = result(db, experiment, today=TODAY + timedelta(days=30))
    rows = {r["variant"]: r for r in got["variants"]}
    assert rows["plain"]["sessions"] == 12 and rows["warm"]["sessions"] is None  # 3 < k
    assert got["tests"] == [] and got["state"] == "ended"
    assert "not reached" in got["warning"] and "fewer than 5" in got["warning"]


def test_two_experiments_on_one_factor_do_not_run_at_once(twin):
    with Database(twin.app.state.service.db.path) as db:
        save(db, parse(_idle_message_test()), "alice")
        save(db, parse(_idle_message_test(name="later-line",
                                          start=TODAY.isoformat())), "alice")
        assert [e.name for e in active_for(db, DEMO_KIOSK_ID, TODAY)] == ["idle-line"]
        assert active_for(db, DEMO_KIOSK_ID, date(2030, 1, 1)) == []
