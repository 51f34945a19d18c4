"""Properties of the reply parsers: any JSON at all either parses into our domain types or is a
MalformedReply; no KeyError, TypeError or ValueError ever reaches the kiosk."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.backends.base import MalformedReply
from kiosk.backends.rest import (
    _Reply,
    parse_account,
    parse_item,
    parse_outcome,
    parse_patron,
    parse_replay_result,
    parse_status,
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=3),
    max_leaves=8,
)

PATRON = {"patron_id": "P1", "name": "An", "blocked": False, "block_reason": None,
          "loan_count": 1, "loan_limit": 10}
VALID: dict[str, tuple[Callable[[_Reply], object], dict[str, Any]]] = {
    "patron": (parse_patron, PATRON),
    "item": (parse_item, {"item_id": "I1", "title": "T", "author": "A", "loanable": True,
                          "on_loan": False, "on_hold_for_other": False, "parts": 2}),
    "account": (parse_account, {"patron": PATRON, "fines_cents": 250,
                                "loans": [{"item_id": "I1", "title": "T", "due": "2026-12-20",
                                           "renewals": 0}],
                                "holds": [{"item_id": "I2", "title": "U", "ready": True,
                                           "pickup_until": "2026-12-05"}]}),
    "outcome": (parse_outcome, {"ok": True, "reason": "ok", "tx_id": "t", "item_id": "I1",
                                "title": "T", "due": "2026-12-20", "screen_message": "",
                                "hold_shelf": False, "sort_bin": "A"}),
    "replay": (parse_replay_result, {"tx_id": "t", "status": "conflict", "outcome": None,
                                     "detail": "staff"}),
    "status": (parse_status, {"ok": True, "server_time": "2026-11-29T05:00:00+00:00",
                              "profile": {"version": "abc", "settings": {"offline": {}}}}),
}


@pytest.mark.parametrize("kind", VALID)
def test_valid_replies_parse(kind: str) -> None:
    parse, data = VALID[kind]
    assert parse(_Reply(data, kind)) is not None


@pytest.mark.parametrize("profile", ["everything", {"version": 3, "settings": {}},
                                     {"version": "v", "settings": ["offline"]}, []])
def test_a_profile_the_kiosk_cannot_read_is_left_out_and_the_heartbeat_stands(
        profile: object) -> None:
    base = VALID["status"][1]
    status = parse_status(_Reply({**base, "profile": profile}, "status"))
    assert status.online and status.profile is None
    good = parse_status(_Reply({**base, "profile": {"version": "v", "settings": {}}},
                               "status"))
    assert good.profile == ("v", {})


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(sorted(VALID)), data=json_values)
def test_any_json_parses_or_is_malformed(kind: str, data: object) -> None:
    parse, _ = VALID[kind]
    with contextlib.suppress(MalformedReply):
        parse(_Reply(data, kind))


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(sorted(VALID)), data=st.data(), value=json_values)
def test_one_damaged_field_parses_or_is_malformed(kind: str, data: st.DataObject,
                                                  value: object) -> None:
    parse, valid = VALID[kind]
    field = data.draw(st.sampled_from(sorted(valid)))
    damaged = {**valid, field: value}
    if data.draw(st.booleans()):
        del damaged[field]
    try:
        parse(_Reply(damaged, kind))
    except MalformedReply as error:
        assert kind in str(error)  # the message says where it went wrong
