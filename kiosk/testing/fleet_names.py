"""Names the load bench's fleet and its database setup share (bench/central_load.py and
kiosk/testing/fleet_load.py, which runs under gevent and is not imported by the bench)."""

from __future__ import annotations

QUEUED = 200  # transactions a kiosk back from an outage holds
ITEMS_PER_KIOSK = QUEUED // 2 + 4  # 4 for lending online, one per queued loan


def token_of(n: int) -> str:
    return f"load-kiosk-token-{n:05d}-not-a-secret"


def kiosk_id(n: int) -> str:
    return f"load-{n:05d}"
