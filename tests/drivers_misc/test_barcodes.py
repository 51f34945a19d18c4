"""Check digits for library barcodes, EAN and Luhn."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.barcodes import (
    SCHEMES,
    UnknownChecksumScheme,
    check_schemes,
    codabar14_check_digit,
    ean13_check_digit,
    is_acceptable,
    is_valid_codabar14,
    is_valid_ean8,
    is_valid_ean13,
    is_valid_luhn,
    luhn_check_digit,
    normalise,
)


@pytest.mark.parametrize(
    "code",
    ["30234000517861",  # JerseyCat worked example
     "33191000105864",  # Dynix worked example
     "A21234000000018B"],  # with Codabar start/stop characters
)
def test_library_codabar14_valid(code: str) -> None:
    assert is_valid_codabar14(code)


@pytest.mark.parametrize(
    "code",
    ["30234000517862",  # wrong check digit
     "30234000517681",  # two digits swapped
     "40234000517861",  # neither patron (2) nor item (3)
     "3023400051786",  # 13 digits
     "3023400051786x"],
)
def test_library_codabar14_invalid(code: str) -> None:
    assert not is_valid_codabar14(code)


def test_ean_and_luhn_known_values() -> None:
    assert is_valid_ean13("9780306406157")  # ISBN-13
    assert not is_valid_ean13("9780306406158")
    assert ean13_check_digit("400638133393") == 1
    assert is_valid_ean8("96385074")
    assert not is_valid_ean8("96385075")
    assert is_valid_luhn("79927398713")
    assert not is_valid_luhn("79927398710")
    assert not is_valid_luhn("7")


@given(st.from_regex(r"[23][0-9]{12}", fullmatch=True))
def test_codabar14_is_luhn_over_14_digits(payload: str) -> None:
    assert codabar14_check_digit(payload) == luhn_check_digit(payload)
    good = payload + str(codabar14_check_digit(payload))
    assert is_valid_codabar14(good)
    bad = payload + str((int(good[-1]) + 1) % 10)
    assert not is_valid_codabar14(bad)


@given(st.from_regex(r"[0-9]{12}", fullmatch=True), st.integers(0, 11), st.integers(1, 9))
def test_ean13_catches_every_single_digit_error(payload: str, pos: int, delta: int) -> None:
    good = payload + str(ean13_check_digit(payload))
    wrong = good[:pos] + str((int(good[pos]) + delta) % 10) + good[pos + 1 :]
    assert is_valid_ean13(good)
    assert not is_valid_ean13(wrong)


def test_any_listed_scheme_accepts() -> None:
    schemes = ("codabar14", "ean13")
    assert is_acceptable("30234000517861", schemes)
    assert is_acceptable("9780306406157", schemes)
    assert not is_acceptable("30234000517862", schemes)
    assert is_acceptable("whatever", ("none",))
    assert is_acceptable("whatever", ())  # nothing configured: no check


def test_unknown_scheme_is_a_named_error() -> None:
    with pytest.raises(UnknownChecksumScheme, match="mod11"):
        check_schemes(["mod11"])
    assert set(SCHEMES) == {"none", "ean13", "ean8", "codabar14", "luhn"}


def test_normalise_strips_guards_and_spaces() -> None:
    assert normalise(" A30234000517861B ") == "30234000517861"
    assert normalise("c12-34d") == "12-34"
    assert normalise("BOOK12CD") == "BOOK12CD"  # not Codabar inside: left alone
    assert normalise("ABCD") == "ABCD"
