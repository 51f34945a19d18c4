"""Crash consistency: kill a borrowing kiosk with SIGKILL at random moments, many times over.

A kiosk process borrows and returns piles of 1 to 10 books (online against the real server side,
or offline against a dead port), as a patron puts them on the pad, and reports each step on a
pipe: `B kind item` for every book of the pile before it asks, `T kind item ok tx offline
reason` as each book's answer is settled and the patron would be told. The parent SIGKILLs
it after a random delay, restarts it on the same journal, and so on. At the end one clean run
drains the queue, and the server's state is compared with what patrons were told:

- every transaction a patron was told succeeded is applied on the server, exactly once;
- each item is on loan on the server exactly when the told history says so;
- anything applied that nobody was told about is at most the pile in flight at a kill;
- nothing is left pending or in conflict on the kiosk.

The loop, the pipe and the told bookkeeping are shared; what differs per backend is a
`CrashWorld`: how its server side starts and stops (always in its own process: the harness
forks, and a fork must not copy server threads), how a kiosk process builds its backend online
and "dead", and how the server's final state is checked. `RestWorld` (here) checks the reference
service by transaction id; the SIP2 world (tests/sip2/sip2_crash_world.py, run against pysip2's
server) has no ids to count by and reads back the acts the library applied instead.
"""

from __future__ import annotations

import abc
import logging
import os
import random
import select
import signal
import socket
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from domain.demo_library import AVAILABLE_ITEMS, DEMO_KIOSK_ID, DEMO_TOKEN
from domain.model import Outcome, Patron, ReasonCode, TransactionKind
from kiosk.app import build_kiosk
from kiosk.backends.base import CatalogBackend
from kiosk.backends.rest import RestBackend
from kiosk.circulation import OfflinePolicy, StackItem
from kiosk.config import JournalSection, KioskSection, Settings, SyncSection
from kiosk.journal import Journal, State
from kiosk.testing.central_process import CentralProcess

PATRON_ID = "P0015"  # a seeded patron with no loans, holds or fines
ITEMS = AVAILABLE_ITEMS[:12]
MAX_STACK = 10


@dataclass
class CrashReport:
    cycles: int = 0
    kills: int = 0
    told_ok: int = 0
    offline_told: int = 0
    in_flight_at_kill: int = 0
    phantoms: int = 0
    refused: dict[str, int] = field(default_factory=dict)  # reason -> count, to read a failure
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass(frozen=True)
class Step:
    """One borrow or return as the patron experienced it: `told` is "ok", "refused", or "cut"
    (in flight at a kill: the patron heard nothing)."""

    kind: str
    item: str
    told: str
    offline: bool = False


def told_on_loan(on_loan: set[str], kind: str, item: str, ok: bool, reason: str) -> None:
    """What the patron now believes about `item`, after an answer. A refused return that says
    "not on loan" tells the patron just that (a SIP2 library refuses such a return, where the
    reference service accepts it as harmless)."""
    if ok:
        (on_loan.discard if kind == "checkin" else on_loan.add)(item)
    elif kind == "checkin" and reason == ReasonCode.NOT_ON_LOAN.value:
        on_loan.discard(item)


