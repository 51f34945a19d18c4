"""Status light, buzzer and sensors on GPIO pins, through gpiozero.

gpiozero picks the pin library for the board it runs on (lgpio on a Pi 5,
RPi.GPIO or native on older Pis), and its MockFactory gives tests real pin
objects with recorded states; we never import RPi.GPIO ourselves. Every device
takes `pin_factory=` keyword-only (None: gpiozero's default), and pins come
from the constructor (the config owner maps TOML keys onto the kwargs).

What the patron and the staff see and hear:

    light     colour           pattern                 meaning
    READY     green            steady                  come and use me
    BUSY      blue (or green)  blink 0.25 s / 0.25 s   working on your items
    OFFLINE   amber (R+G)      1.5 s on / 0.5 s off    serving, central system unreachable
    FAULT     red              blink 0.15 s / 0.15 s   out of order, call staff
    OFF       -                dark                    shut down

    beep      SUCCESS one short (80 ms); ATTENTION two short; ERROR two long (400 ms)

An RGB LED is three LEDs on three pins, so the same class drives separate
red/green/blue lamps (set `active_high=False` for a common-anode LED).
Sensors (book-drop chute, service door) publish `SensorChanged` events, and the patron's
keys (up, down, select, back, help, speak: big buttons beside the screen) publish
`KeyPressed`; a long press of "select" is "speak", so a patron who cannot see the screen
starts speech without finding a sixth button.

Error tree:

    GpioError (a DriverError)          anything the GPIO drivers raise
    ├── GpioConfigError (ValueError)   bad pins or options (invalid pin, pin used twice)
    └── GpioUnavailable                no pin library for this board (not a Pi, no mock)
    drivers.errors.DeviceClosed        used after close() (the same for every driver)

gpiozero's own errors are translated where devices are built.
"""

from __future__ import annotations

import enum
import functools
import logging
import math
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from domain.events import EventSink, KeyPressed, SensorChanged
from drivers.device import Device, Probe
from drivers.errors import DriverError

if TYPE_CHECKING:
    from gpiozero import Factory  # the pin factory gpiozero devices take (MockFactory in tests)

logger = logging.getLogger(__name__)


class GpioError(DriverError):
    """Root of every error raised by the GPIO drivers."""


class GpioConfigError(GpioError, ValueError):
    """A pin is invalid or used twice, or an option is out of range."""


class GpioUnavailable(GpioError):
    """No GPIO pin library works on this machine (use the simulated lights)."""


class LightState(enum.StrEnum):
    OFF = "off"
    READY = "ready"
    BUSY = "busy"
    OFFLINE = "offline"
    FAULT = "fault"


class BeepPattern(enum.StrEnum):
    SUCCESS = "success"
    ATTENTION = "attention"
    ERROR = "error"


RGB = tuple[bool, bool, bool]
Step = tuple[RGB, float]  # what the lamps show, for how long (inf: until changed)

_DARK: RGB = (False, False, False)
_RED: RGB = (True, False, False)
_GREEN: RGB = (False, True, False)
_BLUE: RGB = (False, False, True)
_AMBER: RGB = (True, True, False)

LIGHT_PATTERNS: dict[LightState, tuple[Step, ...]] = {
    LightState.OFF: ((_DARK, math.inf),),
    LightState.READY: ((_GREEN, math.inf),),
    LightState.BUSY: ((_BLUE, 0.25), (_DARK, 0.25)),
    LightState.OFFLINE: ((_AMBER, 1.5), (_DARK, 0.5)),
    LightState.FAULT: ((_RED, 0.15), (_DARK, 0.15)),
}

BEEP_PATTERNS: dict[BeepPattern, tuple[tuple[bool, float], ...]] = {
    BeepPattern.SUCCESS: ((True, 0.08),),
    BeepPattern.ATTENTION: ((True, 0.08), (False, 0.08), (True, 0.08)),
    BeepPattern.ERROR: ((True, 0.4), (False, 0.1), (True, 0.4)),
}


