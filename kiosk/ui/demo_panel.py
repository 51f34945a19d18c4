"""Demo controls: keyboard shortcuts that drive the simulated devices.

Why shortcuts and not on-screen buttons: the demo must look exactly like the real kiosk,
so nothing extra is drawn on the patron's screen. Shortcuts (shown in the log at start):

    F1 / F2 / F3   present sample card 1 / 2 / 3
    F4             remove the card
    F5..F8         place sample item 1..4 on the pad (adds to what is there)
    F9             clear the pad
    F10            cut the network     F11  restore the network
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from kiosk.ui.context import DemoControls

if TYPE_CHECKING:
    from central.faultproxy import FaultProxy
    from kiosk.app import Kiosk
    from kiosk.ui.app import KioskApp

log = logging.getLogger(__name__)

F_KEYS = {282 + i: f"F{i + 1}" for i in range(12)}  # SDL2 key codes for F1..F12


class DemoKeys:
    """Maps function keys to the simulated devices' controls; keeps the pad's contents."""

    def __init__(self, demo: DemoControls) -> None:
        self.demo = demo
        self.on_pad: list[str] = []
        self.actions: dict[str, Callable[[], None]] = {}
        for n, uid in enumerate(demo.sample_cards[:3]):
            self.actions[f"F{n + 1}"] = self._card(uid)
        self.actions["F4"] = self._call(demo.remove_card)
        for n, item in enumerate(demo.sample_items[:4]):
            self.actions[f"F{n + 5}"] = self._place(item)
        self.actions["F9"] = self._clear
        self.actions["F10"] = self._network(False)
        self.actions["F11"] = self._network(True)
        self.uninstall: Callable[[], None] = lambda: None

    def _call(self, fn: Callable[[], None] | None) -> Callable[[], None]:
        return (lambda: fn()) if fn is not None else (lambda: None)

    def _card(self, uid: str) -> Callable[[], None]:
        return lambda: self.demo.present_card(uid) if self.demo.present_card else None

    def _place(self, item: str) -> Callable[[], None]:
        def place() -> None:
            if item not in self.on_pad:
                self.on_pad.append(item)
            if self.demo.place_items:
                self.demo.place_items(tuple(self.on_pad))
        return place

    def _clear(self) -> None:
        self.on_pad.clear()
        if self.demo.clear_pad:
            self.demo.clear_pad()
        elif self.demo.place_items:
            self.demo.place_items(())

    def _network(self, up: bool) -> Callable[[], None]:
        return lambda: self.demo.set_network(up) if self.demo.set_network else None

    def press(self, key_name: str) -> bool:
        action = self.actions.get(key_name)
        if action is None:
            return False
        log.info("demo key %s", key_name)
        try:
            action()
        except Exception:  # a demo control failing must not close the window
            log.exception("demo control %s failed", key_name)
        return True


def install_demo_controls(app: KioskApp, demo: DemoControls) -> DemoKeys:
    """Bind the function keys on the app's window. The simulated devices must not block."""
    from kivy.core.window import Window

    keys = DemoKeys(demo)

    def on_key_down(_window: object, key: int, *_args: object) -> bool:
        name = F_KEYS.get(key)
        return keys.press(name) if name else False

    Window.bind(on_key_down=on_key_down)
    keys.uninstall = lambda: Window.unbind(on_key_down=on_key_down)
    app.demo_keys = keys
    log.info("demo keys: F1-F3 cards, F4 remove card, F5-F8 items, F9 clear pad, "
             "F10 network off, F11 network on")
    return keys


def demo_controls_for(kiosk: Kiosk, proxy: FaultProxy) -> DemoControls:
    """Demo controls over a running demo kiosk and the fault proxy in front of its catalog.

    Each key acts on a simulated device (see `kiosk.demo_devices`): the first sample card is
    an NFC card laid on the card reader, the others are barcodes under the scanner, and items
    lie on the simulated RFID reader that the kiosk's pad driver polls.
    """
    from domain.demo_library import AVAILABLE_ITEMS, HELD_ITEMS, SEED_PATRONS, WAITED_FOR_ITEM
    from kiosk.demo_devices import DemoHands

    hands = DemoHands.at(kiosk, proxy)
    patrons = [next(p for p in SEED_PATRONS if p.patron_id == pid)
               for pid in ("P0015", "P0008", "P0005")]
    uids = {p.barcode: p.card_uid for p in patrons[:1]}
    return DemoControls(
        present_card=lambda code: hands.show_card(code, uid=uids.get(code)),
        remove_card=hands.take_card,
        place_items=hands.place,
        clear_pad=lambda: hands.place(()),
        scan_barcode=hands.scan,
        set_network=hands.network,
        sample_cards=tuple(p.barcode for p in patrons),
        sample_items=(AVAILABLE_ITEMS[150], AVAILABLE_ITEMS[151], HELD_ITEMS[0],
                      WAITED_FOR_ITEM),
    )
