"""espeak-ng as the kiosk's voice: a subprocess per utterance, audio streamed as it is made.

Why espeak-ng: it is in Debian for every Raspberry Pi OS release, ships its voices in the
package (no download at run time), speaks Dutch, French, German and English, and starts
speaking within tens of milliseconds on a Pi, because it streams audio while it synthesises.
Voices that sound more natural (Piper, for one) need a model download per language and start
later; the engine is one small class so another can take its place.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)

# The kiosk's languages to espeak-ng voices: Belgian French for a Belgian library's patrons.
VOICES = {"nl": "nl", "fr": "fr-be", "de": "de", "en": "en-gb"}
MIN_RATE, MAX_RATE = 80, 260  # words per minute
MIN_VOLUME, MAX_VOLUME = 20, 200  # espeak-ng amplitude (100 is its default)


class SpeechUnavailable(RuntimeError):
    """No synthesiser here (espeak-ng missing): the kiosk works on, silently, and says so."""


@dataclass(frozen=True, slots=True)
class Voice:
    """How the kiosk speaks: the patron may make it slower and louder."""

    rate: int = 150
    volume: int = 100

    def slower(self) -> Voice:
        return replace(self, rate=max(MIN_RATE, self.rate - 25))

    def faster(self) -> Voice:
        return replace(self, rate=min(MAX_RATE, self.rate + 25))

    def louder(self) -> Voice:
        return replace(self, volume=min(MAX_VOLUME, self.volume + 30))

    def softer(self) -> Voice:
        return replace(self, volume=max(MIN_VOLUME, self.volume - 30))


class EspeakNg:
    """One utterance = one espeak-ng process; `stream` hands back its audio as it comes."""

    def __init__(self, executable: str = "espeak-ng") -> None:
        found = shutil.which(executable)
        if found is None:
            raise SpeechUnavailable(f"{executable} is not installed (Debian: espeak-ng)")
        self.executable = found

    def _args(self, lang: str, voice: Voice) -> list[str]:
        return [self.executable, "-v", VOICES.get(lang, VOICES["en"]), "-s", str(voice.rate),
                "-a", str(voice.volume), "-b", "1", "--stdin"]

    def stream(self, text: str, lang: str, voice: Voice) -> subprocess.Popen[bytes]:
        """A running synthesis of `text`: WAV on its stdout (sizes unknown: a stream)."""
        process = subprocess.Popen([*self._args(lang, voice), "--stdout"],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL)
        stdin: IO[bytes] | None = process.stdin
        if stdin is not None:
            stdin.write(text.encode("utf-8"))
            stdin.close()
        return process

    def render(self, text: str, lang: str, voice: Voice | None = None) -> bytes:
        """`text` spoken into a complete WAV file's bytes (tests, and a recorded prompt)."""
        with tempfile.TemporaryDirectory(prefix="kiosk-speech-") as tmp:
            out = Path(tmp) / "said.wav"
            subprocess.run([*self._args(lang, voice or Voice()), "-w", str(out)],
                           input=text.encode("utf-8"), check=True, timeout=60,
                           stderr=subprocess.DEVNULL)
            return out.read_bytes()


def player_command(device: str = "") -> Sequence[str]:
    """The command that plays a WAV stream on the kiosk's speaker or headset (ALSA's aplay)."""
    return ["aplay", "-q", *(["-D", device] if device else []), "-"]
