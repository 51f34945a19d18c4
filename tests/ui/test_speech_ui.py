"""Speech in the real window: a patron who cannot see the screen starts it with a key, hears
each screen and each book as it is settled, in their language, from the words on the screen;
the UI never waits for the voice."""

from __future__ import annotations

import time
from collections.abc import Callable

from kivy.core.window import Window
from ui_harness import TITLES, Ui, card, pad, patron

from domain.demo_library import AVAILABLE_ITEMS
from kiosk.app import Kiosk
from kiosk.speech.speaker import WAV_HEADER
from kiosk.ui import probe
from kiosk.ui.keys import KEYCODES, KEYPAD_DIGITS, SPEECH_KEYS
from kiosk.ui.wording import Words, idle_texts, screen_sentences

# the numeric keypad's own key for each speech key (not a digit, not an arrow)
KEY = {name.value: code for code, name in KEYCODES.items()
       if name in SPEECH_KEYS and code not in KEYPAD_DIGITS}


def press(ui: Ui, name: str) -> float:
    started = time.perf_counter()
    Window.dispatch("on_key_down", KEY[name], 0, None, [])
    took = time.perf_counter() - started
    ui.settle()
    return took


def heard(ui: Ui, predicate: Callable[[str], bool], timeout: float = 10.0) -> bool:
    assert ui.voice is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(predicate(text) for text, _ in ui.voice.said):
            return True
        probe.pump(1)
    return False


def test_a_key_starts_speech_and_each_screen_and_book_is_spoken(
        ui: Ui, make_kiosk: Callable[..., Kiosk]) -> None:
    make_kiosk()
    voice = ui.voice
    assert voice is not None and ui.app.speech_on is False
    took = press(ui, "speak")  # "*" on the keypad: speech on, the screen read out
    # the UI thread hands the words over and relabels the speech switch (under a millisecond
    # here): it never waits for the voice, which takes seconds to say the screen
    assert took < 0.05
    assert ui.app.speech_on
    idle = " ".join(screen_sentences(ui.app.view, ui.app))
    assert voice.said[-1] == (idle, "nl")
    assert idle.startswith(idle_texts(Words("nl"))[0])  # what the idle screen says first
    ui.device(card(patron("P0015")))
    assert heard(ui, lambda t: t.startswith("Hallo"))
    ui.tap("mode-borrow")
    items = AVAILABLE_ITEMS[70:72]
    ui.device(pad(*items))
    for item in items:  # each book, with its due date, once it is settled
        assert heard(ui, lambda t, item=item: TITLES[item] in t and "terugbrengen op" in t)
    probe.pump_until(lambda: not voice.speaker.speaking, 10)
    assert voice.audio and len(voice.audio[-1]) > WAV_HEADER + 2000  # real sound was made


def test_repeat_stop_and_the_choice_shows_on_the_idle_screen(
        ui: Ui, make_kiosk: Callable[..., Kiosk]) -> None:
    make_kiosk()
    voice = ui.voice
    assert voice is not None
    ui.tap("toggle-speech")
    assert ui.app.speech_on and "Voorlezen: aan" in ui.text()
    press(ui, "speak")  # now it repeats
    assert voice.said[-1] == ("<repeat>", "")
    press(ui, "stop")
    assert voice.said[-1] == ("<stop>", "")
    ui.tap("toggle-speech")
    assert not ui.app.speech_on and "Voorlezen: uit" in ui.text()
