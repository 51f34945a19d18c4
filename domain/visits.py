"""One patron visit as the library may learn it: what was done and how it went, never who.

Why a record of its own, shared by the kiosk and the central service: the kiosk writes it, the
service checks and stores it, and both must agree on exactly which fields exist, because the
privacy promise is made by the fields themselves. There is no patron, card, item or title in
it, and no free text: every value is a count, a rounded duration, a start time rounded down to
the quarter hour, or a word from a closed list below (`check` refuses anything else, so a kiosk
cannot smuggle an identifier into the insights, by mistake or otherwise).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from domain.model import CredentialKind, ReasonCode

JOURNEYS = ("borrow", "return", "renew", "account")
# how a visit ended: finished (goodbye), walked off (timed out), gave up (cancelled, went back
# from the start), turned away at identification, or a fault in the kiosk
ENDINGS = ("done", "timeout", "abandoned", "refused", "error")
SCREENS = ("idle", "pin", "home", "borrow", "return", "account", "receipt", "goodbye")
IDENTIFIED = ("none", *(k.value for k in CredentialKind))
ACCESS_MODES = ("large_text", "high_contrast", "speech", "keypad", "more_time")
RECEIPTS = ("", "print", "email", "none")  # "": the receipt question was not asked
LANGUAGES = ("nl", "fr", "de", "en")
FEEDBACK_REASONS = ("too_slow", "could_not_find", "machine_error", "other")
REASONS = tuple(r.value for r in ReasonCode if r is not ReasonCode.OK)
MAX_SECONDS = 4 * 3600  # a longer "visit" is a kiosk left signed in: capped, not trusted
MAX_COUNT = 500
QUARTER = timedelta(minutes=15)


class InvalidVisit(ValueError):
    """A visit record that is not one: an unknown field or word, a value out of range."""


@dataclass(frozen=True, slots=True)
class Journey:
    kind: str  # one of JOURNEYS
    items: int = 0  # items tried (renewals: loans renewed or refused)
    ok: int = 0  # of which done


@dataclass(frozen=True, slots=True)
class Visit:
    visit_id: str
    started: str  # local time with offset, rounded down to the quarter hour
    ended: str  # one of ENDINGS
    last_screen: str  # where it ended (for "abandoned on screen X")
    seconds: int
    identified_by: str = "none"
    pin: bool = False
    language: str = "nl"
    offline: bool = False
    journeys: tuple[Journey, ...] = ()
    steps: dict[str, int] = field(default_factory=dict)  # screen -> seconds spent on it
    refusals: dict[str, int] = field(default_factory=dict)  # reason code -> how many
    access: tuple[str, ...] = ()  # ACCESS_MODES used during the visit
    receipt: str = ""
    feedback_asked: bool = False  # the goodbye screen asked "How did it go?"
    feedback: int | None = None  # 1 (bad) .. 4 (good), or not asked / not answered
    feedback_reason: str = ""  # after a low score, one of FEEDBACK_REASONS
    variants: dict[str, str] = field(default_factory=dict)  # experiment -> variant

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), sort_keys=True)


def new_visit_id() -> str:
    return str(uuid.uuid4())


def quarter_hour(moment: datetime) -> str:
    """`moment` (aware) rounded down to the quarter hour, as local ISO time with its offset."""
    floored = moment.replace(minute=moment.minute - moment.minute % 15, second=0,
                             microsecond=0)
    return floored.isoformat(timespec="minutes")


def check(raw: Any) -> Visit:
    """A visit from its JSON form, or InvalidVisit: every field known, every word from its list,
    every number in range (what the central service accepts from a kiosk)."""
    if not isinstance(raw, dict):
        raise InvalidVisit("a visit is a JSON object")
    known = set(Visit.__dataclass_fields__)
    if set(raw) - known:
        raise InvalidVisit(f"unknown fields: {sorted(set(raw) - known)[:5]}")
    try:
        visit = Visit(
            visit_id=_uuid(raw.get("visit_id")),
            started=_started(raw.get("started")),
            ended=_word(raw.get("ended"), ENDINGS, "ended"),
            last_screen=_word(raw.get("last_screen"), SCREENS, "last_screen"),
            seconds=_count(raw.get("seconds"), MAX_SECONDS, "seconds"),
            identified_by=_word(raw.get("identified_by", "none"), IDENTIFIED, "identified_by"),
            pin=_flag(raw.get("pin", False), "pin"),
            language=_word(raw.get("language", "nl"), LANGUAGES, "language"),
            offline=_flag(raw.get("offline", False), "offline"),
            journeys=tuple(_journey(j) for j in _list(raw.get("journeys", []), "journeys")),
            steps=_counts(raw.get("steps", {}), SCREENS, MAX_SECONDS, "steps"),
            refusals=_counts(raw.get("refusals", {}), REASONS, MAX_COUNT, "refusals"),
            access=tuple(sorted({_word(a, ACCESS_MODES, "access")
                                 for a in _list(raw.get("access", []), "access")})),
            receipt=_word(raw.get("receipt", ""), RECEIPTS, "receipt"),
            feedback_asked=_flag(raw.get("feedback_asked", False), "feedback_asked"),
            feedback=_score(raw.get("feedback")),
            feedback_reason=_word(raw.get("feedback_reason", ""), ("", *FEEDBACK_REASONS),
                                  "feedback_reason"),
            variants=_variants(raw.get("variants", {})),
        )
    except (TypeError, ValueError, AttributeError) as exc:
        if isinstance(exc, InvalidVisit):
            raise
        raise InvalidVisit(str(exc)) from None
    return visit


def _uuid(value: Any) -> str:
    if not isinstance(value, str) or len(value) != 36:
        raise InvalidVisit("visit_id must be a UUID")
    return str(uuid.UUID(value))


def _started(value: Any) -> str:
    if not isinstance(value, str) or len(value) > 32:
        raise InvalidVisit("started must be an ISO time")
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None or moment.second or moment.microsecond or moment.minute % 15:
        raise InvalidVisit("started must be a local time with offset, on a quarter hour")
    return moment.isoformat(timespec="minutes")


def _word(value: Any, allowed: tuple[str, ...], name: str) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise InvalidVisit(f"{name}: not one of the known words")
    return value


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidVisit(f"{name} must be true or false")
    return value


def _count(value: Any, most: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= most:
        raise InvalidVisit(f"{name} must be a whole number from 0 to {most}")
    return value


def _list(value: Any, name: str) -> list[Any]:
    if not isinstance(value, list) or len(value) > 50:
        raise InvalidVisit(f"{name} must be a short list")
    return value


def _counts(value: Any, keys: tuple[str, ...], most: int, name: str) -> dict[str, int]:
    if not isinstance(value, dict):
        raise InvalidVisit(f"{name} must be an object")
    return {_word(k, keys, name): _count(v, most, name) for k, v in value.items()}


def _journey(value: Any) -> Journey:
    if not isinstance(value, dict) or set(value) - {"kind", "items", "ok"}:
        raise InvalidVisit("a journey is {kind, items, ok}")
    items = _count(value.get("items", 0), MAX_COUNT, "items")
    ok = _count(value.get("ok", 0), items, "ok")
    return Journey(_word(value.get("kind"), JOURNEYS, "journey"), items, ok)


def _score(value: Any) -> int | None:
    if value is None:
        return None
    score = _count(value, 4, "feedback")
    if score < 1:
        raise InvalidVisit("feedback is a score from 1 to 4")
    return score


def _variants(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or len(value) > 10:
        raise InvalidVisit("variants must be a small object")
    out: dict[str, str] = {}
    for key, variant in value.items():
        # experiment and variant names are the library's own (staff define them): short
        # slugs only, so they cannot carry anything about a patron
        for text in (key, variant):
            if not isinstance(text, str) or not 0 < len(text) <= 40 or not all(
                    c.isalnum() or c in "-_" for c in text):
                raise InvalidVisit("variants: experiment and variant names are short slugs")
        out[key] = variant
    return out
