"""Crash consistency: kill a borrowing kiosk with SIGKILL at random moments, many times over.

A kiosk process borrows and returns (online against the real service, or offline against a dead
port) and reports each step on a pipe: `B kind item` before it asks, `T kind item ok tx offline`
once the patron would be told. The parent SIGKILLs it after a random delay, restarts it on the
same journal, and so on. At the end one clean run drains the queue, and the server's state is
compared with what patrons were told:

- every transaction a patron was told succeeded is applied on the server, exactly once;
- each item is on loan on the server exactly when the told history says so;
- anything applied that nobody was told about is at most the one step in flight at a kill;
- nothing is left pending or in conflict on the kiosk.
"""

from __future__ import annotations

import logging
import os
import random
import select
import signal
import socket
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from central.seed import AVAILABLE_ITEMS, DEMO_KIOSK_ID, DEMO_TOKEN
from kiosk.backends.rest import RestBackend
from kiosk.circulation import CirculationService, Connectivity, OfflinePolicy
from kiosk.domain import Patron
from kiosk.journal import Journal, State
from kiosk.sync import Backoff, SyncWorker
from kiosk.testing.central_process import CentralProcess

PATRON_ID = "P0015"  # a seeded patron with no loans, holds or fines
ITEMS = AVAILABLE_ITEMS[:8]


@dataclass
class CrashReport:
    cycles: int = 0
    kills: int = 0
    told_ok: int = 0
    offline_told: int = 0
    in_flight_at_kill: int = 0
    phantoms: int = 0
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens: connection refused


def _child(journal_path: Path, url: str, on_loan: set[str], seed: int, out: int,
           drain_only: bool) -> None:
    """The kiosk process under test. Never returns: exits via os._exit."""
    def say(line: str) -> None:
        os.write(out, (line + "\n").encode())

    logging.disable(logging.CRITICAL)  # the parent judges by outcomes; keep its output readable

    journal = Journal(journal_path)
    journal.recover_inflight()
    backend = RestBackend(url, DEMO_TOKEN, kiosk_id=DEMO_KIOSK_ID, timeout=(0.5, 2.0))
    connectivity = Connectivity(recheck_s=0.05)
    sync = SyncWorker(journal, backend, connectivity=connectivity, heartbeat_s=0.05,
                      backoff=Backoff(0.02, 0.1))
    if drain_only:
        for _ in range(100):
            if sync.flush():
                say("DRAINED")
                os._exit(0)
            time.sleep(0.05)
        os._exit(3)
    circulation = CirculationService(
        backend, journal, connectivity=connectivity, kiosk_id=DEMO_KIOSK_ID, flush=sync.flush,
        policy=OfflinePolicy(max_items_per_patron=1000),
    )
    sync.start()
    patron = Patron(PATRON_ID)
    rng = random.Random(seed)
    say("READY")
    while True:
        item = rng.choice(ITEMS)
        if item in on_loan:
            say(f"B checkin {item}")
            outcome = circulation.checkin(item, patron)
            kind = "checkin"
        else:
            say(f"B checkout {item}")
            outcome = circulation.checkout(patron, item)
            kind = "checkout"
        say(f"T {kind} {item} {int(outcome.ok)} {outcome.tx_id or '-'} {int(outcome.offline)}")
        if outcome.ok:
            (on_loan.discard if kind == "checkin" else on_loan.add)(item)
        time.sleep(rng.uniform(0.0, 0.01))  # the next book takes a moment to scan


def _spawn(journal_path: Path, url: str, on_loan: set[str], seed: int,
           drain_only: bool = False) -> tuple[int, int]:
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(rfd)
        try:
            _child(journal_path, url, set(on_loan), seed, wfd, drain_only)
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