@dataclass
class Told:
    """What patrons were told, read from the kiosk processes' pipes."""

    on_loan: set[str] = field(default_factory=set)
    ok: dict[str, tuple[str, str]] = field(default_factory=dict)  # tx_id -> (kind, item)
    in_flight: list[tuple[int, str, str]] = field(default_factory=list)  # (at, kind, item)
    last_told: dict[str, int] = field(default_factory=dict)  # item -> `at` of its last answer
    steps: list[Step] = field(default_factory=list)  # every step, in the order patrons took them
    lines: int = 0  # read so far, over the whole run (the `at` above)

    def read(self, output: bytes, report: CrashReport) -> None:
        """One kiosk process's lines, up to its kill."""
        begun: dict[str, str] = {}  # item -> kind, for the pile being asked about
        for line in output.decode().splitlines():
            parts = line.split()
            self.lines += 1
            if parts[:1] == ["B"]:
                begun[parts[2]] = parts[1]
            elif parts[:1] == ["T"]:
                kind, item, ok, tx_id, offline, reason = parts[1:7]
                begun.pop(item, None)
                self.last_told[item] = self.lines
                self.steps.append(Step(kind, item, "ok" if ok == "1" else "refused",
                                       offline == "1"))
                told_on_loan(self.on_loan, kind, item, ok == "1", reason)
                if ok == "1":
                    self.ok[tx_id] = (kind, item)
                    report.told_ok += 1
                    report.offline_told += offline == "1"
                else:
                    report.refused[reason] = report.refused.get(reason, 0) + 1
        for item, kind in begun.items():
            self.in_flight.append((self.lines, kind, item))
            self.steps.append(Step(kind, item, "cut"))

    def unsettled(self) -> dict[str, str]:
        """Items whose last step was cut by a kill and never retried: item -> that step's kind."""
        return {item: kind for at, kind, item in self.in_flight
                if at > self.last_told.get(item, -1)}


class CrashWorld(abc.ABC):
    """What differs per backend: the server side, the kiosk's backend, the final check."""

    patron_id: str
    items: Sequence[str]
    kiosk_id: str = ""

    @abc.abstractmethod
    def start(self, workdir: Path) -> None:
        """Start the server side, in its own process (the harness forks after this)."""

    @abc.abstractmethod
    def backend(self, online: bool) -> CatalogBackend:
        """The kiosk's backend, built in the kiosk process: to the server, or (offline) to a
        port where nothing listens."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Stop the server side (its final state may be read here)."""

    @abc.abstractmethod
    def check(self, report: CrashReport, told: Told) -> None:
        """Compare the stopped server's final state with what patrons were told."""

    def new_report(self) -> CrashReport:
        return CrashReport()