def _build(make: Callable[[], Any], what: str) -> Any:
    """Create a gpiozero device, translating its errors into ours."""
    from gpiozero.exc import BadPinFactory, GPIOPinInUse, GPIOZeroError, PinInvalidPin

    try:
        return make()
    except BadPinFactory as exc:
        raise GpioUnavailable(f"{what}: no GPIO pin library on this machine") from exc
    except GPIOPinInUse as exc:
        raise GpioConfigError(f"{what}: pin already used by another device") from exc
    except (PinInvalidPin, ValueError) as exc:
        raise GpioConfigError(f"{what}: {exc}") from exc
    except GPIOZeroError as exc:
        raise GpioConfigError(f"{what}: {type(exc).__name__}: {exc}") from exc


class _Player:
    """Plays a list of steps on a background thread; a new play() replaces the old one."""

    def __init__(self, apply: Callable[[Any], None], name: str) -> None:
        self._apply = apply
        self._name = name
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def play(self, steps: Sequence[tuple[Any, float]], *, repeat: bool, rest: Any) -> None:
        with self._lock:
            self._halt()
            if len(steps) == 1 and math.isinf(steps[0][1]):
                self._apply(steps[0][0])  # steady: no thread needed
                return
            self._stop = threading.Event()
            self._thread = threading.Thread(
                target=self._loop, args=(tuple(steps), repeat, rest, self._stop),
                name=self._name, daemon=True,
            )
            self._thread.start()

    def _loop(self, steps: tuple[tuple[Any, float], ...], repeat: bool, rest: Any,
              stop: threading.Event) -> None:
        # `stop` is checked before every step: if a stalled machine makes play()'s join give up
        # on this thread, it still never paints an old pattern over the new one
        while True:
            for value, seconds in steps:
                if stop.is_set():
                    return
                self._apply(value)
                if stop.wait(seconds):
                    return
            if not repeat:
                if not stop.is_set():
                    self._apply(rest)
                return

    def _halt(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)
        self._thread = None

    def stop(self) -> None:
        with self._lock:
            self._halt()


def probe_gpio() -> Probe:
    """A GPIO chip this user may drive (the Pi's /dev/gpiochip*)."""
    chips = sorted(Path("/dev").glob("gpiochip*"))
    if not chips:
        return Probe(False, "no /dev/gpiochip*: this is not a Raspberry Pi (or the GPIO driver "
                     "is missing)", "run on the Pi; or set type = \"none\"")
    usable = [c for c in chips if os.access(c, os.R_OK | os.W_OK)]
    if not usable:
        return Probe(False, f"{chips[0]} exists but this user may not use it",
                     "add the kiosk user to the gpio group")
    return Probe(True, f"{usable[0]} usable")


class GpioDevice(Device):
    """A driver on the Pi's pins: `kiosk doctor` asks whether this user may drive them."""

    @classmethod
    def probe(cls, **_options: Any) -> Probe:
        return probe_gpio()


class StatusLight(Device):
    """The kiosk's status lamp: an RGB LED or separate red/green(/blue) LEDs."""

    label = "status light"

    def __init__(
        self,
        *,
        red_pin: int | str,
        green_pin: int | str,
        blue_pin: int | str | None = None,
        active_high: bool = True,
        pin_factory: Factory | None = None,
    ) -> None:
        from gpiozero import LED

        self._leds: list[Any] = []
        try:
            for colour, pin in (("red", red_pin), ("green", green_pin), ("blue", blue_pin)):
                if pin is None:
                    continue
                self._leds.append(_build(
                    functools.partial(LED, pin, active_high=active_high, initial_value=False,
                                      pin_factory=pin_factory),
                    f"{colour} status LED on pin {pin}",
                ))
        except GpioError:
            self._close_leds()
            raise
        self._has_blue = blue_pin is not None
        self._player = _Player(self._set_rgb, "status-light")
        self._closed = False
        self.state = LightState.OFF

    def _set_rgb(self, rgb: RGB) -> None:
        if not self._has_blue and rgb == _BLUE:
            rgb = _GREEN  # two-colour lamp: busy blinks green
        for led, on in zip(self._leds, rgb, strict=False):
            led.value = on

    def show(self, state: LightState) -> None:
        self._ensure_open()
        state = LightState(state)
        self.state = state
        self._player.play(LIGHT_PATTERNS[state], repeat=True, rest=_DARK)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._player.stop()
        self._close_leds()

    def _close_leds(self) -> None:
        for led in self._leds:
            led.off()  # leave the lamp dark, not frozen in its last colour
            led.close()
        self._leds = []


