"""Lights, buzzer and sensors on gpiozero's MockFactory: assert what the pins did."""

from __future__ import annotations

import queue
import time
from collections.abc import Callable, Iterator

import pytest
from gpiozero import Device
from gpiozero.exc import PinFactoryFallback
from gpiozero.pins.mock import MockFactory, MockPWMPin

from drivers.errors import DeviceClosed
from drivers.gpio import (
    Beeper,
    BeepPattern,
    GpioConfigError,
    GpioKeypad,
    GpioLights,
    GpioUnavailable,
    LightState,
    Sensor,
    SensorChanged,
    SimKeypad,
    SimLights,
    SimSensor,
    StatusLight,
)

RED, GREEN, BLUE, BUZZER, DROP = 17, 27, 22, 23, 24


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    f = MockFactory()
    yield f
    f.reset()


def levels(factory: MockFactory, pin: int) -> list[bool]:
    """The pin's level changes, collapsing repeats (a steady lamp is one level)."""
    out: list[bool] = []
    for s in factory.pin(pin).states:
        if not out or out[-1] != bool(s.state):
            out.append(bool(s.state))
    return out


def durations(factory: MockFactory, pin: int) -> list[float]:
    """How long each recorded level lasted (gpiozero stores the time since the last change)."""
    return [s.timestamp for s in factory.pin(pin).states[1:]]


# The blink and beep patterns run on a real thread with the real clock, so a loaded CI box
# can stall them: wait for the expected history instead of sleeping a fixed time, and
# check durations with lower bounds (a stall only ever lengthens a step).
TIMEOUT = 5.0


def wait_until(condition: Callable[[], bool], timeout: float = TIMEOUT) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def wait_quiet(factory: MockFactory, pin: int, quiet: float = 0.3,
               timeout: float = TIMEOUT) -> bool:
    """Wait until the pin has not changed for `quiet` seconds (a beep pattern has ended)."""
    deadline = time.monotonic() + timeout
    seen, since = len(factory.pin(pin).states), time.monotonic()
    while time.monotonic() - since < quiet:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
        if len(factory.pin(pin).states) != seen:
            seen, since = len(factory.pin(pin).states), time.monotonic()
    return True


def test_ready_is_steady_green(factory: MockFactory) -> None:
    with StatusLight(red_pin=RED, green_pin=GREEN, blue_pin=BLUE, pin_factory=factory) as light:
        light.show(LightState.READY)
        time.sleep(0.3)
        assert levels(factory, GREEN) == [False, True]
        assert levels(factory, RED) == [False]
        assert levels(factory, BLUE) == [False]
    assert not factory.pin(GREEN).state  # closed: dark


def test_fault_blinks_red_fast(factory: MockFactory) -> None:
    with StatusLight(red_pin=RED, green_pin=GREEN, blue_pin=BLUE, pin_factory=factory) as light:
        light.show(LightState.FAULT)
        assert wait_until(lambda: len(levels(factory, RED)) >= 8), levels(factory, RED)
        assert levels(factory, RED)[:8] == [False, True] * 4
        assert levels(factory, GREEN) == [False]
        assert levels(factory, BLUE) == [False]
        steps = durations(factory, RED)[1:7]  # three complete on/off blinks
        on_times, off_times = steps[0::2], steps[1::2]
        # 0.15 s each: never shorter; a stall lengthens one blink, not the fastest of three
        assert all(t > 0.14 for t in steps), steps
        assert min(on_times) < 0.4 and min(off_times) < 0.4, steps


def test_offline_is_amber_long_on_short_off(factory: MockFactory) -> None:
    with StatusLight(red_pin=RED, green_pin=GREEN, blue_pin=BLUE, pin_factory=factory) as light:
        light.show(LightState.OFFLINE)
        assert wait_until(lambda: len(levels(factory, RED)) >= 4
                          and len(levels(factory, GREEN)) >= 4, 2 * TIMEOUT)
        assert levels(factory, RED)[:4] == [False, True, False, True]
        assert levels(factory, GREEN)[:4] == [False, True, False, True]
        assert levels(factory, BLUE) == [False]
        for pin in (RED, GREEN):
            on, off = durations(factory, pin)[1:3]
            # 1.5 s on, 0.5 s off, lower bounds only (a stall lengthens); swapped fails `on`
            assert on > 1.45 and off > 0.45, (pin, on, off)


