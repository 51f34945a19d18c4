"""Messages staff publish to patrons: an event, a holiday closure, a new service, in the four
languages, for a period, on chosen kiosks or branches, for everyone (the idle screen) or for one
patron category (shown after identification: "the children's reading hour is on Wednesday").

Why the category and not a list of patrons: the library system already sorts its patrons
(adult, child, school ... : the REST API's `category`, SIP2's patron class where the ILS sends
one), and a message aimed at a category says nothing about any one patron. The kiosk counts
how often each message was shown and reports the counts with its heartbeat; no one is counted
as having seen it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from central.db import Database
from domain.experiments import InvalidExperiment, is_slug, variant_of


class BadMessage(ValueError):
    """A message that cannot be published as given; the text says what to change."""


@dataclass(frozen=True)
class Message:
    message_id: int
    texts: dict[str, str]
    start: date
    end: date
    kiosks: tuple[str, ...] = ()
    branches: tuple[str, ...] = ()
    audience: str = ""  # "": everyone, on the idle screen; else a patron category
    shown: int = 0

    def as_sent(self) -> dict[str, Any]:
        return {"message_id": self.message_id, "texts": self.texts, "end": self.end.isoformat(),
                "audience": self.audience}


def parse(raw: Mapping[str, Any]) -> Message:
    """A message from the staff form (JSON), or BadMessage."""
    try:
        # the same rule as an experiment's idle line: a short printable line per language
        texts = variant_of("idle_message", {"name": "m", "value": raw.get("texts")}).value
        start, end = date.fromisoformat(raw["start"]), date.fromisoformat(raw["end"])
        kiosks = tuple(str(k) for k in raw.get("kiosks", ()))
        branches = tuple(str(b) for b in raw.get("branches", ()))
        audience = str(raw.get("audience", ""))
    except InvalidExperiment as exc:
        raise BadMessage(str(exc)) from None
    except (KeyError, TypeError, ValueError) as exc:
        raise BadMessage(f"texts, start and end are needed: {exc}") from None
    if end < start:
        raise BadMessage("the end comes after the start")
    if audience and not is_slug(audience):
        raise BadMessage("the audience is a patron category (e.g. child), or empty for all")
    return Message(0, texts, start, end, kiosks, branches, audience)


def publish(db: Database, message: Message, staff: str) -> int:
    with db.write() as conn:
        cur = conn.execute(
            "INSERT INTO messages (texts, start, \"end\", kiosks, branches, audience, created_by,"
            " created_at) VALUES (?,?,?,?,?,?,?,?) RETURNING message_id",
            (json.dumps(message.texts, ensure_ascii=False), message.start.isoformat(),
             message.end.isoformat(), json.dumps(list(message.kiosks)),
             json.dumps(list(message.branches)), message.audience, f"staff:{staff}",
             datetime.now().astimezone().isoformat(timespec="seconds")))
        return int(cur.fetchone()[0])


def every(db: Database) -> list[Message]:
    with db.read() as conn:
        rows = conn.execute("SELECT * FROM messages ORDER BY start DESC, message_id DESC")
        return [_message(r) for r in rows]


def _message(r: Any) -> Message:
    return Message(r["message_id"], json.loads(r["texts"]), date.fromisoformat(r["start"]),
                   date.fromisoformat(r["end"]), tuple(json.loads(r["kiosks"])),
                   tuple(json.loads(r["branches"])), r["audience"], r["shown"])


def active_for(db: Database, kiosk_id: str, today: date) -> list[Message]:
    """The messages a kiosk shows today: on it, or on its branch, or on every kiosk."""
    with db.read() as conn:
        row = conn.execute("SELECT branch FROM kiosks WHERE kiosk_id = ?", (kiosk_id,)).fetchone()
        rows = conn.execute("SELECT * FROM messages WHERE start <= ? AND \"end\" >= ?"
                            " ORDER BY message_id LIMIT 50",
                            (today.isoformat(), today.isoformat())).fetchall()
    branch = row["branch"] if row else ""
    out = []
    for message in map(_message, rows):
        anywhere = not message.kiosks and not message.branches
        if anywhere or kiosk_id in message.kiosks or branch in message.branches:
            out.append(message)
    return out


def count_shown(db: Database, shown: Any) -> None:
    """A kiosk's counts since its last heartbeat: {message id: times shown}. Anything else in
    the field is ignored (it is a count, not a record of who saw what)."""
    if not isinstance(shown, Mapping):
        return
    counts = []
    for key, n in list(shown.items())[:100]:
        if isinstance(n, int) and not isinstance(n, bool) and 0 < n <= 100_000 and \
                str(key).isdigit():
            counts.append((n, int(key)))
    if counts:  # counting up needs no lock of ours; in one order, two kiosks never deadlock
        with db.write(keys=()) as conn:
            conn.executemany("UPDATE messages SET shown = shown + ? WHERE message_id = ?",
                             sorted(counts, key=lambda c: c[1]))