class Beeper(Device):
    """An active buzzer (on/off); patterns say success, attention or error."""

    label = "buzzer"

    def __init__(
        self, *, pin: int | str, active_high: bool = True, pin_factory: Factory | None = None
    ) -> None:
        from gpiozero import Buzzer

        self._buzzer = _build(
            lambda: Buzzer(pin, active_high=active_high, initial_value=False,
                           pin_factory=pin_factory),
            f"buzzer on pin {pin}",
        )
        self._player = _Player(self._set, "beeper")
        self._closed = False

    def _set(self, on: bool) -> None:
        self._buzzer.value = on

    def beep(self, pattern: BeepPattern) -> None:
        """Start the pattern and return at once (the UI thread must not wait)."""
        self._ensure_open()
        self._player.play(BEEP_PATTERNS[BeepPattern(pattern)], repeat=False, rest=False)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._player.stop()
        self._buzzer.off()
        self._buzzer.close()


class Sensor(GpioDevice):
    """A switch or light barrier on one pin, publishing SensorChanged on each change.

    With `pull_up=True` (default) the switch connects the pin to ground, and a
    closed switch is "active". `bounce_time` ignores contact chatter.
    """

    label = "sensor"

    def __init__(
        self,
        sink: EventSink,
        *,
        pin: int | str,
        name: str = "book_drop",
        pull_up: bool = True,
        bounce_time: float | None = 0.05,
        pin_factory: Factory | None = None,
    ) -> None:
        from gpiozero import DigitalInputDevice

        self._sink = sink
        self.name = name
        self._device = _build(
            lambda: DigitalInputDevice(pin, pull_up=pull_up, bounce_time=bounce_time,
                                       pin_factory=pin_factory),
            f"{name} sensor on pin {pin}",
        )
        self._device.when_activated = lambda: self._publish(True)
        self._device.when_deactivated = lambda: self._publish(False)

    @property
    def active(self) -> bool:
        return bool(self._device.is_active)

    def _publish(self, active: bool) -> None:
        logger.info("sensor %s %s", self.name, "active" if active else "inactive")
        self._sink.put(SensorChanged(self.name, active))

    def close(self) -> None:
        self._device.close()


class SimSensor(Device):
    """A sensor driven by calls (demo, tests): publishes what `Sensor` would."""

    label = "sensor"

    def __init__(self, sink: EventSink, *, name: str = "book_drop") -> None:
        self._sink = sink
        self.name = name
        self.active = False

    def set(self, active: bool) -> None:
        if active != self.active:
            self.active = active
            self._sink.put(SensorChanged(self.name, active))

    def close(self) -> None:
        """Nothing to release; here so the app can treat both sensors alike."""


KEYPAD_KEYS = ("up", "down", "select", "back", "help", "speak")