def test_busy_without_blue_lamp_blinks_green(factory: MockFactory) -> None:
    with StatusLight(red_pin=RED, green_pin=GREEN, pin_factory=factory) as light:
        light.show(LightState.BUSY)
        assert wait_until(lambda: len(levels(factory, GREEN)) >= 4), levels(factory, GREEN)
        assert levels(factory, GREEN)[:4] == [False, True, False, True]
        assert levels(factory, RED) == [False]
        on, off = durations(factory, GREEN)[1:3]
        assert on > 0.24 and off > 0.24, (on, off)  # the busy pace, not the fault blink


def test_changing_state_stops_the_old_blinking(factory: MockFactory) -> None:
    with StatusLight(red_pin=RED, green_pin=GREEN, blue_pin=BLUE, pin_factory=factory) as light:
        light.show(LightState.BUSY)
        assert wait_until(lambda: len(levels(factory, BLUE)) >= 2)  # it is blinking
        light.show(LightState.READY)
        factory.pin(BLUE).clear_states()
        time.sleep(0.6)
        assert levels(factory, BLUE) == [False]
        assert factory.pin(GREEN).state
        assert light.state is LightState.READY


def test_common_anode_led_drives_pins_low(factory: MockFactory) -> None:
    with StatusLight(red_pin=RED, green_pin=GREEN, blue_pin=BLUE, active_high=False,
                     pin_factory=factory) as light:
        light.show(LightState.READY)
        assert factory.pin(GREEN).state in (0, False)
        assert factory.pin(RED).state in (1, True)


def test_beep_patterns(factory: MockFactory) -> None:
    with Beeper(pin=BUZZER, pin_factory=factory) as beeper:
        beeper.beep(BeepPattern.ATTENTION)
        assert wait_until(lambda: len(levels(factory, BUZZER)) >= 5)
        assert wait_quiet(factory, BUZZER)  # no third beep
        assert levels(factory, BUZZER) == [False, True, False, True, False]
        short = durations(factory, BUZZER)[1:4]
        assert all(t > 0.07 for t in short), short

        factory.pin(BUZZER).clear_states()
        beeper.beep(BeepPattern.ERROR)
        assert wait_until(lambda: len(levels(factory, BUZZER)) >= 5)
        assert wait_quiet(factory, BUZZER)
        assert levels(factory, BUZZER) == [False, True, False, True, False]
        first_beep, gap, second_beep = durations(factory, BUZZER)[1:4]
        assert first_beep > 0.39 and second_beep > 0.39 and gap > 0.09, durations(
            factory, BUZZER)

        factory.pin(BUZZER).clear_states()
        beeper.beep(BeepPattern.SUCCESS)
        assert wait_until(lambda: len(levels(factory, BUZZER)) >= 3)
        assert wait_quiet(factory, BUZZER)  # one beep only
        assert levels(factory, BUZZER) == [False, True, False]
        assert durations(factory, BUZZER)[1] > 0.07


def test_book_drop_sensor_publishes_changes(factory: MockFactory) -> None:
    q: queue.Queue = queue.Queue()
    with Sensor(q, pin=DROP, name="book_drop", bounce_time=None, pin_factory=factory) as s:
        pin = factory.pin(DROP)
        pin.drive_low()  # pull-up: the switch closes to ground
        assert s.active
        pin.drive_high()
        assert q.get(timeout=1) == SensorChanged("book_drop", True)
        assert q.get(timeout=1) == SensorChanged("book_drop", False)


def test_pwm_capable_pins_work_too() -> None:
    f = MockFactory(pin_class=MockPWMPin)
    with GpioLights(red_pin=RED, green_pin=GREEN, buzzer_pin=BUZZER, pin_factory=f) as lights:
        lights.show(LightState.READY)
        lights.beep(BeepPattern.SUCCESS)
        assert wait_until(lambda: len(levels(f, BUZZER)) >= 3), levels(f, BUZZER)
        assert wait_quiet(f, BUZZER)
        assert f.pin(GREEN).state
        assert levels(f, BUZZER) == [False, True, False]
    f.reset()