def run(workdir: Path, cycles: int = 200, seed: int = 1, *, online_share: float = 0.6,
        max_life_s: float = 0.25) -> CrashReport:
    workdir.mkdir(parents=True, exist_ok=True)
    report = CrashReport()
    rng = random.Random(seed)
    started = time.monotonic()
    on_loan: set[str] = set()
    told: dict[str, tuple[str, str]] = {}  # tx_id -> (kind, item), ok ones only
    in_flight: list[tuple[int, str, str]] = []  # (step, kind, item) begun, untold at a kill
    last_told: dict[str, int] = {}  # item -> step of its last told transaction
    step = 0
    journal_path = workdir / "journal.db"
    with CentralProcess(workdir / "central.db") as central:
        dead = _dead_url()
        for cycle in range(cycles):
            url = central.url if rng.random() < online_share else dead
            pid, rfd = _spawn(journal_path, url, on_loan, seed * 100_003 + cycle)
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
            begun: tuple[str, str] | None = None
            for line in (data + rest).decode().splitlines():
                parts = line.split()
                step += 1
                if parts[:1] == ["B"]:
                    begun = (parts[1], parts[2])
                elif parts[:1] == ["T"]:
                    begun = None
                    kind, item, ok, tx_id, offline = parts[1:6]
                    last_told[item] = step
                    if ok == "1":
                        told[tx_id] = (kind, item)
                        report.told_ok += 1
                        report.offline_told += offline == "1"
                        (on_loan.discard if kind == "checkin" else on_loan.add)(item)
            if begun is not None:
                in_flight.append((step, *begun))
        pid, rfd = _spawn(journal_path, central.url, on_loan, seed, drain_only=True)
        out, _ = _read_until(rfd, None)
        os.close(rfd)
        _, status = os.waitpid(pid, 0)
        if b"DRAINED" not in out or os.waitstatus_to_exitcode(status) != 0:
            report.problems.append("the final sync did not drain the queue")
        report.in_flight_at_kill = len(in_flight)
        unsettled = {item: kind for at, kind, item in in_flight if at > last_told.get(item, -1)}
        _check(report, central.db_path, journal_path, on_loan, told, in_flight, unsettled)
    report.seconds = time.monotonic() - started
    return report


def _check(report: CrashReport, central_db: Path, journal_path: Path, on_loan: set[str],
           told: dict[str, tuple[str, str]], in_flight: list[tuple[int, str, str]],
           unsettled: dict[str, str]) -> None:
    """`unsettled`: items whose last step was cut by a kill and never retried; either state is
    then right, as long as it is the told one or the one the cut step would have made."""
    with sqlite3.connect(f"file:{central_db}?mode=ro", uri=True) as db:
        loans = {item for (item,) in db.execute(
            f"SELECT item_id FROM loans WHERE patron_id = ? AND item_id IN "
            f"({','.join('?' * len(ITEMS))})", (PATRON_ID, *ITEMS))}
        rows = db.execute(
            "SELECT tx_id, kind, item_id, status FROM transactions WHERE kiosk_id = ?",
            (DEMO_KIOSK_ID,)).fetchall()
        conflicts = db.execute("SELECT COUNT(*) FROM conflicts WHERE kiosk_id = ? AND "
                               "resolved_at IS NULL", (DEMO_KIOSK_ID,)).fetchone()[0]
    for item in ITEMS:
        told_state = item in on_loan
        allowed = {told_state}
        if item in unsettled:
            allowed.add(unsettled[item] == "checkout")
        if (item in loans) not in allowed:
            report.problems.append(f"item {item}: on loan on the server is {item in loans}, "
                                   f"patrons were told {told_state}")
    status_of = {tx_id: status for tx_id, _, _, status in rows}
    lost = [t for t in told if status_of.get(t) != "done"]
    if lost:
        report.problems.append(f"{len(lost)} told transaction(s) not applied: {lost[:3]}")
    spare = [(kind, item) for _, kind, item in in_flight]
    for tx_id, kind, item, status in rows:
        if status != "done" or kind not in ("checkout", "checkin", "renew") or tx_id in told:
            continue
        report.phantoms += 1
        if (kind, item) in spare:
            spare.remove((kind, item))
        else:
            report.problems.append(f"applied but never told and not in flight: {kind} {item}")
    if conflicts:
        report.problems.append(f"{conflicts} conflict(s) on the server")
    with Journal(journal_path) as journal:
        left = journal.counts()
    leftover = {k: v for k, v in left.items() if k not in (State.DONE, State.VOIDED)}
    if leftover:
        report.problems.append(f"left in the kiosk journal: {leftover}")


def main(argv: list[str] | None = None) -> int:
    """`python -m kiosk.testing.crash --cycles N`: runs in a fresh process, prints JSON last.

    A fresh process matters: forking from a process with other threads (a test runner's
    servers, device monitors) could copy a lock some other thread held.
    """
    import argparse
    import dataclasses
    import json
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", default="")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kiosk-crash-") as tmp:
        report = run(Path(args.workdir or tmp), cycles=args.cycles, seed=args.seed)
    print(json.dumps(dataclasses.asdict(report)))
    return 0 if not report.problems else 1


if __name__ == "__main__":
    raise SystemExit(main())
