"""The kiosk's voice off the UI thread: the latest utterance wins, and it can be repeated,
stopped, slowed down and made louder.

Why a thread of its own: synthesis and playback take seconds, a frame takes 16 ms; `say` only
hands the sentences over and returns. A new `say` (the screen changed) cuts the old one off,
as a patron expects when they tap on while it is still talking.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from typing import IO, Protocol

from kiosk.speech.engine import EspeakNg, Voice, player_command

log = logging.getLogger(__name__)

WAV_HEADER = 44  # bytes before the first sample in espeak-ng's stream
_CHUNK = 2048


class AudioSink(Protocol):
    """Where the audio goes: the speaker (`PlayerSink`), or a file in tests and benchmarks."""

    def write(self, chunk: bytes) -> None: ...

    def close(self) -> None: ...


class PlayerSink:
    """aplay reading the stream on its stdin: the kiosk's loudspeaker or headset jack."""

    def __init__(self, device: str = "") -> None:
        self._process = subprocess.Popen(list(player_command(device)), stdin=subprocess.PIPE,
                                         stderr=subprocess.DEVNULL)
        self._stdin: IO[bytes] | None = self._process.stdin

    def write(self, chunk: bytes) -> None:
        if self._stdin is not None:
            self._stdin.write(chunk)

    def close(self) -> None:
        with contextlib.suppress(OSError):  # aplay may have gone already
            if self._stdin is not None:
                self._stdin.close()
        self._process.terminate()


class Speaker:
    """Speaks one utterance at a time on its own thread; every public call returns at once."""

    def __init__(self, engine: EspeakNg, *, sink: Callable[[], AudioSink] = PlayerSink,
                 voice: Voice | None = None,
                 on_first_audio: Callable[[float], None] | None = None) -> None:
        self._engine = engine
        self._sink = sink
        self.voice = voice or Voice()
        self._on_first_audio = on_first_audio  # seconds from `say` to the first sample out
        self._cond = threading.Condition()
        self._wanted: tuple[int, str, str, float] | None = None  # (generation, text, lang, at)
        self._last: tuple[str, str] | None = None
        self._generation = 0
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="speech", daemon=True)
        self._thread.start()

    # ---- what the kiosk and the patron's keys do ----------------------------------------------

    def say(self, sentences: Sequence[str], lang: str) -> None:
        text = " ".join(s.strip() for s in sentences if s.strip())
        if not text:
            return
        with self._cond:
            self._last = (text, lang)
            self._generation += 1
            self._wanted = (self._generation, text, lang, time.perf_counter())
            self._cond.notify()

    def repeat(self) -> None:
        if self._last is not None:
            self.say([self._last[0]], self._last[1])

    def stop(self) -> None:
        with self._cond:
            self._generation += 1
            self._wanted = None

    def slower(self) -> None:
        self.voice = self.voice.slower()
        self.repeat()

    def louder(self) -> None:
        self.voice = self.voice.louder()
        self.repeat()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._generation += 1
            self._cond.notify()
        self._thread.join(5)

    @property
    def speaking(self) -> bool:
        with self._cond:
            return self._wanted is not None

    # ---- the thread ---------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._wanted is None and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                generation, text, lang, asked_at = self._wanted  # type: ignore[misc]
            try:
                self._speak(generation, text, lang, asked_at)
            except Exception:  # a broken sound card must never stop the kiosk
                log.exception("speech failed")
            with self._cond:
                if self._generation == generation:
                    self._wanted = None

    def _current(self, generation: int) -> bool:
        return self._generation == generation and not self._closed

    def _speak(self, generation: int, text: str, lang: str, asked_at: float) -> None:
        process = self._engine.stream(text, lang, self.voice)
        sink = self._sink()
        written, first = 0, True
        try:
            stdout = process.stdout
            while stdout is not None and self._current(generation):
                chunk = os.read(stdout.fileno(), _CHUNK)  # what is there now, as it is made
                if not chunk:
                    break
                sink.write(chunk)
                written += len(chunk)
                if first and written > WAV_HEADER:
                    first = False
                    if self._on_first_audio is not None:
                        self._on_first_audio(time.perf_counter() - asked_at)
        finally:
            if process.poll() is None:
                process.kill()
            process.wait()
            sink.close()
