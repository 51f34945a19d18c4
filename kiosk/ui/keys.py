"""The patron's keys: what each key of a USB numeric keypad (or a GPIO button) means.

Why keys at all: a patron who cannot see the screen, or cannot reach or tap it, must finish
every journey with a handful of keys (EN 301 549 5.1.6 "operation without vision" and
8.4 "mechanically operable parts"). Six meanings are enough: move the focus up or down,
select what has the focus, go back, ask for help, and the speech keys.

A USB numeric keypad (what a library can buy with tactile marks on 5)::

    8 / 4  up (previous)      2 / 6  down (next)      5 / Enter  select
    0      back               .      help
    *      speak or repeat    /      stop speaking    -  slower    +  louder

Arrow keys, Enter, Escape and Backspace work as well (a keyboard, a switch interface that
types them). On the PIN screen the digit keys type the PIN and Backspace deletes; the other
keys keep their meaning. GPIO buttons publish the same names (`drivers.gpio.GpioKeypad`).
No Kivy here: the keys' meaning is tested without a window.
"""

from __future__ import annotations

import enum


class Key(enum.StrEnum):
    UP = "up"
    DOWN = "down"
    SELECT = "select"
    BACK = "back"
    HELP = "help"
    SPEAK = "speak"
    STOP = "stop"
    SLOWER = "slower"
    LOUDER = "louder"


# SDL2 key codes as Kivy reports them (num lock on: the keypad's own codes 256..271)
KEYPAD_DIGITS = {256 + n: str(n) for n in range(10)}
TOP_ROW_DIGITS = {48 + n: str(n) for n in range(10)}
KEYCODES: dict[int, Key] = {
    264: Key.UP, 260: Key.UP, 273: Key.UP, 276: Key.UP,  # keypad 8 and 4, arrows up and left
    258: Key.DOWN, 262: Key.DOWN, 274: Key.DOWN, 275: Key.DOWN,  # keypad 2 and 6, down, right
    261: Key.SELECT, 271: Key.SELECT, 13: Key.SELECT, 32: Key.SELECT,  # 5, Enter, Return, space
    256: Key.BACK, 27: Key.BACK, 8: Key.BACK,  # keypad 0, Escape, Backspace
    266: Key.HELP, 293: Key.HELP,  # keypad '.', F12 (F1..F11 are the demo's devices)
    268: Key.SPEAK, 267: Key.STOP, 269: Key.SLOWER, 270: Key.LOUDER,  # keypad * / - +
}
BACKSPACE = 8
SPEECH_KEYS = frozenset({Key.SPEAK, Key.STOP, Key.SLOWER, Key.LOUDER})


def key_for(keycode: int, *, typing_digits: bool) -> Key | str | None:
    """What a key press means: a `Key`, a digit (only while a PIN is being typed: then the
    keypad's digits are digits, and Backspace deletes one), or None for a key we do not use.
    """
    if typing_digits:
        digit = KEYPAD_DIGITS.get(keycode) or TOP_ROW_DIGITS.get(keycode)
        if digit is not None:
            return digit
        if keycode == BACKSPACE:
            return "delete"
    return KEYCODES.get(keycode)


def from_name(name: str) -> Key | None:
    """A GPIO keypad's key name ("up", "speak" ...) as a Key; None for a name we do not know."""
    try:
        return Key(name)
    except ValueError:
        return None
