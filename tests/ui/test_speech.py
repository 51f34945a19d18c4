"""Speech with the real engine (espeak-ng): every screen in every language is spoken from the
same sentences the screen shows, the audio is real sound of a plausible length, and the voice
runs off the caller's thread, cut off by the next utterance."""

from __future__ import annotations

import array
import dataclasses
import io
import math
import threading
import time
import wave

import pytest
from gallery import VIEWS, in_language

from kiosk.i18n import LANGUAGES
from kiosk.session import Screen, SessionView
from kiosk.speech.engine import EspeakNg, Voice
from kiosk.speech.narration import what_to_say
from kiosk.speech.speaker import WAV_HEADER, Speaker
from kiosk.ui.wording import Words, goodbye_texts, screen_sentences


@pytest.fixture(scope="module")
def engine() -> EspeakNg:
    return EspeakNg()


def _sound(wav: bytes) -> tuple[float, int]:
    """(seconds, RMS) of a WAV file's samples."""
    with wave.open(io.BytesIO(wav)) as w:
        assert w.getsampwidth() == 2
        samples = array.array("h", w.readframes(w.getnframes()))
        rms = math.sqrt(sum(x * x for x in samples) / max(1, len(samples)))
        return w.getnframes() / w.getframerate(), int(rms)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_screen_is_spoken_in_every_language_as_real_sound(engine, language) -> None:
    for name in VIEWS:
        sentences = screen_sentences(in_language(name, language), Words(language))
        assert sentences, name
        text = " ".join(sentences)
        seconds, rms = _sound(engine.render(text, language))
        words = len(text.split())
        # at 150 words a minute: not silent, not cut short, not stuck
        assert rms > 300, (name, language, rms)
        assert 0.15 * words < seconds < 1.2 * words + 2, (name, language, words, seconds)


def test_the_spoken_words_are_the_screen_s_words(engine) -> None:
    view = VIEWS["borrow"]
    said = " ".join(screen_sentences(in_language("borrow", "nl"), Words("nl")))
    for line in view.items:
        if line.title:
            assert line.title in said
    assert "Leg dit exemplaar nog even terug op de plaat." in said  # the put-back line


def test_slower_and_louder_are_heard(engine) -> None:
    text = "Geleend, terug te brengen op vrijdag vier december."
    plain_s, plain_rms = _sound(engine.render(text, "nl", Voice()))
    slow_s, _ = _sound(engine.render(text, "nl", Voice().slower().slower()))
    _, loud_rms = _sound(engine.render(text, "nl", Voice().louder().louder()))
    assert slow_s > plain_s * 1.2
    assert loud_rms > plain_rms * 1.3


class _Recorder:
    """A sink that keeps what it was given, per utterance."""

    def __init__(self) -> None:
        self.takes: list[bytearray] = []
        self.closed = 0
        self.lock = threading.Lock()

    def __call__(self) -> _Recorder:
        with self.lock:
            self.takes.append(bytearray())
        return self

    def write(self, chunk: bytes) -> None:
        with self.lock:
            self.takes[-1].extend(chunk)

    def close(self) -> None:
        with self.lock:
            self.closed += 1


def _wait(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def test_the_speaker_returns_at_once_and_the_next_utterance_cuts_the_last(engine) -> None:
    recorder = _Recorder()
    latencies: list[float] = []
    speaker = Speaker(engine, sink=recorder, on_first_audio=latencies.append)
    try:
        long_text = ["Dit is een heel lange zin die de kiosk voorleest."] * 20
        started = time.perf_counter()
        speaker.say(long_text, "nl")
        assert time.perf_counter() - started < 0.05  # the caller (the UI thread) never waits
        assert _wait(lambda: latencies)
        speaker.say(["Tot ziens!"], "nl")
        assert _wait(lambda: recorder.closed == 2 and not speaker.speaking)
        first, second = (bytes(t) for t in recorder.takes)
        whole = engine.render(" ".join(long_text), "nl")
        assert len(first) < len(whole) / 2  # cut off, not finished
        assert len(second) > WAV_HEADER and len(latencies) == 2
        speaker.repeat()
        assert _wait(lambda: recorder.closed == 3)
        speaker.say(long_text, "nl")
        assert _wait(lambda: len(latencies) == 4)
        speaker.stop()
        assert _wait(lambda: recorder.closed == 4 and not speaker.speaking)
    finally:
        speaker.close()


def test_on_the_same_screen_only_what_changed_is_said() -> None:
    w = Words("en")
    borrow = VIEWS["borrow"]
    first = what_to_say(None, borrow, w)
    assert first[0].startswith("Working offline") and first[1] == "Borrow"  # all of it
    working = dataclasses.replace(borrow.items[0], working=True, ok=False, due=None, title="")
    before = dataclasses.replace(borrow, items=(working, *borrow.items[1:]))
    said = what_to_say(before, borrow, w)
    assert len(said) == 1 and said[0].startswith(borrow.items[0].title)  # just that book
    assert what_to_say(borrow, borrow, w) == []  # nothing changed: silence
    warned = dataclasses.replace(borrow, warning_seconds_left=9)
    assert what_to_say(borrow, warned, w)[0] == "Are you still there?"
    goodbye = SessionView(screen=Screen.GOODBYE, language="fr")
    said = what_to_say(borrow, goodbye, Words("fr"))
    assert said == list(goodbye_texts(Words("fr"))) and said[0].startswith("Merci")
