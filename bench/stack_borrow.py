"""A stack of ten books as fast as one? The real kiosk path over a modelled network.

The kiosk is built by `build_kiosk` as `kiosk run` builds it (session, circulation, the fsync'd
journal, the backend, the simulated RFID reader over a pseudo-terminal with the real FEIG
driver), and its central side sits behind the fault proxy with a fixed delay each way, so every
round trip costs what a real network costs (30 ms by default). A patron identifies with a card;
each run places a pile on the pad and is timed until every line is settled on the screen and
every tag's security is written and read back. Between runs the books go back (untimed) and a
new patron session starts.

Three ways in the same run, interleaved:
- stack:        the kiosk as shipped (`[session] max_stack = 50`): one journal commit for the
                pile's intents, one request, one commit for the answers;
- item by item: the same kiosk with `max_stack = 1`: two commits and a round trip per book, as
                every book was handled before stacks;
- sip2:         pysip2's SIP2 server (someone else's ACS) behind the same delay, 4 connections,
                100 ms of ILS work per checkout (real ILSs take 50-300 ms).
The pad polls every 10 ms here (250 ms by default), so detection does not blur the ratios.

    .venv/bin/python bench/stack_borrow.py [--runs 7] [--rtt-ms 30]

Targets: stack_ratio (ten books / one book, REST) <= 1.5, speedup (item by item / stack, for
ten books) >= 5, sip2_stack_ratio <= 4. `pad_extra_ms` is what the pad alone adds for nine more
tags (bench/rfid_stack.py's path, same run) and `stack_ratio_without_pad` the ratio without it:
the share of the stack that is network, journal and service. Returns of 20 and 30 books are
timed too (a patron may borrow 10 here, the library's loan limit). Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "sip2"))  # the SIP2 test library lives with its tests
sys.path.insert(0, str(ROOT / "bench"))

from rfid_stack import one_run as pad_run  # noqa: E402
from sip2_library_acs import LibItem, LibPatron, Library, RunningAcs, settings_for  # noqa: E402

from central.db import Database  # noqa: E402
from central.faultproxy import FaultProxy  # noqa: E402
from central.seed import seed  # noqa: E402
from central.server import start_in_thread  # noqa: E402
from domain.demo_library import AVAILABLE_ITEMS, DEMO_TOKEN, SEED_PATRONS  # noqa: E402
from domain.model import TransactionKind  # noqa: E402
from drivers.rfid_sim import SimRfidReader  # noqa: E402
from kiosk import config  # noqa: E402
from kiosk.app import Kiosk, build_kiosk  # noqa: E402
from kiosk.backends.base import CatalogBackend  # noqa: E402
from kiosk.backends.sip2 import Sip2Backend  # noqa: E402
from kiosk.circulation import StackItem  # noqa: E402
from kiosk.session import ChooseMode, Done, Mode, ReceiptChoice, Screen  # noqa: E402

PATRON = next(p for p in SEED_PATRONS if p.patron_id == "P0015")  # a card, no loans
ISIL = "NL-AmRBL"
TIMEOUT_S = 30.0


def _wait(predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.001)


def kiosk_settings(workdir: Path, url: str, max_stack: int) -> config.Settings:
    s = config.load(ROOT / "config" / "demo.toml")
    devices = dict(s.devices)
    devices["rfid"] = {**devices["rfid"], "poll_interval": 0.01}
    return dataclasses.replace(
        s, backend=dataclasses.replace(s.backend, url=url, token=DEMO_TOKEN),
        kiosk=dataclasses.replace(s.kiosk, data_dir=str(workdir)),
        library=dataclasses.replace(s.library, isils=[ISIL]),
        session=dataclasses.replace(s.session, max_stack=max_stack), devices=devices)


class Counter:
    """One kiosk at the pad: a patron session per run, piles placed, time to all settled."""

    def __init__(self, kiosk: Kiosk) -> None:
        self.kiosk = kiosk
        self.devs = kiosk.devices
        assert self.devs.rfid_sim is not None and self.devs.card_reader is not None

    def _view(self):  # type: ignore[no-untyped-def]
        return self.kiosk.session.view

    def _new_patron(self, mode: Mode) -> None:
        if self._view().screen not in (Screen.IDLE, Screen.GOODBYE):
            self.kiosk.put(Done())
            _wait(lambda: self._view().screen in (Screen.RECEIPT, Screen.GOODBYE), "goodbye")
            if self._view().screen == Screen.RECEIPT:
                self.kiosk.put(ReceiptChoice(False))
                _wait(lambda: self._view().screen == Screen.GOODBYE, "goodbye")
        rfid = self.devs.rfid
        _wait(lambda: rfid is not None and not rfid.tags
              and self.kiosk.events.unfinished_tasks == 0, "an empty pad")
        self.devs.card_reader.remove()
        self.devs.card_reader.present_uid(PATRON.card_uid)
        _wait(lambda: self._view().screen == Screen.HOME and not self._view().items, "home")
        self.kiosk.put(ChooseMode(mode))
        _wait(lambda: self._view().screen.value == mode.value, f"{mode.value} screen")

    def run(self, items: Sequence[str], mode: Mode = Mode.BORROW) -> float:
        """Seconds from the pile on the pad to every line settled and every tag written."""
        sim = self.devs.rfid_sim
        self._new_patron(mode)
        tags = sim.tags_for(items, owner_isil=ISIL)
        for tag in tags:  # each run starts from the shelf's state
            tag.afi = 0x07 if mode == Mode.BORROW else 0xC2
        wanted = 0xC2 if mode == Mode.BORROW else 0x07
        started = time.perf_counter()
        sim.place_items(items, owner_isil=ISIL)
        _wait(lambda: sum(not line.working for line in self._view().items) == len(items)
              and all(tag.afi == wanted for tag in tags), "the pile to settle")
        took = time.perf_counter() - started
        if not all(line.ok for line in self._view().items):
            raise SystemExit(f"refused: {[line.reason.value for line in self._view().items]}")
        sim.place_items([])
        kind = TransactionKind.CHECKIN if mode == Mode.BORROW else TransactionKind.CHECKOUT
        if mode == Mode.BORROW:  # the books go back to the shelf, untimed
            self.kiosk.circulation.transact_stack(kind, None, [StackItem(i) for i in items])
        return took


@contextmanager
def rest_library(workdir: Path, delay_s: float) -> Iterator[str]:
    db_path = workdir / "central.db"
    with Database(db_path) as db:
        seed(db)
    with start_in_thread(db_path) as server, \
            FaultProxy("127.0.0.1", server.port, delay_s=delay_s) as proxy:
        yield proxy.url


@contextmanager
def sip2_kiosk(workdir: Path, delay_s: float, items: Sequence[str]) -> Iterator[Counter]:
    lib = Library(patrons={PATRON.card_uid: LibPatron("Bench Patron", "1234")},
                  items={i: LibItem(f"Title {i}") for i in items})
    lib.loan_limit, lib.work_s = len(items), 0.1
    with RunningAcs(lib) as acs, FaultProxy("127.0.0.1", acs.port, delay_s=delay_s) as proxy:
        backend: CatalogBackend = Sip2Backend(settings_for(
            proxy.port, connections=4, timeout_s=10.0, summary_flags=["charged"]))
        settings = kiosk_settings(workdir, "http://127.0.0.1:9/", 50)
        settings = dataclasses.replace(
            settings, backend=dataclasses.replace(settings.backend, type="sip2"))
        kiosk = build_kiosk(settings, backend=backend)
        kiosk.start()
        try:
            yield Counter(kiosk)
        finally:
            kiosk.close()


def measure(counters: dict[str, Counter], items: Sequence[str], runs: int) -> dict[str, float]:
    """Median ms per way; the first run of each is a warm-up (connections, logins)."""
    ways: dict[str, Callable[[], float]] = {
        "single": lambda: counters["stack"].run(items[:1]),
        "stack10": lambda: counters["stack"].run(items[:10]),
        "item_by_item_stack10": lambda: counters["item"].run(items[:10]),
        "sip2_single": lambda: counters["sip2"].run(items[:1]),
        "sip2_stack10": lambda: counters["sip2"].run(items[:10]),
        "return_stack20": lambda: counters["stack"].run(items[:20], Mode.RETURN),
        "return_stack30": lambda: counters["stack"].run(items[:30], Mode.RETURN),
    }
    sim = SimRfidReader()
    ways["pad10"] = lambda: pad_run(sim, 10) / 1000  # the pad alone: decode and secure
    ways["pad1"] = lambda: pad_run(sim, 1) / 1000
    samples: dict[str, list[float]] = {name: [] for name in ways}
    for n in range(runs + 1):
        for name, way in ways.items():
            took = way()
            if n:
                samples[name].append(took)
    sim.close()
    return {name: statistics.median(values) * 1000 for name, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--rtt-ms", type=float, default=30.0)
    args = parser.parse_args()
    delay = args.rtt_ms / 2000
    items = AVAILABLE_ITEMS[100:130]
    with tempfile.TemporaryDirectory(prefix="stack-bench-") as tmp, ExitStack() as stack:
        work = Path(tmp)
        url = stack.enter_context(rest_library(work, delay))
        counters = {}
        for name, max_stack in (("stack", 50), ("item", 1)):
            (work / name).mkdir()
            kiosk = build_kiosk(kiosk_settings(work / name, url, max_stack))
            kiosk.start()
            stack.callback(kiosk.close)
            counters[name] = Counter(kiosk)
        (work / "sip2").mkdir()
        counters["sip2"] = stack.enter_context(sip2_kiosk(work / "sip2", delay, items))
        ms = measure(counters, items, args.runs)
    report(ms, args)


def report(ms: dict[str, float], args: argparse.Namespace) -> None:
    result = {
        "single_ms": round(ms["single"], 1), "stack10_ms": round(ms["stack10"], 1),
        "stack_ratio": round(ms["stack10"] / ms["single"], 2),
        "item_by_item_stack10_ms": round(ms["item_by_item_stack10"], 1),
        "speedup": round(ms["item_by_item_stack10"] / ms["stack10"], 2),
        "sip2_single_ms": round(ms["sip2_single"], 1),
        "sip2_stack10_ms": round(ms["sip2_stack10"], 1),
        "sip2_stack_ratio": round(ms["sip2_stack10"] / ms["sip2_single"], 2),
        # what the RFID pad itself adds for nine more tags (decode, security written and read
        # back; bench/rfid_stack.py's path), and the ratio without it: network and journal
        "pad_extra_ms": round(ms["pad10"] - ms["pad1"], 1),
        "stack_ratio_without_pad": round((ms["stack10"] - (ms["pad10"] - ms["pad1"]))
                                         / ms["single"], 2),
        "return_stack20_ms": round(ms["return_stack20"], 1),
        "return_stack30_ms": round(ms["return_stack30"], 1),
        "rtt_ms": args.rtt_ms, "runs": args.runs,
    }
    for key, value in result.items():
        print(f"{key:26} {value}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
