"""What the application hands the touchscreen UI: where to send actions, where views come
from, the settings the screens show, and (in demo mode) the simulated devices.

Why a plain dataclass and no Kivy here: the composition root (`kiosk/app.py`) builds this
without importing Kivy, and tests can build one around a real `Session`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from kiosk.i18n import DEFAULT_LANGUAGE, LANGUAGES

if TYPE_CHECKING:
    from kiosk.config import Settings


class ActionSink(Protocol):
    """The app's event queue (`queue.Queue` satisfies it): the UI only ever puts."""

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None: ...


ViewListener = Callable[[Any], None]  # gets a kiosk.session.SessionView, on any thread
Subscribe = Callable[[ViewListener], object]  # registers a listener (return value ignored)
Cue = Callable[[str], None]  # "success" | "attention"; e.g. the GPIO buzzer


@dataclass(frozen=True)
class UiConfig:
    """The few settings the screens show or obey."""

    library_name: str = "Bibliotheek"
    # either weekday ("mon".."sun") -> "10:00–18:00" (missing day = closed, day names are
    # translated), or ready-made lines shown as they are (the kiosk config's list form)
    opening_hours: Mapping[str, str] | Sequence[str] = field(default_factory=dict)
    languages: tuple[str, ...] = LANGUAGES
    default_language: str = DEFAULT_LANGUAGE
    large_text: bool = False
    high_contrast: bool = False
    audio_cues: bool = True
    auto_print_on_timeout: bool = False
    fullscreen: bool = False
    window_size: tuple[int, int] = (1024, 600)
    technician_hold_s: float = 3.0  # long press in the top-left corner
    pin_min_length: int = 4
    pin_max_length: int = 8
    speech_always_on: bool = False  # [speech] always_on: every patron hears every screen
    card_reader_at: str = "right"  # [ui]: where the idle screen points for the card
    pad_at: str = "below"  # ... and for the books


@dataclass(frozen=True)
class DemoControls:
    """Simulated devices the demo panel and keyboard shortcuts drive (all optional)."""

    present_card: Callable[[str], None] | None = None  # SimCardReader.present_uid
    remove_card: Callable[[], None] | None = None
    place_items: Callable[[Sequence[str]], None] | None = None  # SimRfidReader.place
    clear_pad: Callable[[], None] | None = None
    scan_barcode: Callable[[str], None] | None = None
    set_network: Callable[[bool], None] | None = None  # cut (False) / restore (True)
    sample_cards: tuple[str, ...] = ()
    sample_items: tuple[str, ...] = ()


@dataclass(frozen=True)
class UiContext:
    """Everything `run_ui` needs from the application."""

    events: ActionSink
    subscribe: Subscribe
    config: UiConfig = field(default_factory=UiConfig)
    cue: Cue | None = None
    on_technician_pin: Callable[[str], None] | None = None
    demo: DemoControls | None = None
    # called from the Kivy clock about once a second: systemd's watchdog pings only while
    # the UI loop is alive (kiosk.watchdog.Watchdog.tick)
    heartbeat: Callable[[], None] | None = None
    speaker: Voice | None = None  # the kiosk's voice (kiosk.speech.speaker_from), or none
    # the patron's GPIO keys: registers a listener for key names ("up", "select" ...), called
    # on the kiosk's event thread (Kiosk.subscribe_keys); None without a keypad
    keys: Callable[[Callable[[str], None]], object] | None = None


class Voice(Protocol):
    """What the UI asks of the kiosk's voice (`kiosk.speech.speaker.Speaker` is one); every
    call returns at once, the speaking happens on the voice's own thread."""

    def say(self, sentences: Sequence[str], lang: str) -> None: ...

    def repeat(self) -> None: ...

    def stop(self) -> None: ...

    def slower(self) -> None: ...

    def louder(self) -> None: ...


def ui_config_from_settings(settings: Settings, **overrides: Any) -> UiConfig:
    """Build the UI's settings from `kiosk.config.Settings` (fields it lacks keep defaults)."""
    library = getattr(settings, "library", None)
    kiosk = getattr(settings, "kiosk", None)
    session = getattr(settings, "session", None)
    ui = getattr(settings, "ui", None)
    values: dict[str, Any] = {}
    if library is not None:
        values["library_name"] = library.name
        values["opening_hours"] = library.opening_hours
    if kiosk is not None:
        values["languages"] = tuple(kiosk.languages)
        values["default_language"] = kiosk.language
    if session is not None:
        values["auto_print_on_timeout"] = session.auto_print_on_timeout
    speech = getattr(settings, "speech", None)
    if speech is not None:
        values["speech_always_on"] = speech.always_on
    for name in ("large_text", "high_contrast", "audio_cues", "fullscreen", "window_size",
                 "card_reader_at", "pad_at"):
        if ui is not None and hasattr(ui, name):
            value = getattr(ui, name)
            values[name] = tuple(value) if isinstance(value, list) else value
    values.update(overrides)
    return UiConfig(**values)
