"""SIP2 dates: the fixed 18-char form YYYYMMDDZZZZHHMMSS and the looser due dates.

ZZZZ is the time zone: four blanks mean "the ACS's local time", ``"   Z"``
means UTC. Local time is ambiguous for a kiosk whose clock and time zone may
differ from the server's, so the caller passes the server's zone explicitly
(from config) and every datetime we return is time-zone aware.

Due dates (AH) are "in any format the ACS likes": Koha and FOLIO send the SIP2
form, Evergreen can send ISO 8601. `parse_due_date` tries the forms we have
seen and returns None rather than inventing a date.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, tzinfo

from kiosk.backends.sip2.codec import ProtocolError

SIP_DATE = re.compile(r"([0-9]{8})([ A-Z0-9]{4})([0-9]{6})")
_UTC_ZONES = {"   Z", "UTC ", " UTC", "GMT ", " GMT", "000Z"}


def format_sip_date(moment: datetime, *, server_tz: tzinfo, utc: bool = False) -> str:
    """The 18-char SIP2 form of `moment` (naive datetimes are taken as UTC).

    With `utc` the zone is sent explicitly as ``   Z``; otherwise the time is
    converted to the server's zone and the zone is left blank ("local").
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if utc:
        moment = moment.astimezone(UTC)
        zone = "   Z"
    else:
        moment = moment.astimezone(server_tz)
        zone = "    "
    return moment.strftime("%Y%m%d") + zone + moment.strftime("%H%M%S")


def parse_sip_date(text: str, *, server_tz: tzinfo) -> datetime:
    """An aware datetime from the 18-char form; ProtocolError if it is not one."""
    match = SIP_DATE.fullmatch(text)
    if match is None:
        raise ProtocolError(f"{text!r} is not a SIP2 date (YYYYMMDDZZZZHHMMSS)")
    day, zone, clock = match.groups()
    try:
        naive = datetime.strptime(day + clock, "%Y%m%d%H%M%S")
    except ValueError as exc:
        raise ProtocolError(f"{text!r} is not a real date/time") from exc
    if zone in _UTC_ZONES or zone.endswith("Z"):
        moment = naive.replace(tzinfo=UTC)
    else:  # blank or a zone name we cannot resolve reliably (e.g. "EST "): server local time
        moment = naive.replace(tzinfo=server_tz)
    try:  # a moment at the edge of the calendar cannot be converted to every zone
        moment.astimezone(UTC).astimezone(server_tz)
    except (OverflowError, ValueError):
        raise ProtocolError(f"{text!r} is outside the dates the kiosk can handle") from None
    return moment


_DUE_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
    "%Y%m%d",
    "%m/%d/%Y",
)


def parse_due_date(text: str | None, *, server_tz: tzinfo) -> date | None:
    """The calendar day an item is due, from whatever the ACS sent in AH."""
    if not text or not text.strip():
        return None
    text = text.strip()
    if SIP_DATE.fullmatch(text):
        try:
            return parse_sip_date(text, server_tz=server_tz).astimezone(server_tz).date()
        except ProtocolError:
            return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        parsed = None
    if parsed is not None:
        if parsed.tzinfo is not None:
            try:
                parsed = parsed.astimezone(server_tz)
            except (OverflowError, ValueError):  # "0001-01-01000+01" and the like
                return None
        return parsed.date()
    for fmt in _DUE_FORMATS:
        try:
            return datetime.strptime(text[:19], fmt).date()
        except ValueError:
            continue
    return None
