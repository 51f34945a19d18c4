"""The fleet over time (central/fleet_series.py) and the staff pages' languages, over the real
service on a loopback port, on SQLite and on PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from staff_support import Service
from test_dashboard_api import login

from central import fleet_series, staff_i18n
from central.db import Database
from central.kiosks import register_kiosk

NOW = datetime(2026, 12, 4, 15, 7, tzinfo=UTC)


def _beat(db: Database, kiosk: str, at: datetime, online: bool, pending: int) -> None:
    with db.write() as conn:
        fleet_series.record_beat(conn, kiosk, {"online": online, "queue": {"pending": pending}},
                                 at)


def _act(db: Database, kiosk: str, kind: str, at: datetime) -> None:
    with db.write() as conn:
        fleet_series.count_circulation(conn, kiosk, kind, at, NOW)


def test_heartbeats_become_kiosks_online_and_queue_depth_per_quarter_and_hour(
        central_location: Any) -> None:
    with Database(central_location) as db:
        for minute in range(0, 15, 1):  # two kiosks beating through the last quarter
            _beat(db, "k1", NOW.replace(minute=0) + timedelta(minutes=minute), True, minute)
        _beat(db, "k2", NOW - timedelta(minutes=2), False, 40)  # offline, a long queue
        _beat(db, "k1", NOW - timedelta(hours=3), True, 2)
        _beat(db, "k2", NOW - timedelta(hours=3, minutes=5), True, 1)
        _beat(db, "k1", NOW - timedelta(days=9), True, 99)  # older than kept
        _act(db, "k1", "checkout", NOW - timedelta(minutes=30))
        _act(db, "k2", "checkout", NOW - timedelta(minutes=20))
        _act(db, "k1", "checkin", NOW - timedelta(hours=3))
        _act(db, "k1", "renew", NOW)  # not charted
        _act(db, "k1", "checkout", NOW + timedelta(days=300))  # a wrong kiosk clock: left out
        day = fleet_series.series(db, "24h", NOW)
        week = fleet_series.series(db, "7d", NOW)
    assert len(day["fleet"]) == 96 and day["width_s"] == 900
    assert day["fleet"][-1] == {"at": "2026-12-04T15:00:00+00:00", "online": 1, "queue": 54}
    three_ago = {p["at"]: p for p in day["fleet"]}
    assert three_ago["2026-12-04T12:00:00+00:00"]["online"] == 2  # 12:02 and 12:07
    assert sum(p["online"] for p in day["fleet"]) == 3
    assert len(week["fleet"]) == 168 and week["width_s"] == 3600
    assert week["fleet"][-1]["queue"] == 54 and week["fleet"][-4]["online"] == 2
    assert all(p["queue"] < 99 for p in week["fleet"])
    hours = {p["at"]: p for p in day["circulation"]}
    assert hours["2026-12-04T14:00:00+00:00"] == {"at": "2026-12-04T14:00:00+00:00",
                                                  "loans": 2, "returns": 0}
    assert hours["2026-12-04T12:00:00+00:00"]["returns"] == 1
    assert sum(p["loans"] for p in week["circulation"]) == 2


def test_the_service_keeps_the_series_from_real_heartbeats_and_loans(service: Service) -> None:
    from domain.demo_library import AVAILABLE_ITEMS, DEMO_KIOSK_ID, DEMO_TOKEN, SEED_PATRONS
    from domain.model import Transaction, TransactionKind
    from kiosk.backends.rest import RestBackend

    with RestBackend(service.url, DEMO_TOKEN, kiosk_id=DEMO_KIOSK_ID, timeout=(1, 5)) as kiosk:
        kiosk.heartbeat({"online": True, "heartbeat_s": 30, "queue": {"pending": 3}})
        kiosk.checkout(Transaction(TransactionKind.CHECKOUT, SEED_PATRONS[14].patron_id,
                                   AVAILABLE_ITEMS[3], kiosk_id=DEMO_KIOSK_ID))
    staff = login(service.url)
    data = staff.get(f"{service.url}/staff/api/series?span=24h", timeout=5).json()
    assert data["fleet"][-1]["online"] == 1 and data["fleet"][-1]["queue"] == 3
    assert sum(p["loans"] for p in data["circulation"]) == 1
    assert staff.get(f"{service.url}/staff/api/series?span=1y", timeout=5).status_code == 400
    assert requests.get(f"{service.url}/staff/api/series", timeout=5).status_code == 401


def test_the_staff_pages_speak_the_chosen_language_then_the_browsers(service: Service) -> None:
    url = f"{service.url}/staff/api/strings"
    chosen = requests.get(url, cookies={staff_i18n.COOKIE: "fr"},
                          headers={"Accept-Language": "nl-BE,nl;q=0.9"}, timeout=5).json()
    assert chosen["language"] == "fr" and chosen["strings"]["Log in"] == "Se connecter"
    browser = requests.get(url, headers={"Accept-Language": "de-BE;q=0.9, en;q=0.5"},
                           timeout=5).json()
    assert browser["language"] == "de" and browser["strings"]["Fleet"] == "Alle Kioske"
    odd = requests.get(url, cookies={staff_i18n.COOKIE: "xx"},
                       headers={"Accept-Language": "ja"}, timeout=5).json()
    assert odd["language"] == "en"
    assert set(odd["languages"]) == {"nl", "fr", "de", "en"}


@pytest.mark.parametrize("language", staff_i18n.LANGUAGES)
def test_every_word_of_the_staff_pages_is_translated_with_its_placeholders(language) -> None:
    """Fails when a page gains a word no catalog has (run `python -m central.staff_i18n`, then
    translate), or a translation lost a {placeholder}."""
    words = staff_i18n.strings(language)
    marked = {message for message, _, _ in staff_i18n.extract()}
    assert marked and not marked - set(words), sorted(marked - set(words))
    for message in marked:
        assert set(re.findall(r"\{\w+\}", words[message])) == \
            set(re.findall(r"\{\w+\}", message)), (language, message)


def test_a_registered_kiosk_that_never_beat_counts_as_not_online(central_location: Any) -> None:
    with Database(central_location) as db:
        register_kiosk(db, "quiet-1", name="Quiet", branch="Zuid")
        day = fleet_series.series(db, "24h", NOW)
    assert all(p["online"] == 0 for p in day["fleet"])
