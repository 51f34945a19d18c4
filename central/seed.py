"""Seed the reference service's database with the demo library (`kiosk-central seed`).

The library itself (patrons, items, loans, holds, the demo kiosk's token) is data in
`domain.demo_library`, shared with the demo kiosk; this module writes it into a database.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from central.db import Database
from central.hashing import hash_pin
from central.kiosks import register_kiosk
from central.service import library_day
from domain.demo_library import (
    DEMO_BRANCH,
    DEMO_KIOSK_ID,
    DEMO_PIN,
    DEMO_TOKEN,
    HOLDS,
    LOANS,
    OVERDUE,
    RENEWALS,
    SEED_ITEMS,
    SEED_PATRONS,
)


class SeedError(RuntimeError):
    """The database already holds a library; seeding twice would mix two."""


def seed(db: Database, *, today: date | None = None) -> None:
    """Fill an empty database with the demo library; refuses a database that has patrons."""
    today = today or library_day(datetime.now(UTC))
    noon = datetime.combine(today, time(12, 0), tzinfo=UTC)
    pin_hash_cost = 2**14
    with db.write() as conn:
        if conn.execute("SELECT COUNT(*) FROM patrons").fetchone()[0]:
            raise SeedError("database already holds patrons; seed an empty database")
        for p in SEED_PATRONS:
            conn.execute(
                "INSERT INTO patrons(patron_id, name, pin_hash, blocked, block_note, fines_cents,"
                " card_expires, email, category) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (p.patron_id, p.name, hash_pin(DEMO_PIN, n=pin_hash_cost), int(p.blocked),
                 p.block_note, p.fines_cents,
                 None if p.card_expires_days is None
                 else (today + timedelta(days=p.card_expires_days)).isoformat(),
                 p.email if p.patron_id != "P0001" else None,  # Jan left no address
                 p.category))
            creds = [("barcode", p.barcode), ("card_uid", p.card_uid), ("eid", p.eid)]
            for kind, value in creds:
                if value:
                    conn.execute("INSERT INTO credentials(kind, value, patron_id) "
                                 "VALUES (?, ?, ?)", (kind, value, p.patron_id))
        conn.executemany(
            "INSERT INTO items(item_id, title, author, loanable, parts, collection) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(i.item_id, i.title, i.author, int(i.loanable), i.parts, i.collection)
             for i in SEED_ITEMS])
        for patron_id, indexes in LOANS.items():
            for index in indexes:
                loaned = noon - timedelta(days=30 if index in OVERDUE else 5 + index % 7)
                due = loaned.date() + timedelta(days=21)
                conn.execute(
                    "INSERT INTO loans(item_id, patron_id, loaned_at, due, renewals) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (SEED_ITEMS[index].item_id, patron_id, loaned.isoformat(),
                     due.isoformat(), RENEWALS.get(index, 0)))
        for n, (index, patron_id, ready) in enumerate(HOLDS):
            conn.execute(
                "INSERT INTO holds(item_id, patron_id, placed_at, ready, pickup_until) "
                "VALUES (?, ?, ?, ?, ?)",
                (SEED_ITEMS[index].item_id, patron_id,
                 (noon - timedelta(days=10 - n)).isoformat(), int(ready),
                 (today + timedelta(days=5)).isoformat() if ready else None))
    register_kiosk(db, DEMO_KIOSK_ID, name="Demo kiosk", branch=DEMO_BRANCH, token=DEMO_TOKEN)