def test_pin_used_twice_is_a_config_error_and_frees_what_it_took(
    factory: MockFactory,
) -> None:
    with pytest.raises(GpioConfigError, match="buzzer on pin 17"):
        GpioLights(red_pin=RED, green_pin=GREEN, buzzer_pin=RED, pin_factory=factory)
    StatusLight(red_pin=RED, green_pin=GREEN, pin_factory=factory).close()  # pins free again


def test_invalid_pin_is_a_config_error(factory: MockFactory) -> None:
    with pytest.raises(GpioConfigError, match="red status LED"):
        StatusLight(red_pin=999, green_pin=GREEN, pin_factory=factory)


def test_no_gpio_library_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)
    old = Device.pin_factory
    Device.pin_factory = None
    try:
        with pytest.raises(GpioUnavailable), pytest.warns(PinFactoryFallback):
            Beeper(pin=BUZZER)
    finally:
        Device.pin_factory = old


def test_closed_devices_refuse(factory: MockFactory) -> None:
    light = StatusLight(red_pin=RED, green_pin=GREEN, pin_factory=factory)
    light.close()
    with pytest.raises(DeviceClosed):
        light.show(LightState.READY)


def test_sim_lights_record_states_and_beeps() -> None:
    sim = SimLights()
    sim.show(LightState.READY)
    sim.show("offline")  # type: ignore[arg-type]
    sim.beep(BeepPattern.ERROR)
    assert sim.states == [LightState.READY, LightState.OFFLINE]
    assert sim.state is LightState.OFFLINE
    assert sim.beeps == [BeepPattern.ERROR]
    with pytest.raises(ValueError):
        sim.show("purple")  # type: ignore[arg-type]


def _gpiozero_errors() -> list[type[BaseException]]:
    import inspect

    from gpiozero import exc

    return [c for _, c in inspect.getmembers(exc, inspect.isclass)
            if issubclass(c, exc.GPIOZeroError)]


@pytest.mark.parametrize("error", _gpiozero_errors(), ids=lambda c: c.__name__)
def test_every_gpiozero_error_is_translated(error: type[BaseException]) -> None:
    from drivers.gpio import GpioError, _build

    def fail() -> None:
        raise error("boom")

    with pytest.raises(GpioError):
        _build(fail, "test device")


def test_sim_sensor_publishes_only_changes() -> None:
    q: queue.Queue = queue.Queue()
    with SimSensor(q, name="door") as door:
        door.set(True)
        door.set(True)
        door.set(False)
    assert [q.get_nowait(), q.get_nowait()] == [SensorChanged("door", True),
                                                 SensorChanged("door", False)]
    assert q.empty()


KEY_PINS = {"up": 5, "down": 6, "select": 13, "back": 19, "help": 26}


def keys_of(q: queue.Queue) -> list[str]:
    out = []
    while True:
        try:
            out.append(q.get(timeout=0.3).key)
        except queue.Empty:
            return out


def test_keypad_publishes_each_key_and_a_long_select_is_speak(factory: MockFactory) -> None:
    q: queue.Queue = queue.Queue()
    with GpioKeypad(q, **KEY_PINS, hold_s=0.2, bounce_time=None, pin_factory=factory):
        for key in ("up", "down", "back", "help"):
            factory.pin(KEY_PINS[key]).drive_low()  # a button closes to ground
            factory.pin(KEY_PINS[key]).drive_high()
        select = factory.pin(KEY_PINS["select"])
        select.drive_low()
        select.drive_high()  # a short press: select
        select.drive_low()
        time.sleep(0.5)  # held past hold_s: speak, and no select on release
        select.drive_high()
        assert keys_of(q) == ["up", "down", "back", "help", "select", "speak"]


def test_keypad_pins_used_twice_are_a_config_error(factory: MockFactory) -> None:
    with pytest.raises(GpioConfigError, match="select key on pin 5"):
        GpioKeypad(queue.Queue(), up=5, down=6, select=5, pin_factory=factory)
    GpioKeypad(queue.Queue(), up=5, down=6, select=13, pin_factory=factory).close()  # freed


def test_sim_keypad_refuses_a_key_it_does_not_have() -> None:
    q: queue.Queue = queue.Queue()
    with SimKeypad(q) as keypad:
        keypad.press("select")
        with pytest.raises(GpioConfigError, match="no key 'enter'"):
            keypad.press("enter")
    assert keys_of(q) == ["select"]
