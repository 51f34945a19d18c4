"""What listening to patrons costs: on the kiosk per visit, and on the dashboard per question.

1. record_ratio: the same visit (a card, two books borrowed, done, no receipt, goodbye) on two
   kiosks built by `build_kiosk` against the same in-process reference library, one recording
   visits ([insights] enabled: the recorder on the event thread, the writer thread committing
   to the journal) and one not; interleaved, medians compared (with / without). The books go
   back between visits, untimed. Target <= 1.02.
2. query_p95_ms: the insights page's queries (central.insights.summary and the weekly
   satisfaction series, as /staff/api/insights asks them) over one year of generated visits
   for 50 kiosks in five branches (central/demo_visits.py, ~2 million visits) on SQLite, for a
   mix of scopes (the library, a branch, a kiosk; a year, a quarter, a month, odd ranges).
   Target p95 < 500 ms here. The visit rows themselves are not written by default (the page
   reads only the day and month counters; --with-rows writes them too, ~1 GB and minutes).

    .venv/bin/python bench/insights.py [--visits 40] [--kiosks 50] [--per-day 160]

Last line: {"record_ratio", "query_p95_ms", "visits"}.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from central.db import Database, copy_database
from central.demo_visits import load, visits_for
from central.insights import Scope, satisfaction_by_week, summary
from central.seed import seed
from domain.demo_library import AVAILABLE_ITEMS, DEMO_KIOSK_ID, SEED_PATRONS
from domain.events import BarcodeScanned, CardPresented
from domain.model import Credential, CredentialKind, Patron, TransactionKind
from domain.visits import Visit
from kiosk import config
from kiosk.app import Kiosk, build_kiosk
from kiosk.circulation import StackItem
from kiosk.session import ChooseMode, Done, Mode, ReceiptChoice
from kiosk.testing.in_process import InProcessLibrary

PATRON = SEED_PATRONS[14]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def kiosk_on(library: InProcessLibrary, folder: Path, *, record: bool, clock: Clock) -> Kiosk:
    settings = config.Settings(
        kiosk=config.KioskSection(id=DEMO_KIOSK_ID, data_dir=str(folder)),
        journal=config.JournalSection(path=str(folder / "journal.db")),
        insights=config.InsightsSection(enabled=record, feedback=False),
        session=config.SessionSection(goodbye_s=1.0),
    )
    return build_kiosk(settings, backend=library.backend(), clock=clock)


def one_visit(kiosk: Kiosk, clock: Clock, items: list[str]) -> float:
    session = kiosk.session
    started = time.perf_counter()
    session.handle(CardPresented(Credential(CredentialKind.BARCODE, PATRON.barcode)))
    session.handle(ChooseMode(Mode.BORROW))
    for item in items:
        session.handle(BarcodeScanned(item))
    session.handle(Done())
    session.handle(ReceiptChoice(print_receipt=False))
    clock.now += 2.0
    session.tick()  # goodbye is over: the visit ends (and is recorded, or not)
    elapsed = time.perf_counter() - started
    if session.view.screen.value != "idle":
        raise RuntimeError(f"the visit did not end: {session.view.screen}")
    kiosk.circulation.transact_stack(  # the books go back, untimed
        TransactionKind.CHECKIN, Patron(PATRON.patron_id), [StackItem(i) for i in items])
    return elapsed


def record_ratio(visits: int) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        with Database(folder / "template.db") as db:
            seed(db)
        library = InProcessLibrary(copy_database(folder / "template.db", folder / "lib.db"))
        clocks = {True: Clock(), False: Clock()}
        kiosks = {}
        for record in (True, False):
            (folder / str(record)).mkdir()
            kiosks[record] = kiosk_on(library, folder / str(record), record=record,
                                      clock=clocks[record])
        times: dict[bool, list[float]] = {True: [], False: []}
        items = list(AVAILABLE_ITEMS[30:32])
        try:
            for n in range(visits + 2):
                for record in ((True, False) if n % 2 else (False, True)):
                    elapsed = one_visit(kiosks[record], clocks[record], items)
                    if n >= 2:  # the first rounds warm caches up
                        times[record].append(elapsed)
            kiosks[True].visits.close()  # type: ignore[union-attr]
            recorded = kiosks[True].journal.visit_count()
        finally:
            for kiosk in kiosks.values():
                kiosk.close()
            library.close()
    if recorded < visits:
        raise RuntimeError(f"only {recorded} of {visits} visits were recorded")
    return statistics.median(times[True]) / statistics.median(times[False]), recorded


def year_of_visits(kiosks: int, per_day: float, end: date) -> Iterator[tuple[str, str, Visit]]:
    rng = random.Random(7)
    for offset in range(365, 0, -1):
        day = end - timedelta(days=offset)
        for k in range(kiosks):
            for visit in visits_for(day, k, rng, per_day=per_day):
                yield f"kiosk-{k:02d}", f"branch-{k % 5}", visit


def query_p95(kiosks: int, per_day: float, *, with_rows: bool) -> tuple[float, int]:
    end = date(2026, 12, 1)
    with tempfile.TemporaryDirectory() as tmp, Database(Path(tmp) / "central.db") as db:
        with db.write() as conn:
            for k in range(kiosks):
                conn.execute("INSERT INTO kiosks (kiosk_id, name, branch, token_hash)"
                             " VALUES (?,?,?,?)",
                             (f"kiosk-{k:02d}", f"Kiosk {k}", f"branch-{k % 5}", f"h{k}"))
        total = load(db, year_of_visits(kiosks, per_day, end), rows_too=with_rows)
        scopes = _scopes(end)
        times: list[float] = []
        for _ in range(3):
            for scope in scopes:
                started = time.perf_counter()
                summary(db, scope)
                satisfaction_by_week(db, scope)
                times.append(time.perf_counter() - started)
    times.sort()
    return times[int(0.95 * (len(times) - 1))] * 1000, total


def _scopes(end: date) -> list[Scope]:
    year = end - timedelta(days=364)
    out = [Scope(year, end), Scope(end - timedelta(days=90), end),
           Scope(end - timedelta(days=29), end), Scope(date(2026, 3, 17), date(2026, 9, 4)),
           Scope(year, end, branch="branch-2"), Scope(end - timedelta(days=90), end,
                                                      branch="branch-4"),
           Scope(year, end, kiosk_id="kiosk-07"), Scope(end - timedelta(days=6), end,
                                                         kiosk_id="kiosk-31")]
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=40, help="timed visits per kiosk")
    parser.add_argument("--kiosks", type=int, default=50)
    parser.add_argument("--per-day", type=float, default=160.0,
                        help="a kiosk's visits on an ordinary day (~2 million a year for 50)")
    parser.add_argument("--with-rows", action="store_true",
                        help="also write every visit's row (not read by the page)")
    args = parser.parse_args(argv)
    ratio, recorded = record_ratio(args.visits)
    print(f"recording: {ratio:.3f} x the time of a visit not recorded ({recorded} recorded)",
          file=sys.stderr)
    started = time.perf_counter()
    p95, total = query_p95(args.kiosks, args.per_day, with_rows=args.with_rows)
    print(f"dashboard: {total} visits loaded in {time.perf_counter() - started:.0f} s; "
          f"p95 of the page's queries {p95:.0f} ms", file=sys.stderr)
    print(json.dumps({"record_ratio": round(ratio, 3), "query_p95_ms": round(p95, 1),
                      "visits": total, "kiosks": args.kiosks, "rows_written": args.with_rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
