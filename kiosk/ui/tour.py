"""The scripted screen tour: `make demo` without a display still shows every screen.

It opens the real kiosk window on a headless display (our own Xvfb, or SDL offscreen), plays a
patron's visit through touches and simulated devices, and after each step writes a screenshot
and what the screen says to `output/` (`NN-step.png` and `ui-transcript.txt`).
"""

from __future__ import annotations

import functools
import logging
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiosk.ui.context import UiConfig, UiContext

if TYPE_CHECKING:
    from central.faultproxy import FaultProxy
    from kiosk.app import Kiosk
    from kiosk.ui.app import KioskApp

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Step:
    name: str
    say: str  # one line for the transcript: what happens in this step
    do: Callable[[Any], None]  # gets the TourDriver
    # what `say` claims, checked after the step: "" when it holds, else what is wrong (the
    # tour never narrates what did not happen)
    check: Callable[[Any], str] | None = None


class TourDriver:
    """Runs steps against the live app: touches by button name, device events, settling."""

    def __init__(self, app: KioskApp, settle: Callable[[], None]) -> None:
        self.app = app
        self._settle = settle

    def settle(self) -> None:
        from kiosk.ui import probe

        self._settle()
        probe.pump_until(lambda: self.app._latest is None, 5.0, settle=4)

    def tap(self, name: str) -> None:
        from kiosk.ui import probe

        probe.tap(probe.button(self.app, name))
        self.settle()

    def has(self, name: str) -> bool:
        """Whether the screen shows the button `name` now."""
        from kiosk.ui import probe

        return bool(probe.buttons(self.app, name))

    def wait_for_screen(self, screen: str, timeout: float = 10.0) -> bool:
        from kiosk.ui import probe

        return probe.pump_until(lambda: self.app.sm.current == screen, timeout)


def play(context: UiContext, steps: Sequence[Step], output: Path, *,
         settle: Callable[[], None]) -> int:
    """Open the window headless, run `steps`, write screenshots and a transcript; 0 if all ran."""
    from kiosk.ui.display import HeadlessDisplay

    output.mkdir(parents=True, exist_ok=True)
    with HeadlessDisplay(), tempfile.TemporaryDirectory(prefix="kiosk-kivy-") as kivy_home:
        os.environ.setdefault("KIVY_HOME", kivy_home)
        from kiosk.ui import env

        env.configure(context.config)
        from kivy.core.window import Window

        from kiosk.ui import probe
        from kiosk.ui.app import KioskApp

        app = KioskApp(context)
        app._run_prepare()
        Window.size = context.config.window_size
        driver = TourDriver(app, settle)
        failures = 0
        with (output / "ui-transcript.txt").open("w", encoding="utf-8") as transcript:
            for n, step in enumerate(steps, start=1):
                try:
                    step.do(driver)
                    driver.settle()
                    wrong = step.check(driver) if step.check else ""
                except Exception as exc:  # one broken step must not hide the others
                    log.exception("tour step %s failed", step.name)
                    wrong = f"failed: {exc}"
                if wrong:
                    failures += 1
                    transcript.write(f"!! step {step.name} {wrong}\n")
                shot = probe.screenshot(output / f"{n:02d}-{step.name}.png")
                transcript.write(f"{n:02d}. {step.say}\n    screen: {app.sm.current}  "
                                 f"(screenshot {shot.name})\n")
                for line in probe.reading_order(app):
                    transcript.write(f"    | {line}\n")
                transcript.flush()
        app.stop()
        Window.close()
    return 1 if failures else 0


def demo_steps(kiosk: Kiosk, proxy: FaultProxy) -> list[Step]:
    """A visit of the demo library (domain.demo_library ids): borrow, refusal, offline,
    languages, receipt, a return to the hold shelf, and renewals from the account screen.
    Cards, books and the network go through the simulated devices, as a patron's hands would."""
    from domain.demo_library import HELD_ITEMS, WAITED_FOR_ITEM

    v = _DemoVisit(kiosk, proxy)
    return [
        Step("idle", "The kiosk waits: library, how to start, opening hours.", lambda d: None),
        Step("home", f"{v.first_name(v.patron)} scans the library card.",
             v.by_hand(lambda: v.hands.scan(v.patron.barcode))),
        Step("borrow", "Taps Borrow.", lambda d: d.tap("mode-borrow")),
        Step("borrow-items", "Places three books on the pad, one after the other.",
             v.place_three),
        Step("refused", "Scans a book reserved for someone else.",
             v.by_hand(lambda: v.hands.scan(HELD_ITEMS[0]))),
        Step("offline", "The network is cut; one more book is borrowed offline.", v.offline_scan),
        Step("online", "The network returns; the banner goes away.", v.online),
        Step("french", "Switches the screen to French.", lambda d: d.tap("lang-fr")),
        Step("done", "Taps Done: the kiosk has a printer, so a receipt is offered.",
             lambda d: d.tap("done"), check=lambda d: v.on_screen(d, "receipt")),
        Step("goodbye", "Asks for a printed receipt.", v.goodbye, check=v.printed),
        Step("how-did-it-go", "Goodbye asks how it went: four faces, no free text. She "
             "taps the happiest one.", lambda d: d.tap("feedback-4")),
        Step("idle-again", "Thanked, the session ends; the screen is back in Dutch.",
             lambda d: d.wait_for_screen("idle")),
        Step("return", "Someone returns a book that another reader waits for.",
             v.by_hand(lambda: v.hands.place([WAITED_FOR_ITEM]))),
        Step("return-done", "Taps Done, no receipt.", v.return_done),
        Step("account", f"{v.first_name(v.lotte)} checks her account.", v.account),
        Step("renew-all", "Taps Renew all: her one loan left has been renewed as often as "
             "allowed, and the screen says so.", lambda d: d.tap("renew-all"),
             check=v.one_renewal_refused),
    ]


