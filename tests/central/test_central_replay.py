"""Journal replay through POST /v1/transactions/batch: offline rules, idempotency and void."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from engines import direct

from central.service import library_day
from domain.demo_library import (
    AVAILABLE_ITEMS,
    DEMO_KIOSK_ID,
    PATRONS_BY_ROLE,
    SEED_ITEMS,
)

JAN = PATRONS_BY_ROLE["card"]  # has SEED_ITEMS[10] on loan since 5..11 days ago
AN = PATRONS_BY_ROLE["eid"]
JANS_ITEM = SEED_ITEMS[10].item_id
NOW = datetime.now(UTC)


def entry(kind: str, patron_id: str | None, item_id: str | None, *, offline: bool = True,
          created_at: datetime | None = None, ref: str | None = None) -> dict:
    return {"tx_id": str(uuid.uuid4()), "kind": kind, "patron_id": patron_id,
            "item_id": item_id, "created_at": (created_at or NOW).isoformat(),
            "offline": offline, "ref_tx_id": ref, "kiosk_id": DEMO_KIOSK_ID}


def replay(api, *entries: dict) -> list[dict]:
    results = api.ok("POST", "/v1/transactions/batch", {"transactions": list(entries)})["results"]
    assert [r["tx_id"] for r in results] == [e.get("tx_id", "") for e in entries]
    return results


def loan_of(db_path: Path, item_id: str) -> tuple | None:
    with direct(db_path) as conn:
        return conn.execute("SELECT patron_id, due, renewals, loaned_at FROM loans "
                            "WHERE item_id = ?", (item_id,)).fetchone()


def conflicts(db_path: Path) -> list[tuple]:
    with direct(db_path) as conn:
        return conn.execute("SELECT tx_id, reason, kiosk_id, resolved_at FROM conflicts"
                            ).fetchall()


def test_offline_loan_is_dated_from_when_the_patron_borrowed(api, db_path: Path) -> None:
    three_days_ago = NOW - timedelta(days=3)
    [result] = replay(api, entry("checkout", AN.patron_id, AVAILABLE_ITEMS[0],
                                 created_at=three_days_ago))
    assert result["status"] == "done"
    expected_due = (library_day(three_days_ago) + timedelta(days=21)).isoformat()
    assert result["outcome"]["due"] == expected_due
    assert loan_of(db_path, AVAILABLE_ITEMS[0])[:2] == (AN.patron_id, expected_due)


def test_a_client_that_leaves_out_the_kiosk_id_keeps_the_due_date_it_promised(
        api, db_path: Path) -> None:
    """The token says which kiosk it is; the rest of the entry (the date on the patron's
    slip) stays as sent."""
    promised = library_day(NOW) + timedelta(days=14)  # a holiday week: shorter than 21 days
    loan = entry("checkout", AN.patron_id, AVAILABLE_ITEMS[1]) | {"due": promised.isoformat()}
    del loan["kiosk_id"]
    [result] = replay(api, loan)
    assert result["status"] == "done"
    assert result["outcome"]["due"] == promised.isoformat()
    assert loan_of(db_path, AVAILABLE_ITEMS[1])[:2] == (AN.patron_id, promised.isoformat())


def test_offline_loan_of_an_item_the_patron_already_has_is_a_renewal(api, db_path) -> None:
    [result] = replay(api, entry("checkout", JAN.patron_id, JANS_ITEM))
    assert result["status"] == "done"
    assert "renewed" in result["detail"]
    patron, due, renewals, _ = loan_of(db_path, JANS_ITEM)
    assert (patron, due, renewals) == (JAN.patron_id, (library_day(NOW) + timedelta(days=21))
                                       .isoformat(), 1)


def test_item_on_loan_to_another_since_before_is_returned_then_lent(api, db_path) -> None:
    [result] = replay(api, entry("checkout", AN.patron_id, JANS_ITEM,
                                 created_at=NOW - timedelta(hours=1)))
    assert result["status"] == "done"
    assert "returned first" in result["detail"]
    assert loan_of(db_path, JANS_ITEM)[0] == AN.patron_id
    assert conflicts(db_path) == []


def test_item_lent_to_another_after_the_offline_loan_is_a_conflict(api, db_path) -> None:
    before_jan_borrowed = NOW - timedelta(days=40)
    offline = entry("checkout", AN.patron_id, JANS_ITEM, created_at=before_jan_borrowed)
    [result] = replay(api, offline)
    assert result["status"] == "conflict"
    assert result["outcome"]["reason"] == "already_on_loan"
    assert loan_of(db_path, JANS_ITEM)[0] == JAN.patron_id  # nothing changed
    [(tx_id, reason, kiosk, resolved)] = conflicts(db_path)
    assert (tx_id, kiosk, resolved) == (offline["tx_id"], DEMO_KIOSK_ID, None)
    assert "after this offline loan" in reason


def test_unknown_patron_or_item_offline_is_a_conflict_for_staff(api, db_path) -> None:
    results = replay(api, entry("checkout", "P4040", AVAILABLE_ITEMS[1]),
                     entry("checkout", AN.patron_id, "0000000000000"))
    assert [r["status"] for r in results] == ["conflict", "conflict"]
    assert [r["outcome"]["reason"] for r in results] == ["unknown_patron", "unknown_item"]
    assert len(conflicts(db_path)) == 2


def test_blocks_and_limits_do_not_undo_an_offline_loan_but_are_noted(api, db_path) -> None:
    blocked = PATRONS_BY_ROLE["blocked"]
    at_limit = PATRONS_BY_ROLE["at_limit"]
    results = replay(api, entry("checkout", blocked.patron_id, AVAILABLE_ITEMS[2]),
                     entry("checkout", at_limit.patron_id, AVAILABLE_ITEMS[3]))
    assert [r["status"] for r in results] == ["done", "done"]
    assert "blocked" in results[0]["detail"]
    assert "loan limit" in results[1]["detail"]
    assert loan_of(db_path, AVAILABLE_ITEMS[2])[0] == blocked.patron_id


def test_an_offline_loan_is_judged_by_the_day_the_patron_made_it(api, db_path) -> None:
    """The card ran out 10 days ago: a loan made offline before that is clean, one after is
    kept (the patron has the book) but noted for staff."""
    expired = PATRONS_BY_ROLE["card_expired"]
    before, after = replay(
        api,
        entry("checkout", expired.patron_id, AVAILABLE_ITEMS[8],
              created_at=NOW - timedelta(days=12)),
        entry("checkout", expired.patron_id, AVAILABLE_ITEMS[9]))
    assert [before["status"], after["status"]] == ["done", "done"]
    assert "card_expired" not in before["detail"]
    assert "card_expired" in after["detail"]
    assert loan_of(db_path, AVAILABLE_ITEMS[9])[0] == expired.patron_id


def test_offline_returns(api, db_path) -> None:
    results = replay(
        api,
        entry("checkin", None, AVAILABLE_ITEMS[4]),  # not on loan: harmless
        entry("checkin", None, JANS_ITEM, created_at=NOW - timedelta(days=60)),  # predates loan
        entry("checkin", None, "0000000000000"),
    )
    assert [r["status"] for r in results] == ["done", "done", "conflict"]
    assert results[0]["outcome"]["reason"] == "not_on_loan"
    assert "current loan kept" in results[1]["detail"]
    assert loan_of(db_path, JANS_ITEM)[0] == JAN.patron_id
    [result] = replay(api, entry("checkin", None, JANS_ITEM))
    assert result["status"] == "done" and loan_of(db_path, JANS_ITEM) is None


def test_offline_renewal_of_an_item_not_on_loan_is_a_conflict(api) -> None:
    [result] = replay(api, entry("renew", JAN.patron_id, AVAILABLE_ITEMS[5]))
    assert (result["status"], result["outcome"]["reason"]) == ("conflict", "not_on_loan")


def test_online_entries_follow_online_rules(api) -> None:
    blocked = PATRONS_BY_ROLE["blocked"]
    [result] = replay(api, entry("checkout", blocked.patron_id, AVAILABLE_ITEMS[6],
                                 offline=False))
    assert result["status"] == "rejected"
    assert result["outcome"]["reason"] == "blocked"


def test_same_batch_twice_applies_once_and_answers_the_same(api, db_path) -> None:
    entries = [entry("checkout", AN.patron_id, AVAILABLE_ITEMS[7]),
               entry("checkin", None, AVAILABLE_ITEMS[7]),
               entry("checkout", AN.patron_id, AVAILABLE_ITEMS[7])]
    first = replay(api, *entries)
    assert replay(api, *entries) == first
    with direct(db_path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 3
    assert loan_of(db_path, AVAILABLE_ITEMS[7])[0] == AN.patron_id


def test_online_answer_is_returned_when_the_journal_replays_it(api) -> None:
    """The kiosk timed out on a checkout the server did apply; its journal replays it."""
    body = entry("checkout", AN.patron_id, AVAILABLE_ITEMS[8], offline=False)
    online = api.ok("POST", "/v1/checkout", {k: body[k] for k in
                                             ("tx_id", "patron_id", "item_id", "created_at")})
    [result] = replay(api, body)
    assert (result["status"], result["outcome"]) == ("done", online)


def test_invalid_entry_is_rejected_alone(api, db_path) -> None:
    good = entry("checkout", AN.patron_id, AVAILABLE_ITEMS[9])
    results = api.ok("POST", "/v1/transactions/batch", {"transactions": [
        {"tx_id": "broken-1", "kind": "lend"}, good,
        {**entry("checkout", None, AVAILABLE_ITEMS[10]), "tx_id": "no-patron"},
        {**entry("checkout", AN.patron_id, AVAILABLE_ITEMS[11]), "kiosk_id": "kiosk-9",
         "tx_id": "other-kiosk"},
    ]})["results"]
    assert [(r["tx_id"], r["status"]) for r in results] == [
        ("broken-1", "rejected"), (good["tx_id"], "done"), ("no-patron", "rejected"),
        ("other-kiosk", "rejected")]
    assert "kind" in results[0]["detail"] and "patron_id" in results[2]["detail"]
    assert loan_of(db_path, AVAILABLE_ITEMS[9]) is not None
    assert loan_of(db_path, AVAILABLE_ITEMS[11]) is None


def test_more_than_500_is_a_validation_error(api) -> None:
    entries = [entry("checkin", None, AVAILABLE_ITEMS[0]) for _ in range(501)]
    response = api.post("/v1/transactions/batch", {"transactions": entries})
    assert response.status_code == 422


# ---------------------------------------------------------------- void


def test_void_undoes_a_checkout_exactly(api, db_path) -> None:
    lend = entry("checkout", AN.patron_id, AVAILABLE_ITEMS[12], offline=False)
    void = entry("void", None, None, ref=lend["tx_id"])
    results = replay(api, lend, void)
    assert [r["status"] for r in results] == ["done", "done"]
    assert loan_of(db_path, AVAILABLE_ITEMS[12]) is None
    with direct(db_path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 0
    account = api.account(AN.patron_id)
    assert account["loans"] == []
    # Sent again, the checkout gets its first answer verbatim and is NOT applied again.
    assert replay(api, lend, void) == results
    assert loan_of(db_path, AVAILABLE_ITEMS[12]) is None


def test_void_undoes_a_return_and_a_renewal(api, db_path) -> None:
    original = loan_of(db_path, JANS_ITEM)
    renew = entry("renew", JAN.patron_id, JANS_ITEM, offline=False)
    assert replay(api, renew)[0]["status"] == "done"
    assert loan_of(db_path, JANS_ITEM) != original
    assert replay(api, entry("void", None, None, ref=renew["tx_id"]))[0]["status"] == "done"
    assert loan_of(db_path, JANS_ITEM) == original
    back = entry("checkin", None, JANS_ITEM, offline=False)
    replay(api, back)
    assert loan_of(db_path, JANS_ITEM) is None
    assert replay(api, entry("void", None, None, ref=back["tx_id"]))[0]["status"] == "done"
    assert loan_of(db_path, JANS_ITEM) == original


def test_void_restores_the_hold_a_return_made_ready(api) -> None:
    waited = SEED_ITEMS[16].item_id
    back = entry("checkin", None, waited, offline=False)
    assert replay(api, back)[0]["outcome"]["hold_shelf"] is True
    replay(api, entry("void", None, None, ref=back["tx_id"]))
    assert api.account("P0009")["holds"][0]["ready"] is False


def test_void_before_the_transaction_arrives_means_it_is_never_applied(api, db_path) -> None:
    lend = entry("checkout", AN.patron_id, AVAILABLE_ITEMS[13], offline=True)
    [voided] = replay(api, entry("void", None, None, ref=lend["tx_id"]))
    assert voided["status"] == "done"
    [late] = replay(api, lend)
    assert late["status"] == "rejected" and "void" in late["detail"]
    single = api.ok("POST", "/v1/checkout", {k: lend[k] for k in
                                             ("tx_id", "patron_id", "item_id", "created_at")})
    assert (single["ok"], single["reason"]) == (False, "refused")
    assert loan_of(db_path, AVAILABLE_ITEMS[13]) is None


def test_void_after_the_item_moved_on_is_a_conflict(api, db_path) -> None:
    lend = entry("checkout", AN.patron_id, AVAILABLE_ITEMS[14], offline=False)
    back = entry("checkin", None, AVAILABLE_ITEMS[14], offline=False)
    void = entry("void", None, None, ref=lend["tx_id"])
    results = replay(api, lend, back, void)
    assert [r["status"] for r in results] == ["done", "done", "conflict"]
    assert "changed the item" in results[2]["detail"]
    assert [c[0] for c in conflicts(db_path)] == [void["tx_id"]]


def test_void_twice_and_void_of_a_refusal_are_harmless(api, db_path) -> None:
    lend = entry("checkout", AN.patron_id, AVAILABLE_ITEMS[15], offline=False)
    refused = entry("checkout", AN.patron_id, "0000000000000", offline=False)
    results = replay(api, lend, refused, entry("void", None, None, ref=lend["tx_id"]),
                     entry("void", None, None, ref=lend["tx_id"]),
                     entry("void", None, None, ref=refused["tx_id"]))
    assert [r["status"] for r in results] == ["done", "rejected", "done", "done", "done"]
    assert "already voided" in results[3]["detail"]
    assert loan_of(db_path, AVAILABLE_ITEMS[15]) is None


def test_void_of_a_conflict_resolves_it(api, db_path) -> None:
    bad = entry("checkout", "P4040", AVAILABLE_ITEMS[16])
    replay(api, bad, entry("void", None, None, ref=bad["tx_id"]))
    [(tx_id, _, _, resolved_at)] = conflicts(db_path)
    assert tx_id == bad["tx_id"] and resolved_at is not None


def test_return_then_lend_does_not_call_the_waiting_reader(api, db_path) -> None:
    """Lotte's item (Tom waits for it) was lent offline to An: it never reached the shelf."""
    waited = SEED_ITEMS[16].item_id
    [result] = replay(api, entry("checkout", AN.patron_id, waited,
                                 created_at=NOW - timedelta(hours=2)))
    assert result["status"] == "done"
    assert "on hold for another patron" in result["detail"]
    assert api.account("P0009")["holds"][0]["ready"] is False


def test_offline_loans_count_on_the_day_they_happened(api, db_path) -> None:
    yesterday = NOW - timedelta(days=1)
    replay(api, entry("checkout", AN.patron_id, AVAILABLE_ITEMS[17], created_at=yesterday))
    with direct(db_path) as conn:
        days = conn.execute("SELECT day FROM events WHERE kind = 'checkout'").fetchall()
    assert days == [(library_day(yesterday).isoformat(),)]
