"""Speech output: every screen, and every change on it, spoken in the patron's language.

`engine` drives an offline synthesiser (espeak-ng from Debian, voices in the package, nothing
from the internet); `speaker` runs it off the UI thread, latest utterance first, with repeat,
stop, slower and louder; what is said comes from `kiosk.ui.wording`, the same sentences the
screen shows.
"""

from __future__ import annotations

import logging
import shutil
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kiosk.config import Settings
    from kiosk.speech.speaker import Speaker

log = logging.getLogger(__name__)


def speaker_from(settings: Settings) -> Speaker | None:
    """The kiosk's voice as `[speech]` asks, or None (switched off, or no synthesiser here:
    the kiosk works on without speech and the log says why)."""
    from kiosk.speech.engine import (
        MAX_RATE,
        MAX_VOLUME,
        MIN_RATE,
        MIN_VOLUME,
        EspeakNg,
        SpeechUnavailable,
        Voice,
        player_command,
    )
    from kiosk.speech.speaker import PlayerSink, Speaker

    conf = settings.speech
    if not conf.enabled:
        return None
    try:
        engine = EspeakNg()
    except SpeechUnavailable as exc:
        log.warning("speech is off: %s", exc)
        return None
    if shutil.which(player_command(conf.device)[0]) is None:
        log.warning("speech is off: no audio player (Debian: alsa-utils for aplay)")
        return None
    voice = Voice(rate=min(MAX_RATE, max(MIN_RATE, conf.rate)),
                  volume=min(MAX_VOLUME, max(MIN_VOLUME, conf.volume)))
    return Speaker(engine, sink=lambda: PlayerSink(conf.device), voice=voice)
