"""The Kiosk Catalog API over real HTTP against the seeded demo library."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import requests
from engines import direct

from central.db import Database, set_setting
from central.server import RunningServer
from central.service import library_day
from domain.demo_library import (
    AVAILABLE_ITEMS,
    DEMO_KIOSK_ID,
    DEMO_PIN,
    HELD_ITEMS,
    MULTIPART_ITEMS,
    PATRONS_BY_ROLE,
    PICKUP_ITEM,
    REFERENCE_ITEM,
    RENEW_LIMIT_ITEM,
    SEED_ITEMS,
    SEED_PATRONS,
    WAITED_FOR_ITEM,
)

JAN = PATRONS_BY_ROLE["card"]
AN = PATRONS_BY_ROLE["eid"]
def today() -> date:
    """The library's day now (the service counts in it), asked when a test runs: a run that
    crosses midnight must not compare with the day it was collected on."""
    return library_day(datetime.now(UTC))


def tx(patron_id: str | None, item_id: str, **extra: object) -> dict:
    """A fresh transaction body as a kiosk would send it."""
    return {"tx_id": str(uuid.uuid4()), "patron_id": patron_id, "item_id": item_id,
            "created_at": datetime.now(UTC).isoformat(), "kiosk_id": DEMO_KIOSK_ID, **extra}


def identify(api, kind: str, value: str, pin: str | None = None) -> dict:
    return api.ok("POST", "/v1/patrons/identify", {"kind": kind, "value": value, "pin": pin})


def test_health_needs_no_token(server: RunningServer) -> None:
    reply = requests.get(server.url + "/v1/health", timeout=5).json()
    assert reply["status"] == "ok"
    assert abs(datetime.fromisoformat(reply["server_time"]) - datetime.now(UTC)) < timedelta(
        seconds=5)


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"},
                                     {"Authorization": "Basic ZGVtbzpkZW1v"}])
def test_missing_or_bad_token_is_401_with_error_body(server: RunningServer, headers) -> None:
    response = requests.post(server.url + "/v1/patrons/identify", headers=headers, timeout=5,
                             json={"kind": "barcode", "value": JAN.barcode})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


def test_kiosk_cannot_act_for_another_kiosk(api) -> None:
    body = tx(JAN.patron_id, AVAILABLE_ITEMS[0], kiosk_id="someone-else")
    response = api.post("/v1/checkout", body)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"


def test_identify_by_barcode_card_uid_and_eid(api) -> None:
    by_barcode = identify(api, "barcode", JAN.barcode)
    assert by_barcode["ok"] and by_barcode["patron"]["patron_id"] == JAN.patron_id
    assert by_barcode["patron"] == {"patron_id": JAN.patron_id, "name": "Jan Peeters",
                                    "blocked": False, "block_reason": None, "loan_count": 1,
                                    "loan_limit": 10, "holds_ready": 0, "email_hint": "",
                                    "category": "adult"}
    # Readers print UIDs in any case and with separators; the library does not care.
    assert identify(api, "card_uid", "04:a1:b2:c3:d4:e5:f6")["patron"]["patron_id"] == "P0001"
    eid = AN.eid or ""
    dotted = f"{eid[:2]}.{eid[2:4]}.{eid[4:6]}-{eid[6:9]}.{eid[9:]}"
    assert identify(api, "eid", dotted)["patron"]["patron_id"] == AN.patron_id


def test_identify_unknown_and_wrong_pin(api) -> None:
    assert identify(api, "barcode", "0000000000000") == {
        "ok": False, "reason": "unknown_patron", "patron": None}
    assert identify(api, "barcode", JAN.barcode, pin="9999")["reason"] == "wrong_pin"
    assert identify(api, "barcode", JAN.barcode, pin=DEMO_PIN)["ok"] is True


def test_require_pin_setting(server: RunningServer, db_path: Path, api) -> None:
    with Database(db_path) as db, db.write() as conn:
        set_setting(conn, "require_pin", "true")
    assert identify(api, "barcode", JAN.barcode)["reason"] == "pin_required"
    assert identify(api, "barcode", JAN.barcode, pin="0000")["reason"] == "wrong_pin"
    assert identify(api, "barcode", JAN.barcode, pin=DEMO_PIN)["ok"] is True


def test_blocked_and_fined_patrons_identify_as_blocked(api) -> None:
    blocked = identify(api, "barcode", PATRONS_BY_ROLE["blocked"].barcode)["patron"]
    assert (blocked["blocked"], blocked["block_reason"]) == (True, "blocked")
    fined = identify(api, "barcode", PATRONS_BY_ROLE["high_fine"].barcode)["patron"]
    assert (fined["blocked"], fined["block_reason"]) == (True, "fines_too_high")
    small = identify(api, "barcode", PATRONS_BY_ROLE["small_fine"].barcode)["patron"]
    assert small["blocked"] is False
    expired = identify(api, "barcode", PATRONS_BY_ROLE["card_expired"].barcode)["patron"]
    assert (expired["blocked"], expired["block_reason"]) == (True, "card_expired")


def test_a_card_is_valid_through_its_expiry_day(api, db_path: Path) -> None:
    patron = PATRONS_BY_ROLE["card_expired"]
    with direct(db_path) as conn:
        conn.execute("UPDATE patrons SET card_expires = ? WHERE patron_id = ?",
                     (today().isoformat(), patron.patron_id))
    assert identify(api, "barcode", patron.barcode)["patron"]["blocked"] is False
    assert api.ok("POST", "/v1/checkout", tx(patron.patron_id, AVAILABLE_ITEMS[7]))["ok"]
    with direct(db_path) as conn:  # a typo in the library's data is not the patron's
        conn.execute("UPDATE patrons SET card_expires = 'soon' WHERE patron_id = ?",
                     (patron.patron_id,))
    assert identify(api, "barcode", patron.barcode)["patron"]["blocked"] is False


def test_validation_error_is_422_and_never_echoes_the_pin(api) -> None:
    secret = "12345678901234567890123456789012345"
    response = api.post("/v1/patrons/identify", {"kind": "barcode", "value": "x", "pin": secret})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_request"
    assert secret not in response.text
    assert api.post("/v1/patrons/identify", {"kind": "iris", "value": "x"}).status_code == 422


def test_account_lists_loans_holds_and_fines(api) -> None:
    lotte = api.account("P0008")
    assert {loan["item_id"] for loan in lotte["loans"]} == {RENEW_LIMIT_ITEM, WAITED_FOR_ITEM}
    dues = [loan["due"] for loan in lotte["loans"]]
    assert dues == sorted(dues)  # soonest due first, as the account screen lists them
    assert {x["item_id"]: x["renewals"] for x in lotte["loans"]}[RENEW_LIMIT_ITEM] == 3
    pieter = api.account("P0007")
    assert pieter["holds"] == [{"item_id": PICKUP_ITEM, "title": SEED_ITEMS[40].title,
                                "ready": True,
                                "pickup_until": (today() + timedelta(days=5)).isoformat(),
                                "pickup_place": "reserveringsrek bij de ingang"}]
    assert api.account("P0009")["holds"][0]["pickup_place"] == ""  # not on the shelf yet
    assert api.account("P0004")["fines_cents"] == 250
    assert api.account("NOPE")["reason"] == "unknown_patron"


def test_item_lookup(api) -> None:
    reference = api.ok("GET", f"/v1/items/{REFERENCE_ITEM}")["item"]
    assert reference["loanable"] is False
    assert api.ok("GET", f"/v1/items/{MULTIPART_ITEMS[0]}")["item"]["parts"] in (2, 3)
    held = api.ok("GET", f"/v1/items/{HELD_ITEMS[0]}")["item"]
    assert held["on_hold_for_other"] is True and held["on_loan"] is False
    assert api.ok("GET", f"/v1/items/{WAITED_FOR_ITEM}")["item"]["on_loan"] is True
    assert api.ok("GET", "/v1/items/123") == {"ok": False, "reason": "unknown_item",
                                              "item": None}


def test_checkout_lends_for_21_days_and_shows_on_the_account(api) -> None:
    body = tx(AN.patron_id, AVAILABLE_ITEMS[0])
    answer = api.ok("POST", "/v1/checkout", body)
    assert answer["ok"] is True and answer["reason"] == "ok"
    assert answer["tx_id"] == body["tx_id"]
    assert answer["due"] == (today() + timedelta(days=21)).isoformat()
    assert answer["title"] == next(i.title for i in SEED_ITEMS if i.item_id == AVAILABLE_ITEMS[0])
    loans = api.account(AN.patron_id)["loans"]
    assert [loan["item_id"] for loan in loans] == [AVAILABLE_ITEMS[0]]


@pytest.mark.parametrize(("role", "item", "reason"), [
    ("blocked", AVAILABLE_ITEMS[1], "blocked"),
    ("high_fine", AVAILABLE_ITEMS[1], "fines_too_high"),
    ("card_expired", AVAILABLE_ITEMS[1], "card_expired"),
    ("at_limit", AVAILABLE_ITEMS[1], "too_many_items"),
    ("card", "9999999999999", "unknown_item"),
    ("card", REFERENCE_ITEM, "not_for_loan"),
    ("card", HELD_ITEMS[0], "on_hold_for_other"),
    ("card", WAITED_FOR_ITEM, "already_on_loan"),
])
def test_checkout_refusals(api, role: str, item: str, reason: str) -> None:
    patron = PATRONS_BY_ROLE[role]
    answer = api.ok("POST", "/v1/checkout", tx(patron.patron_id, item))
    assert (answer["ok"], answer["reason"]) == (False, reason)
    assert answer["screen_message"]


def test_checkout_unknown_patron_and_small_fine_may_borrow(api) -> None:
    assert api.ok("POST", "/v1/checkout", tx("P9999", AVAILABLE_ITEMS[1]))["reason"] == \
        "unknown_patron"
    small = PATRONS_BY_ROLE["small_fine"]
    assert api.ok("POST", "/v1/checkout", tx(small.patron_id, AVAILABLE_ITEMS[1]))["ok"] is True


def test_hold_ready_for_the_patron_is_lent_and_the_hold_disappears(api) -> None:
    answer = api.ok("POST", "/v1/checkout", tx("P0007", PICKUP_ITEM))
    assert answer["ok"] is True
    assert api.account("P0007")["holds"] == []


def test_checkout_of_an_item_the_patron_already_has_renews_it(api) -> None:
    lotte_item = WAITED_FOR_ITEM  # someone waits for it: renewal refused
    assert api.ok("POST", "/v1/checkout", tx("P0008", lotte_item))["reason"] == \
        "on_hold_for_other"
    jan_item = SEED_ITEMS[10].item_id
    answer = api.ok("POST", "/v1/checkout", tx(JAN.patron_id, jan_item))
    assert answer["ok"] is True
    loans = api.account(JAN.patron_id)["loans"]
    assert loans == [{"item_id": jan_item, "title": SEED_ITEMS[10].title, "due": answer["due"],
                      "renewals": 1}]


def test_checkin_sorts_and_sends_holds_to_the_hold_shelf(api) -> None:
    adult = api.ok("POST", "/v1/checkin", tx(None, SEED_ITEMS[10].item_id))
    assert (adult["ok"], adult["reason"], adult["hold_shelf"], adult["sort_bin"]) == \
        (True, "ok", False, "A")
    youth = SEED_ITEMS[23]  # on loan to Els; every 4th item is a youth title
    assert youth.collection == "J"
    assert api.ok("POST", "/v1/checkin", tx(None, youth.item_id))["sort_bin"] == "J"
    waited = api.ok("POST", "/v1/checkin", tx(None, WAITED_FOR_ITEM))
    assert (waited["hold_shelf"], waited["sort_bin"]) == (True, "R")
    tom = api.account("P0009")["holds"]
    assert tom[0]["ready"] is True
    assert tom[0]["pickup_until"] == (today() + timedelta(days=7)).isoformat()


def test_checkin_of_an_item_not_on_loan_is_harmless(api) -> None:
    answer = api.ok("POST", "/v1/checkin", tx(None, AVAILABLE_ITEMS[2]))
    assert (answer["ok"], answer["reason"]) == (True, "not_on_loan")
    assert api.ok("POST", "/v1/checkin", tx(None, "404"))["reason"] == "unknown_item"


def test_renew(api) -> None:
    item = SEED_ITEMS[10].item_id
    answer = api.ok("POST", "/v1/renew", tx(JAN.patron_id, item))
    assert answer["ok"] is True
    assert date.fromisoformat(answer["due"]) == today() + timedelta(days=21)
    assert api.ok("POST", "/v1/renew", tx("P0008", RENEW_LIMIT_ITEM))["reason"] == "renew_limit"
    assert api.ok("POST", "/v1/renew", tx("P0008", WAITED_FOR_ITEM))["reason"] == \
        "on_hold_for_other"
    assert api.ok("POST", "/v1/renew", tx(JAN.patron_id, AVAILABLE_ITEMS[3]))["reason"] == \
        "not_on_loan"
    assert api.ok("POST", "/v1/renew", tx(AN.patron_id, item))["reason"] == "not_on_loan"


def test_renew_limit_reached_after_three_renewals(api) -> None:
    item = SEED_ITEMS[10].item_id
    reasons = [api.ok("POST", "/v1/renew", tx(JAN.patron_id, item))["reason"] for _ in range(4)]
    assert reasons == ["ok", "ok", "ok", "renew_limit"]


def test_same_tx_id_twice_gives_one_loan_and_the_same_answer(api, db_path: Path) -> None:
    body = tx(AN.patron_id, AVAILABLE_ITEMS[4])
    first = api.ok("POST", "/v1/checkout", body)
    again = api.ok("POST", "/v1/checkout", body)
    assert first == again
    # Even after the item came back, the old tx_id changes nothing.
    api.ok("POST", "/v1/checkin", tx(None, AVAILABLE_ITEMS[4]))
    assert api.ok("POST", "/v1/checkout", body) == first
    with direct(db_path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM loans WHERE item_id = ?",
                            (AVAILABLE_ITEMS[4],)).fetchone()[0] == 0
        assert conn.execute("SELECT COUNT(*) FROM events WHERE kind = 'checkout'"
                            ).fetchone()[0] == 1


def test_a_refusal_is_replayed_verbatim_too(api) -> None:
    body = tx(PATRONS_BY_ROLE["blocked"].patron_id, AVAILABLE_ITEMS[5])
    first = api.ok("POST", "/v1/checkout", body)
    assert first["reason"] == "blocked"
    assert api.ok("POST", "/v1/checkout", body) == first


def test_heartbeat_records_last_seen_and_status(api, db_path: Path) -> None:
    reply = api.ok("POST", "/v1/heartbeat", {"kiosk_id": DEMO_KIOSK_ID, "queue_length": 4,
                                            "printer": "paper low"})
    assert reply["ok"] is True
    with direct(db_path) as conn:
        seen, status = conn.execute("SELECT last_seen, last_status FROM kiosks "
                                    "WHERE kiosk_id = ?", (DEMO_KIOSK_ID,)).fetchone()
    assert datetime.fromisoformat(seen) == datetime.fromisoformat(reply["server_time"])
    assert json.loads(status)["queue_length"] == 4


def test_events_count_loans_and_returns_per_kiosk_and_day(api, db_path: Path) -> None:
    api.ok("POST", "/v1/checkout", tx(AN.patron_id, AVAILABLE_ITEMS[6]))
    api.ok("POST", "/v1/checkin", tx(None, AVAILABLE_ITEMS[6]))
    api.ok("POST", "/v1/checkin", tx(None, AVAILABLE_ITEMS[7]))  # not on loan: no event
    with direct(db_path) as conn:
        rows = conn.execute("SELECT kind, kiosk_id, day, COUNT(*) FROM events "
                            "GROUP BY kind, kiosk_id, day").fetchall()
    assert sorted(rows) == [("checkin", DEMO_KIOSK_ID, today().isoformat(), 1),
                            ("checkout", DEMO_KIOSK_ID, today().isoformat(), 1)]


def test_no_patron_identifier_or_pin_in_the_service_log(api, caplog) -> None:
    caplog.set_level("DEBUG")
    identify(api, "barcode", JAN.barcode, pin="4321")
    identify(api, "barcode", "2100000009999")
    api.ok("POST", "/v1/checkout", tx(JAN.patron_id, AVAILABLE_ITEMS[8]))
    text = caplog.text
    for secret in ("4321", JAN.barcode, "2100000009999", JAN.patron_id):
        assert secret not in text


def test_seeded_library_matches_its_documentation() -> None:
    assert len(SEED_PATRONS) >= 20 and len(SEED_ITEMS) >= 200
    assert len({p.barcode for p in SEED_PATRONS}) == len(SEED_PATRONS)
    eid = AN.eid or ""
    assert int(eid[9:]) == 97 - int(eid[:9]) % 97
    assert sum(p.card_uid is not None for p in SEED_PATRONS) >= 3
    assert any("boek" in i.title for i in SEED_ITEMS) and len(MULTIPART_ITEMS) >= 3
    assert any(i.title.startswith(("Le ", "La ", "Les ")) for i in SEED_ITEMS)
    assert any(i.title.startswith(("De ", "Het ")) for i in SEED_ITEMS)


def test_a_storage_fault_is_a_503_with_an_error_body_not_a_traceback(api, db_path) -> None:
    with direct(db_path) as conn:
        conn.execute("DROP TABLE events")  # the next loan cannot be recorded
    response = api.post("/v1/checkout", tx(AN.patron_id, AVAILABLE_ITEMS[9]))
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    assert response.json()["error"]["code"] == "unavailable"
    assert "Traceback" not in response.text and "events" not in response.text
    # The failed transaction left nothing behind: no loan, no remembered answer.
    with direct(db_path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM loans WHERE item_id = ?",
                            (AVAILABLE_ITEMS[9],)).fetchone()[0] == 0
    assert api.ok("GET", f"/v1/items/{AVAILABLE_ITEMS[9]}")["item"]["on_loan"] is False


def test_unknown_paths_and_methods_answer_in_the_error_format(server: RunningServer) -> None:
    missing = requests.get(server.url + "/v2/anything", timeout=5)
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")
    wrong = requests.delete(server.url + "/v1/health", timeout=5)
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (405, "method_not_allowed")
    garbage = requests.post(server.url + "/v1/checkout", data=b"{not json",
                            headers={"Authorization": "Bearer demo-token-not-a-secret",
                                     "Content-Type": "application/json"}, timeout=5)
    assert (garbage.status_code, garbage.json()["error"]["code"]) == (422, "invalid_request")


def test_two_kiosks_racing_for_one_item_lend_it_once(server: RunningServer, db_path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from central.db import Database
    from central.kiosks import register_kiosk

    with Database(db_path) as db:
        token = register_kiosk(db, "kiosk-2", name="Kiosk 2", branch="Noord")
    patrons = ("P0001", "P0002", "P0004", "P0007", "P0009", "P0011", "P0013", "P0014")
    racers = [("demo-token-not-a-secret" if n % 2 else token, patron)
              for n, patron in enumerate(patrons)]
    same = tx("P0010", AVAILABLE_ITEMS[10])  # and one tx_id sent by 4 threads at once

    def lend(args: tuple[str, str]) -> str:
        api_token, patron = args
        with requests.Session() as session:
            session.headers["Authorization"] = f"Bearer {api_token}"
            body = tx(patron, AVAILABLE_ITEMS[9], kiosk_id="")
            return session.post(server.url + "/v1/checkout", json=body, timeout=10
                                ).json()["reason"]

    def resend(_: int) -> dict:
        return requests.post(server.url + "/v1/checkout", json=same, timeout=10,
                             headers={"Authorization": "Bearer demo-token-not-a-secret"}).json()

    with ThreadPoolExecutor(max_workers=8) as pool:
        reasons = list(pool.map(lend, racers))
        answers = list(pool.map(resend, range(4)))
    assert sorted(reasons).count("ok") == 1
    assert set(reasons) == {"ok", "already_on_loan"}
    assert all(answer == answers[0] for answer in answers) and answers[0]["ok"]
    with direct(db_path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM events WHERE tx_id = ?",
                            (same["tx_id"],)).fetchone()[0] == 1


def test_a_late_older_heartbeat_does_not_overwrite_a_newer_status(api, db_path):
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)  # kiosk clocks order heartbeats only while they agree with ours
    newer = {"kiosk_id": "demo-kiosk-1", "time": now.isoformat(), "faults": []}
    older = {"kiosk_id": "demo-kiosk-1", "time": (now - timedelta(seconds=4)).isoformat(),
             "faults": ["printer"]}
    assert api.ok("POST", "/v1/heartbeat", newer)["ok"]
    assert api.ok("POST", "/v1/heartbeat", older)["ok"]
    with direct(db_path) as db:
        (status,) = db.execute("SELECT last_status FROM kiosks WHERE kiosk_id = 'demo-kiosk-1'"
                               ).fetchone()
    assert json.loads(status)["faults"] == []
