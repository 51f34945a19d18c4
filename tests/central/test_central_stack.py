"""/v1/circulation/stack over real HTTP: a patron's pile in one request, one answer per item."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from domain.demo_library import AVAILABLE_ITEMS, DEMO_KIOSK_ID, HELD_ITEMS, PATRONS_BY_ROLE

JAN = PATRONS_BY_ROLE["card"]


def entry(kind: str, item_id: str, patron_id: str | None = JAN.patron_id) -> dict:
    return {"tx_id": str(uuid.uuid4()), "kind": kind, "item_id": item_id,
            "patron_id": patron_id, "created_at": datetime.now(UTC).isoformat(),
            "kiosk_id": DEMO_KIOSK_ID}


def test_a_pile_is_answered_per_item_in_order_with_a_refusal_in_its_place(api) -> None:
    items = [AVAILABLE_ITEMS[60], HELD_ITEMS[0], AVAILABLE_ITEMS[61]]
    body = {"transactions": [entry("checkout", i) for i in items]}
    outcomes = api.ok("POST", "/v1/circulation/stack", body)["outcomes"]
    assert [(o["item_id"], o["ok"]) for o in outcomes] == [
        (items[0], True), (items[1], False), (items[2], True)]
    assert outcomes[1]["reason"] == "on_hold_for_other"
    assert [o["tx_id"] for o in outcomes] == [e["tx_id"] for e in body["transactions"]]
    loans = {loan["item_id"] for loan in api.account(JAN.patron_id)["loans"]}
    assert {items[0], items[2]} <= loans and items[1] not in loans


def test_the_same_stack_sent_again_has_one_effect_and_the_same_answers(api) -> None:
    body = {"transactions": [entry("checkout", i) for i in AVAILABLE_ITEMS[62:65]]}
    first = api.ok("POST", "/v1/circulation/stack", body)["outcomes"]
    again = api.ok("POST", "/v1/circulation/stack", body)["outcomes"]
    assert first == again and all(o["ok"] for o in first)
    returns = {"transactions": [entry("checkin", i, None) for i in AVAILABLE_ITEMS[62:65]]}
    assert all(o["ok"] for o in api.ok("POST", "/v1/circulation/stack", returns)["outcomes"])
    # the loans' ids, replayed after the returns, do not lend the books again
    assert api.ok("POST", "/v1/circulation/stack", body)["outcomes"] == first
    loans = {loan["item_id"] for loan in api.account(JAN.patron_id)["loans"]}
    assert not set(AVAILABLE_ITEMS[62:65]) & loans


def test_a_stack_that_is_not_the_protocol_is_refused_whole_and_applies_nothing(api) -> None:
    loan_without_patron = entry("checkout", AVAILABLE_ITEMS[66], None)
    body = {"transactions": [entry("checkout", AVAILABLE_ITEMS[67]), loan_without_patron]}
    response = api.post("/v1/circulation/stack", body)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_request"
    too_many = {"transactions": [entry("checkin", f"X{n}", None) for n in range(51)]}
    assert api.post("/v1/circulation/stack", too_many).status_code == 422
    loans = {loan["item_id"] for loan in api.account(JAN.patron_id)["loans"]}
    assert AVAILABLE_ITEMS[67] not in loans


def test_a_kiosk_cannot_put_another_kiosk_s_items_in_its_stack(api) -> None:
    foreign = {**entry("checkout", AVAILABLE_ITEMS[68]), "kiosk_id": "someone-else"}
    response = api.post("/v1/circulation/stack", {"transactions": [foreign]})
    assert response.status_code == 403
