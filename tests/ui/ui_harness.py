"""The UI test harness (a switchboard between the window and each test's kiosk) and the
demo library's ids and device events for the journeys."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from domain.demo_library import SEED_ITEMS, SEED_PATRONS, SeedPatron
from domain.events import BarcodeScanned, CardPresented, ItemsOnPad, TagRead
from domain.model import Credential, CredentialKind
from kiosk.app import Kiosk

TITLES = {i.item_id: i.title for i in SEED_ITEMS}


def patron(patron_id: str) -> SeedPatron:
    return next(p for p in SEED_PATRONS if p.patron_id == patron_id)


def first_name(p: SeedPatron) -> str:
    return p.name.split(" ")[0]


def card(p: SeedPatron) -> CardPresented:
    return CardPresented(Credential(CredentialKind.BARCODE, p.barcode), source="sim-scanner")


def pad(*item_ids: str) -> ItemsOnPad:
    """The RFID pad reports everything lying on it now."""
    return ItemsOnPad(tags=tuple(TagRead(item_id=i, uid=f"E0040100{n:08X}")
                                 for n, i in enumerate(item_ids)), source="sim-rfid")


def scan(item_id: str) -> BarcodeScanned:
    return BarcodeScanned(item_id, source="sim-scanner")


class Switchboard:
    """The UI's context: forwards actions to the current test's kiosk and its views back."""

    def __init__(self) -> None:
        self.kiosk: Kiosk | None = None
        self.listener: Callable[[object], None] | None = None
        self.key_listener: Callable[[str], None] | None = None
        self.cues: list[str] = []
        self.technician_pins: list[str] = []
        self.actions: list[object] = []
        self.beats = 0

    def put(self, item: object, block: bool = True, timeout: float | None = None) -> None:
        self.actions.append(item)
        if self.kiosk is not None:
            self.kiosk.put(item)

    def subscribe(self, listener: Callable[[object], None]) -> None:
        self.listener = listener

    def keys(self, listener: Callable[[str], None]) -> None:
        self.key_listener = listener

    def attach(self, kiosk: Kiosk | None) -> None:
        self.kiosk = kiosk
        if kiosk is not None and self.listener is not None:
            listener = self.listener
            kiosk.subscribe(lambda view: listener(view) if self.kiosk is kiosk else None)
        if kiosk is not None and self.key_listener is not None:
            keys = self.key_listener
            kiosk.subscribe_keys(lambda key: keys(key) if self.kiosk is kiosk else None)

    def cue(self, kind: str) -> None:
        self.cues.append(kind)

    def technician(self, pin: str) -> None:
        self.technician_pins.append(pin)

    def heartbeat(self) -> None:
        self.beats += 1


class HeardVoice:
    """The kiosk's real voice (espeak-ng through `Speaker`) with what it was asked to say and
    the audio it made kept for the tests, instead of going to a loudspeaker."""

    def __init__(self) -> None:
        import threading

        from kiosk.speech.engine import EspeakNg
        from kiosk.speech.speaker import Speaker

        self.said: list[tuple[str, str]] = []  # (text, language)
        self.audio: list[bytearray] = []
        self._lock = threading.Lock()
        self.speaker = Speaker(EspeakNg(), sink=self._take)

    def _take(self) -> HeardVoice:
        with self._lock:
            self.audio.append(bytearray())
        return self

    def write(self, chunk: bytes) -> None:
        with self._lock:
            self.audio[-1].extend(chunk)

    def close(self) -> None:
        return None  # the take stays in `audio` for the test to read

    def say(self, sentences: Any, lang: str) -> None:
        self.said.append((" ".join(sentences), lang))
        self.speaker.say(sentences, lang)

    def repeat(self) -> None:
        self.said.append(("<repeat>", ""))
        self.speaker.repeat()

    def stop(self) -> None:
        self.said.append(("<stop>", ""))
        self.speaker.stop()

    def slower(self) -> None:
        self.speaker.slower()

    def louder(self) -> None:
        self.speaker.louder()

    def forget(self) -> None:
        self.speaker.stop()
        with self._lock:
            self.said.clear()
            self.audio.clear()


@dataclasses.dataclass
class Ui:
    app: Any
    board: Switchboard
    voice: HeardVoice | None = None

    def settle(self, timeout: float = 5.0) -> None:
        """Wait until the kiosk handled every event and the newest view is drawn."""
        from kiosk.ui import probe

        kiosk = self.board.kiosk
        if kiosk is not None:
            kiosk.wait_idle(timeout)
        probe.pump_until(lambda: self.app._latest is None, timeout, settle=4)

    def reset(self) -> None:
        """Back to a clean window between tests: no pending corner hold, no technician prompt
        or console, no timeout overlay or spinner, the library's defaults, nothing recorded."""
        from kiosk.ui import probe

        app = self.app
        app.hotspot._cancel()
        app.close_technician_prompt()
        panel = getattr(app, "_technician_panel", None)  # only with the real unlock hook
        if panel is not None and panel.parent is not None:
            panel.dismiss()
        app._close_timeout()
        app._set_pending(False)
        app._render_busy()
        app._restore_defaults()
        # cues and technician PINs are delivered on the app's single worker thread: let the
        # queued ones land before forgetting them, so none arrives during the next test
        app._pool.submit(lambda: None).result(timeout=5)
        self.board.cues.clear()
        self.board.technician_pins.clear()
        self.board.actions.clear()
        if self.voice is not None:
            self.voice.forget()
        probe.pump(2)

    def device(self, event: object) -> None:
        """A simulated device publishes an event, as the drivers do, then the screen updates."""
        if self.board.kiosk is None:
            raise RuntimeError("no kiosk attached")
        self.board.kiosk.put(event)
        self.settle()

    def tap(self, name: str) -> None:
        from kiosk.ui import probe

        probe.tap(probe.button(self.app, name))
        self.settle()

    def text(self) -> str:
        from kiosk.ui import probe

        return probe.screen_text(self.app).replace("\xa0", " ")

    @property
    def screen(self) -> str:
        return self.app.sm.current

    def show(self, view: object) -> None:
        """Render a hand-made SessionView (layout and screenshot tests; no kiosk attached)."""
        self.app._on_view(view)
        self.settle()
