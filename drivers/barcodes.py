"""Barcode check digits, so a misread or a wrong barcode is caught at the kiosk.

Schemes (configured per kiosk as a list; a code is accepted if ANY listed scheme
accepts it, so a library can take its own 14-digit cards and EAN-13 items):

    none       accept everything (scanners already check their symbology)
    ean13      EAN-13 / ISBN-13: weights 1,3,1,3... over 12 digits, check = (10 - sum) mod 10
    ean8       EAN-8: weights 3,1,3,1... over 7 digits
    codabar14  the 14-digit library barcode ("Codabar 14", Dynix/III/Koha style):
               1 type digit (2 patron, 3 item), 4 institution digits, 8 serial
               digits, 1 check digit, "modulus 10, type 1": double the digits at
               odd positions 1,3,...,13, subtract 9 from products above 9, add the
               even positions, check = (10 - total mod 10) mod 10. (This equals
               Luhn over 14 digits; the scheme also insists on length 14 and a
               leading 2 or 3.) Codabar start/stop characters A-D are stripped.
    luhn       Luhn mod 10 over any number of digits (some card vendors)

A bad check digit is not an exception at run time: the scanner drivers publish
`CardUnreadable(detail=BAD_CHECK_DIGIT)` instead of `BarcodeScanned`, so the
session can say "this card/item could not be read, please scan it again".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

BAD_CHECK_DIGIT = "barcode check digit does not match: please scan again"


class UnknownChecksumScheme(ValueError):
    """A configured checksum scheme name is not one of SCHEMES."""


def _digits(code: str) -> bool:
    return code.isascii() and code.isdigit()


def luhn_check_digit(payload: str) -> int:
    """The digit that makes payload + digit pass Luhn."""
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = int(ch)
        if i % 2 == 0:  # these are doubled once the check digit is appended
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10


def is_valid_luhn(code: str) -> bool:
    return len(code) >= 2 and _digits(code) and luhn_check_digit(code[:-1]) == int(code[-1])


def _weighted_check(payload: str, first_weight: int) -> int:
    weights = (first_weight, 4 - first_weight)  # 1,3 or 3,1 alternating
    total = sum(int(ch) * weights[i % 2] for i, ch in enumerate(payload))
    return (10 - total % 10) % 10


def ean13_check_digit(first12: str) -> int:
    return _weighted_check(first12, 1)


def is_valid_ean13(code: str) -> bool:
    return len(code) == 13 and _digits(code) and ean13_check_digit(code[:12]) == int(code[12])


def is_valid_ean8(code: str) -> bool:
    return len(code) == 8 and _digits(code) and _weighted_check(code[:7], 3) == int(code[7])


_CODABAR_GUARDS = frozenset("ABCDabcd")
_CODABAR_DATA = frozenset("0123456789-$:/.+")


def strip_codabar_guards(code: str) -> str:
    """Drop Codabar start/stop characters (A-D) that some scanners pass through.

    Only when what is between them is Codabar data (digits and - $ : / . +), so
    an alphanumeric code such as "BOOK12CD" is left alone.
    """
    inner = code[1:-1]
    if (
        len(code) >= 3
        and code[0] in _CODABAR_GUARDS
        and code[-1] in _CODABAR_GUARDS
        and set(inner) <= _CODABAR_DATA
    ):
        return inner
    return code


def codabar14_check_digit(first13: str) -> int:
    total = 0
    for pos, ch in enumerate(first13, start=1):
        d = int(ch)
        if pos % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10


def is_valid_codabar14(code: str) -> bool:
    code = strip_codabar_guards(code)
    return (
        len(code) == 14
        and _digits(code)
        and code[0] in "23"
        and codabar14_check_digit(code[:13]) == int(code[13])
    )


SCHEMES: dict[str, Callable[[str], bool]] = {
    "none": lambda code: True,
    "ean13": is_valid_ean13,
    "ean8": is_valid_ean8,
    "codabar14": is_valid_codabar14,
    "luhn": is_valid_luhn,
}


def check_schemes(schemes: Iterable[str]) -> tuple[str, ...]:
    """Validate configured scheme names at start-up; an empty list means "none"."""
    names = tuple(schemes) or ("none",)
    unknown = [s for s in names if s not in SCHEMES]
    if unknown:
        raise UnknownChecksumScheme(
            f"unknown checksum scheme(s) {unknown}; expected some of {sorted(SCHEMES)}"
        )
    return names


def is_acceptable(code: str, schemes: Iterable[str]) -> bool:
    """True when any configured scheme accepts the code."""
    return any(SCHEMES[s](code) for s in check_schemes(schemes))


def normalise(code: str) -> str:
    """What the kiosk hands on: Codabar guards removed, surrounding spaces dropped."""
    return strip_codabar_guards(code.strip())