class GpioKeypad(GpioDevice):
    """The patron's keys on GPIO pins (push buttons to ground), publishing `KeyPressed`.

    A key counts when pressed, except "select": it counts when released, so that holding it
    for `hold_s` can mean "speak" instead.
    """

    label = "keypad"

    def __init__(
        self,
        sink: EventSink,
        *,
        up: int | str,
        down: int | str,
        select: int | str,
        back: int | str | None = None,
        help: int | str | None = None,  # shadows the builtin: it is the key's name in config
        speak: int | str | None = None,
        hold_s: float = 1.0,
        bounce_time: float | None = 0.05,
        pin_factory: Factory | None = None,
    ) -> None:
        from gpiozero import Button

        self._sink = sink
        self._buttons: list[Any] = []
        self._held = False
        pins = {"up": up, "down": down, "select": select, "back": back, "help": help,
                "speak": speak}
        try:
            for key, pin in pins.items():
                if pin is None:
                    continue
                button = _build(functools.partial(
                    Button, pin, pull_up=True, bounce_time=bounce_time, hold_time=hold_s,
                    pin_factory=pin_factory), f"{key} key on pin {pin}")
                if key == "select":
                    button.when_pressed = self._select_down
                    button.when_held = self._select_held
                    button.when_released = self._select_up
                else:
                    button.when_pressed = functools.partial(self._publish, key)
                self._buttons.append(button)
        except GpioError:
            self.close()
            raise

    def _publish(self, key: str) -> None:
        self._sink.put(KeyPressed(key))

    def _select_down(self) -> None:
        self._held = False

    def _select_held(self) -> None:
        self._held = True
        self._publish("speak")

    def _select_up(self) -> None:
        if not self._held:
            self._publish("select")
        self._held = False

    def close(self) -> None:
        for button in self._buttons:
            button.close()
        self._buttons = []


class SimKeypad(Device):
    """The keypad driven by calls (demo, tests): publishes what `GpioKeypad` would."""

    label = "keypad"

    def __init__(self, sink: EventSink) -> None:
        self._sink = sink

    def press(self, key: str) -> None:
        if key not in KEYPAD_KEYS:
            raise GpioConfigError(f"no key {key!r}; the keypad has {', '.join(KEYPAD_KEYS)}")
        self._sink.put(KeyPressed(key, source="sim"))

    def close(self) -> None:
        """Nothing to release; here so the app can treat both keypads alike."""


class Lights(Protocol):
    """What the application drives: the status lamp and the beeper, real or simulated."""

    def show(self, state: LightState) -> None: ...

    def beep(self, pattern: BeepPattern) -> None: ...

    def close(self) -> None: ...


class GpioLights(GpioDevice):
    """Status light plus optional buzzer, built from pin numbers in the config."""

    label = "lights"

    def __init__(
        self,
        *,
        red_pin: int | str,
        green_pin: int | str,
        blue_pin: int | str | None = None,
        buzzer_pin: int | str | None = None,
        active_high: bool = True,
        buzzer_active_high: bool = True,
        pin_factory: Factory | None = None,
    ) -> None:
        self.light = StatusLight(red_pin=red_pin, green_pin=green_pin, blue_pin=blue_pin,
                                 active_high=active_high, pin_factory=pin_factory)
        try:
            self.beeper = (
                Beeper(pin=buzzer_pin, active_high=buzzer_active_high, pin_factory=pin_factory)
                if buzzer_pin is not None
                else None
            )
        except GpioError:
            self.light.close()
            raise

    def show(self, state: LightState) -> None:
        self.light.show(state)

    def beep(self, pattern: BeepPattern) -> None:
        if self.beeper is not None:
            self.beeper.beep(pattern)

    def close(self) -> None:
        self.light.close()
        if self.beeper is not None:
            self.beeper.close()


class SimLights(Device):
    """Records what the lights would show and the buzzer would play (demo, tests)."""

    label = "lights"

    def __init__(self) -> None:
        self.states: list[LightState] = []
        self.beeps: list[BeepPattern] = []
        self._closed = False

    @property
    def state(self) -> LightState:
        return self.states[-1] if self.states else LightState.OFF

    def show(self, state: LightState) -> None:
        self._ensure_open()
        self.states.append(LightState(state))

    def beep(self, pattern: BeepPattern) -> None:
        self._ensure_open()
        self.beeps.append(BeepPattern(pattern))

    def close(self) -> None:
        self._closed = True
