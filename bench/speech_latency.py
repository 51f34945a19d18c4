"""From a key press to the first sample of speech: how long a patron waits to hear the kiosk.

The real engine (espeak-ng) through the kiosk's `Speaker` thread, speaking whole screens from
`kiosk.ui.wording` in all four languages; the audio goes to a sink that drops it (handed over
where aplay would read it), and the time is taken when the first sample after the WAV header is
written. Each utterance cuts the one before, as a patron pressing "repeat" or moving on does.
Baseline in the same run: starting a process that does nothing (`true`), the floor of any
engine that runs as a subprocess.

    .venv/bin/python bench/speech_latency.py [--presses 60]

Target: p95 < 300 ms here. Last line: {"p50_ms", "p95_ms", "spawn_p50_ms", "ratio_p50", ...}.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "ui"))  # the gallery of screens

from gallery import VIEWS, in_language  # noqa: E402

from kiosk.i18n import LANGUAGES  # noqa: E402
from kiosk.speech.engine import EspeakNg  # noqa: E402
from kiosk.speech.speaker import Speaker  # noqa: E402
from kiosk.ui.wording import Words, screen_sentences  # noqa: E402


class _Discard:
    """Where the audio goes here: nowhere (the time is taken when the first sample is
    handed over, which is the moment aplay would receive it)."""

    def __call__(self) -> _Discard:
        return self

    def write(self, chunk: bytes) -> None:
        del chunk

    def close(self) -> None:
        return None


def spawn_ms(runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(["true"], check=True)
        times.append((time.perf_counter() - started) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--presses", type=int, default=60)
    args = parser.parse_args()
    heard = threading.Semaphore(0)
    latencies: list[float] = []

    def first_audio(seconds: float) -> None:
        latencies.append(seconds * 1000)
        heard.release()

    speaker = Speaker(EspeakNg(), sink=_Discard(), on_first_audio=first_audio)
    screens = [(name, lang) for lang in LANGUAGES for name in VIEWS]
    try:
        for n in range(args.presses + 3):
            name, lang = screens[n % len(screens)]
            speaker.say(screen_sentences(in_language(name, lang), Words(lang)), lang)
            if not heard.acquire(timeout=10):
                raise SystemExit(f"no audio for {name} in {lang}")
            time.sleep(0.05)  # the patron listens a moment, then presses again
    finally:
        speaker.close()
    measured = sorted(latencies[3:])  # the first few warm the page cache
    spawn = spawn_ms(args.presses)
    p50 = statistics.median(measured)
    p95 = measured[max(0, int(len(measured) * 0.95) - 1)]
    result = {"p50_ms": round(p50, 1), "p95_ms": round(p95, 1),
              "spawn_p50_ms": round(statistics.median(spawn), 2),
              "ratio_p50": round(p50 / statistics.median(spawn), 1),
              "presses": len(measured), "target_p95_ms": 300}
    print(f"key press -> first sample: p50 {p50:.1f} ms, p95 {p95:.1f} ms "
          f"(a bare process start: {statistics.median(spawn):.2f} ms)")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
