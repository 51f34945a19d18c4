"""The one policy for patron and item identifiers outside the places that need them whole.

Why one module: the kiosk's logs, its technician screens, the drivers' logs and the central
service's logs must all follow the same rules, and a reviewer should find them in one place:

- `log_tag`: what a log line carries instead of an identifier. A short, stable hash: the same
  card gives the same tag, so a technician can follow one card through a log, but the tag
  cannot be turned back into the number (and a log leaked from a kiosk names no one).
- `shown`: what a technician's screen shows of a card they just presented: the last four
  characters, enough to tell two cards apart, not enough to use one.
- `pseudonym`: what the kiosk's own records keep of a patron once a transaction is finished:
  a salted hash (the salt never leaves that kiosk's journal), the same patron giving the same
  pseudonym there and nowhere else;
- `masked_email`: how the screen names the address a receipt goes to: the first letter and
  the domain ("m•••@example.org"), so a patron recognises it and a passer-by learns nothing;
- `scrub`: free text (error messages, log lines from libraries we do not control) with anything
  that looks like a card, patron or item number removed.
"""

from __future__ import annotations

import hashlib
import re

_PATRON_PATH = re.compile(r"(/patrons/)[^/\s?]+", re.IGNORECASE)
_LONG_NUMBER = re.compile(r"\b[0-9A-Fa-f]*\d[0-9A-Fa-f]{5,}\b")


def log_tag(identifier: str | None) -> str:
    """A stable, non-reversible tag for logs: the same identifier gives the same tag."""
    if not identifier:
        return "<none>"
    return "#" + hashlib.sha256(str(identifier).encode()).hexdigest()[:10]


def pseudonym(identifier: str, *, salt: str) -> str:
    """A stable, salted, short stand-in for a patron identifier, safe for logs and screens."""
    return hashlib.sha256(f"{salt}:{identifier}".encode()).hexdigest()[:10]


def shown(identifier: str) -> str:
    """Enough of a card number to tell two cards apart, not enough to use one."""
    text = str(identifier)
    if len(text) <= 4:
        return "•" * len(text)
    return "•" * (len(text) - 4) + text[-4:]


def masked_email(address: str) -> str:
    """ "marie.claes@example.org" -> "m•••@example.org"; "" for anything that is not one."""
    local, at, domain = address.strip().rpartition("@")
    if not at or not local or "." not in domain or " " in address.strip():
        return ""
    return f"{local[0]}\u2022\u2022\u2022@{domain}"


def scrub(text: str) -> str:
    """Remove what could be a patron identifier from a free text (error messages, log lines)."""
    text = _PATRON_PATH.sub(r"\1*", text)
    return _LONG_NUMBER.sub("…", text)