def free_port() -> int:
    """A TCP port on 127.0.0.1 where nothing listens (connections are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _dead_url() -> str:
    return f"http://127.0.0.1:{free_port()}"  # nothing listens: connection refused


class RestWorld(CrashWorld):
    """The reference catalog service, which keeps a tx_id per transaction: checked by id."""

    patron_id = PATRON_ID
    items = ITEMS
    kiosk_id = DEMO_KIOSK_ID

    def start(self, workdir: Path) -> None:
        self._central = CentralProcess(workdir / "central.db")
        self._dead = _dead_url()

    def backend(self, online: bool) -> CatalogBackend:
        return RestBackend(self._central.url if online else self._dead, DEMO_TOKEN,
                           kiosk_id=self.kiosk_id, timeout=(0.5, 2.0))

    def stop(self) -> None:
        self._central.close()

    def check(self, report: CrashReport, told: Told) -> None:
        with sqlite3.connect(f"file:{self._central.db_path}?mode=ro", uri=True) as db:
            loans = {item for (item,) in db.execute(
                f"SELECT item_id FROM loans WHERE patron_id = ? AND item_id IN "
                f"({','.join('?' * len(self.items))})", (self.patron_id, *self.items))}
            rows = db.execute(
                "SELECT tx_id, kind, item_id, status FROM transactions WHERE kiosk_id = ?",
                (self.kiosk_id,)).fetchall()
            conflicts = db.execute("SELECT COUNT(*) FROM conflicts WHERE kiosk_id = ? AND "
                                   "resolved_at IS NULL", (self.kiosk_id,)).fetchone()[0]
        check_loans(report, told, self.items, loans)
        status_of = {tx_id: status for tx_id, _, _, status in rows}
        lost = [t for t in told.ok if status_of.get(t) != "done"]
        if lost:
            report.problems.append(f"{len(lost)} told transaction(s) not applied: {lost[:3]}")
        spare = [(kind, item) for _, kind, item in told.in_flight]
        for tx_id, kind, item, status in rows:
            if status != "done" or kind not in ("checkout", "checkin", "renew") \
                    or tx_id in told.ok:
                continue
            report.phantoms += 1
            if (kind, item) in spare:
                spare.remove((kind, item))
            else:
                report.problems.append(f"applied but never told and not in flight: {kind} {item}")
        if conflicts:
            report.problems.append(f"{conflicts} conflict(s) on the server")


def check_loans(report: CrashReport, told: Told, items: Sequence[str], loans: set[str]) -> None:
    """Each item is on loan on the server (`loans`) exactly when patrons were told so; for an
    item whose last step was cut by a kill and never retried, the state that step would have
    made is right too."""
    unsettled = told.unsettled()
    for item in items:
        told_state = item in told.on_loan
        allowed = {told_state}
        if item in unsettled:
            allowed.add(unsettled[item] == "checkout")
        if (item in loans) not in allowed:
            report.problems.append(f"item {item}: on loan on the server is {item in loans}, "
                                   f"patrons were told {told_state}")


def check_journal(report: CrashReport, journal_path: Path) -> None:
    """Nothing is left pending, unsent or in conflict on the kiosk."""
    with Journal(journal_path) as journal:
        left = journal.counts()
    leftover = {k: v for k, v in left.items() if k not in (State.DONE, State.VOIDED)}
    if leftover:
        report.problems.append(f"left in the kiosk journal: {leftover}")


def _settings(world: CrashWorld, journal_path: Path) -> Settings:
    """A kiosk as `kiosk run` builds it, with short timers, no devices, a generous policy."""
    return Settings(
        kiosk=KioskSection(id=world.kiosk_id, data_dir=str(journal_path.parent)),
        journal=JournalSection(path=str(journal_path)),
        sync=SyncSection(heartbeat_s=0.05, backoff_base_s=0.02, backoff_max_s=0.1,
                         recheck_s=0.05),
        offline=OfflinePolicy(max_items_per_patron=1000),
    )


def _child(world: CrashWorld, journal_path: Path, online: bool, on_loan: set[str], seed: int,
           out: int, drain_only: bool) -> None:
    """The kiosk process under test. Never returns: exits via os._exit."""
    def say(line: str) -> None:
        os.write(out, (line + "\n").encode())

    logging.disable(logging.CRITICAL)  # the parent judges by outcomes; keep its output readable

    kiosk = build_kiosk(_settings(world, journal_path), backend=world.backend(online))
    circulation, sync = kiosk.circulation, kiosk.sync
    if drain_only:
        for _ in range(100):
            if sync.flush():
                say("DRAINED")
                os._exit(0)
            time.sleep(0.05)
        os._exit(3)
    kiosk.start()
    patron = Patron(world.patron_id)
    rng = random.Random(seed)
    say("READY")

    def tell(kind: str) -> Callable[[Outcome], None]:
        def told(outcome: Outcome) -> None:
            say(f"T {kind} {outcome.item_id} {int(outcome.ok)} {outcome.tx_id or '-'} "
                f"{int(outcome.offline)} {outcome.reason.value}")
            told_on_loan(on_loan, kind, outcome.item_id, outcome.ok, outcome.reason.value)
        return told

    while True:
        kind, pile = next_pile(rng, world.items, on_loan)
        for item in pile:
            say(f"B {kind} {item}")
        circulation.transact_stack(TransactionKind(kind), patron,
                                   [StackItem(item) for item in pile], on_outcome=tell(kind))
        time.sleep(rng.uniform(0.0, 0.01))  # the next patron takes a moment


def next_pile(rng: random.Random, items: Sequence[str],
              on_loan: set[str]) -> tuple[str, list[str]]:
    """A patron's next pile: books to borrow (not on loan) or to bring back (on loan), 1 to
    MAX_STACK of them, mostly small as at a real kiosk."""
    home = [i for i in items if i in on_loan]
    shelf = [i for i in items if i not in on_loan]
    kind = "checkin" if home and (not shelf or rng.random() < 0.5) else "checkout"
    pool = home if kind == "checkin" else shelf
    size = min(len(pool), rng.choice((1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10)), MAX_STACK)
    return kind, rng.sample(pool, size)


def _spawn(world: CrashWorld, journal_path: Path, online: bool, on_loan: set[str], seed: int,
           drain_only: bool = False) -> tuple[int, int]:
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(rfd)
        try:
            _child(world, journal_path, online, set(on_loan), seed, wfd, drain_only)
        except BaseException:
            os._exit(4)
    os.close(wfd)
    return pid, rfd


def _read_until(rfd: int, deadline: float | None) -> tuple[bytes, bool]:
    """Read the child's lines until `deadline` (or EOF); returns (data, eof)."""
    chunks: list[bytes] = []
    while True:
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        ready, _, _ = select.select([rfd], [], [], timeout)
        if not ready:
            return b"".join(chunks), False
        data = os.read(rfd, 65536)
        if not data:
            return b"".join(chunks), True
        chunks.append(data)


