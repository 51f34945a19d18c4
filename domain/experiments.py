"""What the service may change on a kiosk (an experiment's variants, a message to patrons), in
words both sides check the same way.

Why in domain: staff define experiments on the central service and kiosks run them; a kiosk
must refuse what a broken or hostile service sends as firmly as the service refuses a bad
form, and the two must agree on every word. See central/experiments.py for the staff side and
kiosk/experiments.py for the kiosk's.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

FACTORS = ("idle_message", "receipt_default", "feedback")
LANGUAGES = ("nl", "fr", "de", "en")
RECEIPT_DEFAULTS = ("print", "email", "none")
MAX_MESSAGE = 160
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


class InvalidExperiment(ValueError):
    """An experiment (or a variant) that cannot run as described; the message says why."""


@dataclass(frozen=True)
class Variant:
    name: str
    # per factor: {language: text} (idle_message), "print"/"email"/"none" (receipt_default),
    # "on"/"off" (feedback)
    value: Any


@dataclass(frozen=True)
class Running:
    """An experiment as a kiosk runs it: until `end` (included), one variant per visit."""

    name: str
    factor: str
    end: date
    variants: tuple[Variant, ...]


def is_slug(text: object) -> bool:
    return isinstance(text, str) and bool(_SLUG.match(text))


def variant_of(factor: str, raw: Any) -> Variant:
    """A variant from its JSON form for `factor`, or InvalidExperiment."""
    if factor not in FACTORS:
        raise InvalidExperiment(f"the kiosk can vary: {', '.join(FACTORS)}")
    if not isinstance(raw, Mapping) or not is_slug(raw.get("name")):
        raise InvalidExperiment("each variant has a short slug for a name")
    value = raw.get("value")
    if factor == "idle_message":
        value = _messages(value)
    elif factor == "receipt_default" and value not in RECEIPT_DEFAULTS:
        raise InvalidExperiment("the receipt default is print, email or none")
    elif factor == "feedback" and value not in ("on", "off"):
        raise InvalidExperiment("the feedback question is on or off")
    return Variant(str(raw["name"]), value)


def _messages(value: Any) -> dict[str, str]:
    """One short line per language, printable text only (no markup reaches a screen)."""
    if not isinstance(value, Mapping) or not value or set(value) - set(LANGUAGES):
        raise InvalidExperiment("an idle message is a text per language (nl, fr, de, en)")
    out: dict[str, str] = {}
    for language, text in value.items():
        if not isinstance(text, str):
            raise InvalidExperiment("an idle message is text")
        # line breaks and tabs become spaces; other control and format characters go
        spaced = " ".join(text.split())
        clean = " ".join("".join(c for c in spaced if unicodedata.category(c)[0] != "C").split())
        if not 0 < len(clean) <= MAX_MESSAGE:
            raise InvalidExperiment(f"an idle message has 1 to {MAX_MESSAGE} characters")
        out[str(language)] = clean
    return out


def running_of(raw: Any) -> Running:
    """An experiment as a service sends it with the heartbeat, or InvalidExperiment."""
    if not isinstance(raw, Mapping) or not is_slug(raw.get("name")):
        raise InvalidExperiment("an experiment has a slug for a name")
    factor = str(raw.get("factor", ""))
    try:
        end = date.fromisoformat(str(raw.get("end")))
    except ValueError:
        raise InvalidExperiment("an experiment has an end day") from None
    variants = raw.get("variants")
    if not isinstance(variants, list) or not 2 <= len(variants) <= 4:
        raise InvalidExperiment("two to four variants")
    parsed = tuple(variant_of(factor, v) for v in variants)
    if len({v.name for v in parsed}) != len(parsed):
        raise InvalidExperiment("each variant has its own name")
    return Running(str(raw["name"]), factor, end, parsed)


@dataclass(frozen=True)
class PatronMessage:
    """A message to patrons as a kiosk shows it until `end` (included): on the idle screen
    (no audience) or after identification to one patron category."""

    message_id: int
    texts: dict[str, str]
    end: date
    audience: str = ""

    def text(self, language: str, fallback: str) -> str:
        return self.texts.get(language) or self.texts.get(fallback) or next(
            iter(self.texts.values()))


def message_of(raw: Any) -> PatronMessage:
    """A message as a service sends it with the heartbeat, or InvalidExperiment."""
    if not isinstance(raw, Mapping):
        raise InvalidExperiment("a message is an object")
    number = raw.get("message_id")
    if isinstance(number, bool) or not isinstance(number, int) or not 0 < number < 2**53:
        raise InvalidExperiment("a message has a number")
    try:
        end = date.fromisoformat(str(raw.get("end")))
    except ValueError:
        raise InvalidExperiment("a message has an end day") from None
    audience = raw.get("audience", "")
    if audience and not is_slug(audience):
        raise InvalidExperiment("a message's audience is a patron category")
    return PatronMessage(number, _messages(raw.get("texts")), end, str(audience or ""))


def category_of(raw: object) -> str:
    """A patron category as a library system reports it ("Child", "J ", "school"), as the
    kiosk compares it: lower case, trimmed, or "" when it is not a short word."""
    text = str(raw or "").strip().lower()
    return text if is_slug(text) else ""
