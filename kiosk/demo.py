"""`kiosk demo`: the reference catalog embedded on 127.0.0.1, simulated devices, a real kiosk.

With a display it opens the kiosk window (when the UI is installed); without one, or with
`--tour`, it plays a scripted patron session in the terminal: three loans online, the network
is cut, two loans offline, the network returns, the queue drains, and the server's final state
is shown. The transcript is also written to `demo-output/transcript.txt`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

from central.db import Database
from central.demo_visits import seed_demo_messages, seed_demo_month
from central.faultproxy import FaultProxy
from central.seed import seed
from central.server import start_in_thread
from central.staff import add_staff
from domain.demo_library import AVAILABLE_ITEMS, DEMO_STAFF, SEED_PATRONS
from kiosk import config
from kiosk.app import Kiosk, build_kiosk
from kiosk.demo_devices import DemoHands
from kiosk.session import ChooseMode, Done, Mode, ReceiptChoice, Screen, SessionView

log = logging.getLogger(__name__)


@contextlib.contextmanager
def embedded_library(output: Path, settings: config.Settings) -> Iterator[
        tuple[Kiosk, FaultProxy, config.Settings]]:
    """Fresh demo library + fault proxy + the kiosk of `settings` (its simulated devices from
    the config) in front of it; everything stops on exit."""
    var = output / "var"
    shutil.rmtree(var, ignore_errors=True)
    var.mkdir(parents=True)
    db_path = var / "central.db"
    with Database(db_path) as db:
        seed(db)
        add_staff(db, *DEMO_STAFF)
        seed_demo_month(db, date.today())  # generated visits, so the insights are not empty
        seed_demo_messages(db, date.today())
    with start_in_thread(db_path) as server, FaultProxy("127.0.0.1", server.port) as proxy:
        print(f"Staff dashboard: {server.url}/staff/ (demo login: {DEMO_STAFF[0]} / "
              f"{DEMO_STAFF[1]}); insights at {server.url}/staff/insights", flush=True)
        settings = dataclasses.replace(
            settings,
            backend=dataclasses.replace(settings.backend, url=proxy.url),
            kiosk=dataclasses.replace(settings.kiosk, data_dir=str(var)),
        )
        kiosk = build_kiosk(settings)
        kiosk.start()
        try:
            yield kiosk, proxy, settings
        finally:
            kiosk.close()


def _has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _log_to_file(path: Path) -> None:
    """The demo's console is for the patron's story; the technician's log goes to a file."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def run_demo(config_path: Path, *, tour: bool, output: Path) -> int:
    settings = config.load(config_path)
    output.mkdir(parents=True, exist_ok=True)
    _log_to_file(output / "kiosk.log")
    print(f"(log: {output / 'kiosk.log'})")
    if not tour and _has_display() and _ui_installed():
        from kiosk.ui import run_demo_ui

        with embedded_library(output, settings) as (kiosk, proxy, _):
            return run_demo_ui(kiosk, proxy)
    if not tour:
        print("No display found: playing the scripted tour instead "
              "(transcript and screenshots in demo-output/).")
    status = play_tour(settings, output)
    if not _ui_installed():
        print("The touchscreen UI (kivy) is not installed: no screenshots.")
        return status
    from kiosk.ui import run_screen_tour

    print("\nThe same kind of visit on the touchscreen, on a virtual display:")
    with embedded_library(output, settings) as (kiosk, proxy, _):
        screens = run_screen_tour(kiosk, proxy, output)
    shots = sorted(p.name for p in output.glob("[0-9][0-9]-*.png"))
    print(f"   {len(shots)} screenshots in {output}/ ({', '.join(shots[:3])} ...); "
          f"what each shows: {output / 'ui-transcript.txt'}")
    return status or screens


def _ui_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("kivy") is not None


class Transcript:
    def __init__(self, path: Path) -> None:
        self._file = path.open("w", encoding="utf-8")

    def __call__(self, text: str = "") -> None:
        print(text, flush=True)
        self._file.write(text + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def _wait(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def _item_line(view: SessionView, item_id: str) -> str:
    for line in view.items:
        if line.item_id == item_id:
            if not line.ok:
                return f"refused ({line.reason.value})"
            if line.offline:
                return "borrowed OFFLINE: saved on the kiosk, will be sent later"
            return f"borrowed: {line.title!r}, due {line.due}"
    return "no answer"


def play_tour(settings: config.Settings, output: Path) -> int:
    say = Transcript(output / "transcript.txt")
    patron = next(p for p in SEED_PATRONS if not p.role and p.patron_id >= "P0015")
    items = AVAILABLE_ITEMS[100:105]
    try:
        with embedded_library(output, settings) as (kiosk, proxy, _):
            hands = DemoHands.at(kiosk, proxy)

            def act(event: object) -> SessionView:
                kiosk.put(event)
                kiosk.wait_idle()
                return kiosk.session.view

            def scan(code: str) -> SessionView:
                hands.scan(code)
                kiosk.wait_idle()
                return kiosk.session.view

            say(f"Demo library on {proxy.url} (reference catalog behind a fault proxy)")
            say(f"1. {patron.name.split()[0]} scans the library card {patron.barcode[:4]}…")
            view = scan(patron.barcode)
            say(f"   screen: {view.screen.value}, greeting {view.patron_name!r}, "
                f"{'offline' if view.offline else 'online'}")
            view = act(ChooseMode(Mode.BORROW))
            for item in items[:3]:
                view = scan(item)
                say(f"   scans {item}: {_item_line(view, item)}")
            say("2. The network is cut.")
            hands.network(False)
            for item in items[3:]:
                view = scan(item)
                say(f"   scans {item}: {_item_line(view, item)}")
            say(f"   offline banner shown: {view.offline}; waiting in the journal: "
                f"{kiosk.journal.pending_count()}")
            view = act(Done())
            if view.screen == Screen.RECEIPT:
                view = act(ReceiptChoice(False))
            say(f"   patron leaves; screen: {view.screen.value}")
            say("3. The network returns; the sync worker drains the queue.")
            hands.network(True)
            kiosk.sync.wake(now=True)
            drained = _wait(lambda: kiosk.journal.pending_count() == 0, 30)
            say(f"   queue empty: {drained}; online: {kiosk.connectivity.online}")
            account = kiosk.backend.account(patron.patron_id)
            say(f"4. The library system now lists {len(account.loans)} loans for "
                f"{patron.name.split()[0]}:")
            for loan in account.loans:
                say(f"   {loan.item_id}  due {loan.due}  {loan.title}")
            ok = drained and set(items) <= {loan.item_id for loan in account.loans}
            say("All five loans reached the library exactly once." if ok
                else "Some loans did not reach the library: see the log.")
            return 0 if ok else 1
    finally:
        say.close()

