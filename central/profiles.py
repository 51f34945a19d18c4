"""Central profiles: technicians set kiosk settings for the whole library, a branch or one
kiosk; each kiosk gets the merge of its three layers with its heartbeat
(domain/profiles.py says what a profile may set and how layers merge).

Every change is kept in `profile_changes` with who made it and the layer before and after:
when a branch's kiosks start refusing offline loans, staff can see who changed what, when.
An empty layer is removed, so "back to the library's settings" is a change like any other.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import tomli_w

from central.db import Connection, Database
from domain import profiles

NAME_MAX = 100


class BadProfile(ValueError):
    """A profile staff sent that cannot be saved; the message says what to change."""


@dataclass(frozen=True)
class Layer:
    scope: str
    target: str  # "" for the library, a branch's name, a kiosk's id
    settings: dict[str, Any]


def parse(raw: dict[str, Any]) -> Layer:
    scope = raw.get("scope")
    if scope not in profiles.SCOPES:
        raise BadProfile(f"scope: expected one of {', '.join(profiles.SCOPES)}")
    target = raw.get("target", "")
    if not isinstance(target, str) or len(target) > NAME_MAX:
        raise BadProfile(f"target: expected a name of at most {NAME_MAX} characters")
    if (scope == "library") != (target == ""):
        raise BadProfile("target: empty for the library, a branch's name or a kiosk's id "
                         "otherwise")
    settings = raw.get("settings")
    if "toml" in raw:  # the page's form: the same TOML as a kiosk's own file
        settings = _from_toml(raw["toml"])
    found = profiles.problems(settings)
    if found:
        raise BadProfile("; ".join(found[:10]))
    assert isinstance(settings, dict)
    return Layer(scope, target, settings)


def _from_toml(text: Any) -> dict[str, Any]:
    if not isinstance(text, str) or len(text) > profiles.MAX_BYTES:
        raise BadProfile(f"toml: expected text of at most {profiles.MAX_BYTES} characters")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BadProfile(f"not valid TOML: {exc}") from None
    except RecursionError:
        raise BadProfile("not valid TOML: nested hundreds deep") from None


def as_toml(settings: dict[str, Any] | None) -> str:
    return tomli_w.dumps(settings) if settings else ""


def save(db: Database, layer: Layer, staff: str) -> dict[str, Any]:
    """Replace one layer (an empty one is removed) and record the change."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    after = profiles.canonical(layer.settings) if layer.settings else None
    with db.write() as conn:
        if layer.scope == "kiosk" and conn.execute(
                "SELECT 1 FROM kiosks WHERE kiosk_id = ?", (layer.target,)).fetchone() is None:
            raise BadProfile(f"target: no kiosk {layer.target!r}")
        row = conn.execute("SELECT settings FROM profiles WHERE scope = ? AND target = ?",
                           (layer.scope, layer.target)).fetchone()
        before = row["settings"] if row else None
        if before == after:
            return {"scope": layer.scope, "target": layer.target, "changed": False}
        conn.execute("DELETE FROM profiles WHERE scope = ? AND target = ?",
                     (layer.scope, layer.target))
        if after is not None:
            conn.execute("INSERT INTO profiles (scope, target, settings, changed_at, changed_by)"
                         " VALUES (?, ?, ?, ?, ?)",
                         (layer.scope, layer.target, after, now, staff))
        conn.execute("INSERT INTO profile_changes (scope, target, before, after, changed_at, "
                     "changed_by) VALUES (?, ?, ?, ?, ?, ?)",
                     (layer.scope, layer.target, before, after, now, staff))
    return {"scope": layer.scope, "target": layer.target, "changed": True}


def effective(conn: Connection, kiosk_id: str, branch: str) -> dict[str, Any]:
    """The kiosk's profile: library, then its branch, then itself; its version names it."""
    rows = {(r["scope"], r["target"]): r["settings"] for r in conn.execute(
        "SELECT scope, target, settings FROM profiles WHERE (scope = 'library' AND target = '')"
        " OR (scope = 'branch' AND target = ?) OR (scope = 'kiosk' AND target = ?)",
        (branch, kiosk_id))}
    layers = [json.loads(rows[key]) for key in (("library", ""), ("branch", branch),
                                                ("kiosk", kiosk_id)) if key in rows]
    settings = profiles.merge(*layers)
    return {"version": profiles.version_of(settings), "settings": settings}


def layers(db: Database) -> list[dict[str, Any]]:
    with db.read() as conn:
        found = [(r, json.loads(r["settings"])) for r in conn.execute(
            "SELECT * FROM profiles ORDER BY scope, target")]
    return [{"scope": r["scope"], "target": r["target"], "settings": settings,
             "toml": as_toml(settings), "version": profiles.version_of(settings),
             "changed_at": r["changed_at"], "changed_by": r["changed_by"]}
            for r, settings in found]


def changes(db: Database, limit: int = 200) -> list[dict[str, Any]]:
    """The audit log, newest first."""
    with db.read() as conn:
        rows = list(conn.execute("SELECT * FROM profile_changes ORDER BY change_id DESC "
                                 "LIMIT ?", (limit,)))
    listed = []
    for r in rows:
        before = json.loads(r["before"]) if r["before"] else None
        after = json.loads(r["after"]) if r["after"] else None
        listed.append({"scope": r["scope"], "target": r["target"], "before": before,
                       "after": after, "before_toml": as_toml(before),
                       "after_toml": as_toml(after), "changed_at": r["changed_at"],
                       "changed_by": r["changed_by"]})
    return listed
