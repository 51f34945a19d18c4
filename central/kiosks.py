"""Kiosk registration: each kiosk gets its own bearer token, stored only as a SHA-256 hash.

Why per kiosk: a stolen kiosk can be revoked alone, and every transaction and heartbeat is
attributed to the kiosk that sent it (the dashboard counts per kiosk).
"""

from __future__ import annotations

from central.db import INTEGRITY_ERRORS, Database
from central.hashing import hash_token, new_token


class KioskExists(ValueError):
    """A kiosk with this id is already registered; revoke it first to issue a new token."""


def register_kiosk(db: Database, kiosk_id: str, *, name: str, branch: str,
                   token: str | None = None) -> str:
    """Register a kiosk and return its token (shown once, never stored in clear)."""
    if not kiosk_id.strip():
        raise ValueError("kiosk id must not be empty")
    token = token or new_token()
    try:
        with db.write() as conn:
            conn.execute("INSERT INTO kiosks(kiosk_id, name, branch, token_hash) "
                         "VALUES (?, ?, ?, ?)", (kiosk_id, name, branch, hash_token(token)))
    except INTEGRITY_ERRORS as exc:
        raise KioskExists(f"kiosk {kiosk_id!r} is already registered") from exc
    return token


def revoke_kiosk(db: Database, kiosk_id: str) -> bool:
    with db.write() as conn:
        return conn.execute("DELETE FROM kiosks WHERE kiosk_id = ?", (kiosk_id,)).rowcount > 0