def run(workdir: Path, cycles: int = 200, seed: int = 1, *, world: CrashWorld | None = None,
        online_share: float = 0.6, max_life_s: float = 0.25,
        journal_dir: Path | None = None) -> CrashReport:
    """Kill and restart a kiosk `cycles` times against `world` (the REST service by default).
    `journal_dir` puts the kiosk's journal elsewhere (e.g. on a nearly full disk of its own)."""
    world = world if world is not None else RestWorld()
    workdir.mkdir(parents=True, exist_ok=True)
    report = world.new_report()
    rng = random.Random(seed)
    started = time.monotonic()
    told = Told()
    journal_path = (journal_dir or workdir) / "journal.db"
    world.start(workdir)
    try:
        for cycle in range(cycles):
            online = rng.random() < online_share
            pid, rfd = _spawn(world, journal_path, online, told.on_loan, seed * 100_003 + cycle)
            data, eof = _read_until(rfd, time.monotonic() + rng.uniform(0.0, max_life_s))
            os.kill(pid, signal.SIGKILL)
            rest, _ = _read_until(rfd, None)
            os.close(rfd)
            _, status = os.waitpid(pid, 0)
            if eof and os.waitstatus_to_exitcode(status) != -signal.SIGKILL:
                report.problems.append(f"cycle {cycle}: the kiosk process died by itself "
                                       f"(exit {os.waitstatus_to_exitcode(status)})")
            report.cycles += 1
            report.kills += 1
            told.read(data + rest, report)
        pid, rfd = _spawn(world, journal_path, True, told.on_loan, seed, drain_only=True)
        out, _ = _read_until(rfd, None)
        os.close(rfd)
        _, status = os.waitpid(pid, 0)
        if b"DRAINED" not in out or os.waitstatus_to_exitcode(status) != 0:
            report.problems.append("the final sync did not drain the queue")
        report.in_flight_at_kill = len(told.in_flight)
    finally:
        world.stop()
    world.check(report, told)
    check_journal(report, journal_path)
    report.seconds = time.monotonic() - started
    return report


def main(argv: list[str] | None = None, *, world: CrashWorld | None = None) -> int:
    """`python -m kiosk.testing.crash --cycles N`: runs in a fresh process, prints JSON last.

    A fresh process matters: forking from a process with other threads (a test runner's
    servers, device monitors) could copy a lock some other thread held. Other worlds call this
    from their own script (e.g. tests/sip2/sip2_crash_world.py) with `world`.
    """
    import argparse
    import dataclasses
    import json
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", default="")
    parser.add_argument("--journal-dir", default="", help="where the kiosk's journal lives")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kiosk-crash-") as tmp:
        report = run(Path(args.workdir or tmp), cycles=args.cycles, seed=args.seed, world=world,
                     journal_dir=Path(args.journal_dir) if args.journal_dir else None)
    print(json.dumps(dataclasses.asdict(report)))
    return 0 if not report.problems else 1


if __name__ == "__main__":
    raise SystemExit(main())