class _DemoVisit:
    """The tour's patrons, books and hands, and its steps that take more than one act."""

    def __init__(self, kiosk: Kiosk, proxy: FaultProxy) -> None:
        from domain.demo_library import AVAILABLE_ITEMS, SEED_PATRONS
        from kiosk.demo_devices import DemoHands

        self.kiosk = kiosk
        self.hands = DemoHands.at(kiosk, proxy)
        self.patron = next(p for p in SEED_PATRONS if p.patron_id == "P0015")
        self.lotte = next(p for p in SEED_PATRONS if p.patron_id == "P0008")
        self.items = list(AVAILABLE_ITEMS[120:124])
        self.receipts_before = 0

    @staticmethod
    def first_name(patron: Any) -> str:
        return str(patron.name.split()[0])

    @staticmethod
    def by_hand(act: Callable[[], None]) -> Callable[[TourDriver], None]:
        def do(d: TourDriver) -> None:
            act()
            d.settle()
        return do

    def offline_scan(self, d: TourDriver) -> None:
        self.hands.network(False)
        self.by_hand(lambda: self.hands.scan(self.items[3]))(d)

    def online(self, d: TourDriver) -> None:
        self.hands.network(True)
        self.kiosk.sync.wake(now=True)
        from kiosk.ui import probe

        probe.pump_until(lambda: not d.app.view.offline, 15.0)

    def goodbye(self, d: TourDriver) -> None:
        self.receipts_before = self._receipts()
        d.tap("receipt-print")

    def _receipts(self) -> int:
        printer = self.kiosk.devices.printer
        return len(getattr(printer, "receipts", ()))

    @staticmethod
    def on_screen(d: TourDriver, screen: str) -> str:
        return "" if d.app.sm.current == screen else f"is on {d.app.sm.current}, not {screen}"

    def printed(self, _d: TourDriver) -> str:
        return "" if self._receipts() == self.receipts_before + 1 else "printed no receipt"

    @staticmethod
    def one_renewal_refused(d: TourDriver) -> str:
        view = d.app.view
        loans = view.account.loans if view.account else ()
        if len(loans) == 1 and [r.ok for r in view.renewals] == [False]:
            return ""
        return f"{len(loans)} loan(s), renewals {[r.ok for r in view.renewals]}"

    def place_three(self, d: TourDriver) -> None:
        for k in (1, 2, 3):
            self.by_hand(functools.partial(self.hands.place, self.items[:k]))(d)

    def return_done(self, d: TourDriver) -> None:
        self.by_hand(lambda: self.hands.place(()))(d)  # the books leave the pad
        d.tap("done")
        if d.app.sm.current == "receipt":
            d.tap("receipt-none")
        if d.has("feedback-3"):  # "How did it go?" (every Nth visit): good
            d.tap("feedback-3")
        d.wait_for_screen("idle")

    def account(self, d: TourDriver) -> None:
        self.by_hand(lambda: self.hands.scan(self.lotte.barcode))(d)
        d.tap("mode-account")


def run_screen_tour(kiosk: Kiosk, proxy: FaultProxy, output: Path,
                    config: UiConfig | None = None) -> int:
    """For `kiosk demo --tour` without a display: the tour above, screenshots in `output`."""
    from kiosk.ui.context import ui_config_from_settings

    ui_config = config or ui_config_from_settings(kiosk.settings, window_size=(1024, 600))
    context = UiContext(events=kiosk, subscribe=kiosk.subscribe, config=ui_config)
    return play(context, demo_steps(kiosk, proxy), output, settle=kiosk.wait_idle)
