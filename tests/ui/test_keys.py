"""What each key of the numeric keypad means, without a window."""

from __future__ import annotations

from kiosk.ui.keys import KEYCODES, Key, from_name, key_for


def test_the_keypad_moves_chooses_and_goes_back_outside_the_pin_screen() -> None:
    assert [key_for(c, typing_digits=False) for c in (264, 258, 261, 256, 266, 268)] == [
        Key.UP, Key.DOWN, Key.SELECT, Key.BACK, Key.HELP, Key.SPEAK]


def test_on_the_pin_screen_the_digits_type_and_backspace_deletes() -> None:
    assert [key_for(256 + n, typing_digits=True) for n in range(10)] == list("0123456789")
    assert key_for(48 + 7, typing_digits=True) == "7"  # the top row of a keyboard too
    assert key_for(8, typing_digits=True) == "delete"
    assert key_for(273, typing_digits=True) == Key.UP  # arrows still move the focus
    assert key_for(271, typing_digits=True) == Key.SELECT  # Enter sends the PIN


def test_letters_and_unknown_keys_mean_nothing() -> None:
    # a barcode scanner typing into the window must not drive the screen
    assert all(key_for(ord(c), typing_digits=False) is None for c in "abcxyz")
    assert key_for(ord("5"), typing_digits=False) is None
    assert from_name("speak") is Key.SPEAK and from_name("enter") is None
    assert set(KEYCODES.values()) == set(Key)  # every meaning has a key
