"""The crash-consistency run over SIP2: SIGKILL a borrowing kiosk against pysip2's server.

The kill/restart loop, the pipe and the told bookkeeping are kiosk/testing/crash.py's; this is
the SIP2 `CrashWorld`: the ACS (`Library.for_crash()` behind pysip2's server) runs in its own
process and prints its final state when it stops; the kiosk talks SIP2 to it (with the "charged"
summary, which its read-backs need) or to a port where nothing listens.

SIP2 carries no transaction id, so the check works from what the library did instead: each
item's acts in order (lent, lent again to the patron who held it, returned, return of an item not
on loan ...). Stated as a librarian would:

- each item is on loan to the patron exactly when patrons were told so (an item whose last step
  was cut by a kill and never retried may also be as that step would have left it);
- every told loan and return is exactly one act of the library's, in the patron's order; the only
  other acts are those of steps in flight at a kill: the step itself (a phantom: applied, never
  told), the inverse its VOID sent to undo it, or both;
- the library never lent an item to the patron who already held it, nor took back an item that
  was not on loan, except where a step in flight at a kill explains it (each such double needs
  its own cut step of the same kind on the same item);
- nothing is left pending or in conflict in the kiosk's journal.

Run: .venv/bin/python tests/sip2/sip2_crash_world.py [--cycles N] [--seed S]   (JSON last)
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sip2_library_acs import (
    CRASH_ITEMS,
    CRASH_PATRON,
    LENT,
    NOT_LENT,
    NOT_ON_LOAN,
    RELENT,
    RETURNED,
    settings_for,
)

from kiosk.backends.base import CatalogBackend
from kiosk.backends.sip2 import Sip2Backend
from kiosk.testing.crash import (
    CrashReport,
    CrashWorld,
    Step,
    Told,
    check_loans,
    free_port,
    main,
)
from kiosk.testing.server_process import ServerProcess

ROOT = Path(__file__).resolve().parents[2]
ACS_SCRIPT = Path(__file__).with_name("sip2_library_acs.py")

# What one step may have left in an item's act log. A told success: exactly its own act (a
# told return may meet a book the library has back already, when an untold return got there
# first). A refusal: the refused request, or nothing (refused by the kiosk itself). A step cut
# by a kill: nothing, its act, its VOID's inverse act, or both, in that order.
_ACTS = {"checkout": (LENT, RELENT, NOT_LENT), "checkin": (RETURNED, NOT_ON_LOAN)}
_TOLD_OK = {"checkout": (LENT, RELENT), "checkin": (RETURNED, NOT_ON_LOAN)}
_REFUSED = {"checkout": NOT_LENT, "checkin": NOT_ON_LOAN}
_UNDO = {"checkout": RETURNED, "checkin": LENT}
_APPLIED = frozenset({LENT, RELENT, RETURNED})
_DOUBLES = {RELENT: "checkout", NOT_ON_LOAN: "checkin"}


@dataclass
class Sip2CrashReport(CrashReport):
    acs_checkouts: int = 0  # checkouts the library applied (lent or lent again)
    acs_checkins: int = 0  # checkins the library applied
    # checkouts of an item the patron already held + checkins of an item not on loan; each one
    # must be explained by a step in flight at a kill
    doubles: int = 0


class Sip2World(CrashWorld):
    patron_id = CRASH_PATRON
    items = CRASH_ITEMS
    kiosk_id = "KIOSK1"

    def __init__(self) -> None:
        self.final: dict[str, Any] = {}

    def start(self, workdir: Path) -> None:
        self._acs = ServerProcess([sys.executable, str(ACS_SCRIPT), "--crash"],
                                  what="the SIP2 ACS", env={"PYTHONPATH": str(ROOT)})
        self._dead_port = free_port()

    def backend(self, online: bool) -> CatalogBackend:
        # "charged": the backend reads a patron's loans back before sending again what may
        # have reached the library; without it there is no exactly-once over SIP2
        port = self._acs.port if online else self._dead_port
        # three connections: a pile's checkouts overlap, and each item's read-back runs on the
        # connection that sent it
        return Sip2Backend(settings_for(port, summary_flags=["charged"], connections=3))

    def stop(self) -> None:
        lines = self._acs.close().strip().splitlines()
        self.final = json.loads(lines[-1]) if lines else {}

    def new_report(self) -> CrashReport:
        return Sip2CrashReport()

    def check(self, report: CrashReport, told: Told) -> None:
        if not self.final:
            report.problems.append("the ACS did not report its final state")
            return
        holders: dict[str, str | None] = self.final["holders"]
        acts: dict[str, str] = self.final["acts"]
        check_loans(report, told, self.items,
                    {item for item, holder in holders.items() if holder == self.patron_id})
        strangers = {item: h for item, h in holders.items() if h not in (None, self.patron_id)}
        if strangers or set(acts) - set(self.items):
            report.problems.append(f"the library acted beyond the run: {strangers or acts}")
        if isinstance(report, Sip2CrashReport):
            report.acs_checkouts = self.final["checkouts"]
            report.acs_checkins = self.final["checkins"]
            report.doubles = self.final["checkouts_of_held"] + self.final["checkins_not_on_loan"]
        for item in self.items:
            steps = [s for s in told.steps if s.item == item]
            phantoms = _explain(report, item, steps, acts.get(item, ""))
            report.phantoms += phantoms or 0
        spare = [(s.kind, s.item) for s in told.steps if s.told == "cut"]
        for item, codes in acts.items():
            for code in codes:
                kind = _DOUBLES.get(code)
                if kind is None:
                    continue
                if (kind, item) in spare:
                    spare.remove((kind, item))
                else:
                    report.problems.append(f"item {item}: a {kind} the library did not need "
                                           f"({code}) and no step in flight explains it")


def _patterns(step: Step) -> list[tuple[str, bool]]:
    """The act strings `step` may have left, each with whether it is a phantom."""
    if step.told == "ok":
        return [(act, False) for act in _TOLD_OK[step.kind]]
    if step.told == "refused":
        return [("", False), (_REFUSED[step.kind], False)]
    undo = _UNDO[step.kind]
    cut = [("", False), (undo, False)]
    for act in _ACTS[step.kind]:
        cut += [(act, act in _APPLIED), (act + undo, act in _APPLIED)]
    return cut


def _explain(report: CrashReport, item: str, steps: list[Step], acts: str) -> int | None:
    """Match `item`'s acts to its steps, in order (see the module doc); returns the fewest
    phantoms that explain them, or None after adding the problem when nothing does."""
    best = {0: 0}  # how many acts are explained so far -> fewest phantoms among them
    for n, step in enumerate(steps):
        after: dict[int, int] = {}
        for pos, phantoms in best.items():
            for pattern, phantom in _patterns(step):
                if acts.startswith(pattern, pos):
                    end = pos + len(pattern)
                    after[end] = min(after.get(end, len(acts) + 1), phantoms + phantom)
        if not after:
            pos = min(best)
            report.problems.append(
                f"item {item}: the library's acts {acts[pos:pos + 12]!r}... do not match step "
                f"{n + 1} ({step.told} {step.kind}, offline={step.offline}) or those after it")
            return None
        best = after
    if len(acts) not in best:
        report.problems.append(f"item {item}: acts nobody was told about and no step in flight "
                               f"explains: {acts[max(best):]!r}")
        return None
    return best[len(acts)]


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:], world=Sip2World()))
