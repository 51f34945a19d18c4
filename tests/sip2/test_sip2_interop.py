"""Interop with a SIP2 codec we did not write (pysip2), in both directions, every message."""

from __future__ import annotations

import pysip2
import pytest
from pysip2 import decode_message, encode_message

from kiosk.backends.sip2.codec import Message, decode, encode, make

D = "20240315    101500"
D2 = "20240405    235900"

# Our requests (SC -> ACS): what pysip2's ACS side must read from our bytes.
OUR_REQUESTS: dict[str, tuple[Message, type, dict[str, object]]] = {
    "93": (make("93", {"uid_algorithm": "0", "pwd_algorithm": "0"},
                [("CN", "kiosk1"), ("CO", "pw"), ("CP", "BR1")]),
           pysip2.LoginRequest,
           {"login_user_id": "kiosk1", "login_password": "pw", "location_code": "BR1"}),
    "99": (make("99", {"status_code": "0", "max_print_width": "040",
                       "protocol_version": "2.00"}),
           pysip2.SCStatusRequest, {"status_code": "0", "max_print_width": "040"}),
    "97": (make("97"), pysip2.RequestACSResend, {}),
    "23": (make("23", {"language": "001", "transaction_date": D},
                [("AO", "MAIN"), ("AA", "P1"), ("AC", "tp"), ("AD", "1234")]),
           pysip2.PatronStatusRequest,
           {"patron_identifier": "P1", "patron_password": "1234", "terminal_password": "tp"}),
    "63": (make("63", {"language": "000", "transaction_date": D, "summary": "  Y       "},
                [("AO", "MAIN"), ("AA", "P1"), ("AD", "1234"), ("BP", "1"), ("BQ", "5")]),
           pysip2.PatronInformationRequest,
           {"summary": "  Y       ", "patron_identifier": "P1", "start_item": "1",
            "end_item": "5"}),
    "17": (make("17", {"transaction_date": D}, [("AO", "MAIN"), ("AB", "I1"), ("AC", "")]),
           pysip2.ItemInformationRequest, {"item_identifier": "I1", "terminal_password": ""}),
    "11": (make("11", {"sc_renewal_policy": "N", "no_block": "Y", "transaction_date": D,
                       "nb_due_date": D2},
                [("AO", "MAIN"), ("AA", "P1"), ("AB", "I1"), ("AC", "")]),
           pysip2.CheckoutRequest,
           {"no_block": "Y", "nb_due_date": D2, "transaction_date": D, "item_identifier": "I1"}),
    "09": (make("09", {"no_block": "N", "transaction_date": D, "return_date": D},
                [("AP", "KIOSK1"), ("AO", "MAIN"), ("AB", "I1"), ("AC", "")]),
           pysip2.CheckinRequest, {"current_location": "KIOSK1", "return_date": D}),
    "29": (make("29", {"third_party_allowed": "N", "no_block": "N", "transaction_date": D,
                       "nb_due_date": D2},
                [("AO", "MAIN"), ("AA", "P1"), ("AB", "I1"), ("AC", "")]),
           pysip2.RenewRequest, {"item_identifier": "I1", "third_party_allowed": "N"}),
    "65": (make("65", {"transaction_date": D}, [("AO", "MAIN"), ("AA", "P1"), ("AD", "9")]),
           pysip2.RenewAllRequest, {"patron_identifier": "P1", "patron_password": "9"}),
    "35": (make("35", {"transaction_date": D}, [("AO", "MAIN"), ("AA", "P1")]),
           pysip2.EndPatronSessionRequest, {"patron_identifier": "P1"}),
    "37": (make("37", {"transaction_date": D, "fee_type": "01", "payment_type": "02",
                       "currency_type": "EUR"},
                [("BV", "2.50"), ("AO", "MAIN"), ("AA", "P1"), ("BK", "tx-1")]),
           pysip2.FeePaidRequest, {"fee_amount": "2.50", "currency_type": "EUR",
                                   "transaction_id": "tx-1"}),
}

# Their responses (ACS -> SC): what our decoder must read from pysip2's bytes.
THEIR_RESPONSES: dict[str, tuple[object, dict[str, str], dict[str, str | list[str]]]] = {
    "94": (pysip2.LoginResponse(ok="1"), {"ok": "1"}, {}),
    "98": (pysip2.ACSStatusResponse(
        online_status="Y", checkin_ok="Y", checkout_ok="N", acs_renewal_policy="Y",
        status_update_ok="N", offline_ok="Y", timeout_period="050", retries_allowed="003",
        date_time_sync=D, protocol_version="2.00", institution_id="MAIN",
        library_name="Bib", supported_messages="YYYNYYYYYNYNNNYY", screen_message=("Hi",)),
        {"checkout_ok": "N", "timeout_period": "050", "date_time_sync": D},
        {"AO": "MAIN", "BX": "YYYNYYYYYNYNNNYY", "AF": ["Hi"]}),
    "96": (pysip2.RequestSCResend(), {}, {}),
    "24": (pysip2.PatronStatusResponse(
        patron_status="Y" + " " * 13, language="000", transaction_date=D,
        institution_id="MAIN", patron_identifier="P1", personal_name="Zoë",
        valid_patron="Y", valid_patron_password="N", fee_amount="1.00"),
        {"patron_status": "Y" + " " * 13}, {"AE": "Zoë", "BL": "Y", "CQ": "N", "BV": "1.00"}),
    "64": (pysip2.PatronInformationResponse(
        patron_status=" " * 14, language="000", transaction_date=D,
        hold_items_count="0001", overdue_items_count="0000", charged_items_count="0002",
        fine_items_count="0000", recall_items_count="    ", unavailable_holds_count="0000",
        institution_id="MAIN", patron_identifier="P1", personal_name="Ann",
        charged_items_limit="0010", valid_patron="Y", hold_items=("H1",),
        charged_items=("I1", "I2")),
        {"charged_items_count": "0002", "recall_items_count": "    "},
        {"AU": ["I1", "I2"], "AS": ["H1"], "CB": "0010"}),
    "18": (pysip2.ItemInformationResponse(
        circulation_status="08", security_marker="02", fee_type="01", transaction_date=D,
        due_date=D2, hold_pickup_date=D2, item_identifier="I1", title_identifier="Kaas"),
        {"circulation_status": "08"}, {"AH": D2, "CM": D2, "AJ": "Kaas"}),
    "12": (pysip2.CheckoutResponse(
        ok="1", renewal_ok="N", magnetic_media="N", desensitize="Y", transaction_date=D,
        institution_id="MAIN", patron_identifier="P1", item_identifier="I1",
        title_identifier="Kaas", due_date=D2, screen_message=("ok", "enjoy")),
        {"ok": "1", "desensitize": "Y"}, {"AH": D2, "AF": ["ok", "enjoy"]}),
    "10": (pysip2.CheckinResponse(
        ok="1", resensitize="Y", magnetic_media="U", alert="Y", transaction_date=D,
        institution_id="MAIN", item_identifier="I1", permanent_location="Main",
        sort_bin="B2"),
        {"alert": "Y", "magnetic_media": "U"}, {"CL": "B2", "AQ": "Main"}),
    "30": (pysip2.RenewResponse(
        ok="0", renewal_ok="N", magnetic_media="N", desensitize="N", transaction_date=D,
        institution_id="MAIN", patron_identifier="P1", item_identifier="I1",
        title_identifier="", due_date="", screen_message=("Renewal limit reached",)),
        {"ok": "0"}, {"AF": ["Renewal limit reached"], "AH": ""}),
    "66": (pysip2.RenewAllResponse(
        ok="1", renewed_count="0002", unrenewed_count="0001", transaction_date=D,
        institution_id="MAIN", renewed_items=("I1", "I2"), unrenewed_items=("I3",)),
        {"renewed_count": "0002"}, {"BM": ["I1", "I2"], "BN": ["I3"]}),
    "36": (pysip2.EndSessionResponse(
        end_session="Y", transaction_date=D, institution_id="MAIN", patron_identifier="P1"),
        {"end_session": "Y"}, {"AA": "P1"}),
    "38": (pysip2.FeePaidResponse(
        payment_accepted="Y", transaction_date=D, institution_id="MAIN",
        patron_identifier="P1", transaction_id="tx-1"),
        {"payment_accepted": "Y"}, {"BK": "tx-1"}),
}


@pytest.mark.parametrize("code", sorted(OUR_REQUESTS))
@pytest.mark.parametrize("error_detection", [False, True])
def test_our_requests_parse_in_pysip2(code: str, error_detection: bool) -> None:
    ours, their_type, expected = OUR_REQUESTS[code]
    wire = encode(ours, error_detection=error_detection, sequence=7)
    decoded = decode_message(wire)
    assert type(decoded.message) is their_type
    for name, value in expected.items():
        assert getattr(decoded.message, name) == value, name
    assert decoded.checksum is not None if error_detection else decoded.checksum is None
    if error_detection and code != "97":
        assert decoded.sequence_number == 7


@pytest.mark.parametrize("code", sorted(THEIR_RESPONSES))
@pytest.mark.parametrize("error_detection", [False, True])
def test_pysip2_responses_parse_in_ours(code: str, error_detection: bool) -> None:
    theirs, fixed, fields = THEIR_RESPONSES[code]
    wire = encode_message(theirs, sequence_number=3 if error_detection else None,  # type: ignore[arg-type]
                          checksum=error_detection)
    ours = decode(wire)
    assert ours.code == code
    for name, value in fixed.items():
        assert ours.flag(name) == value, name
    for fid, value in fields.items():
        if isinstance(value, list):
            assert ours.all(fid) == value, fid
        else:
            assert ours.get(fid) == value, fid
    if error_detection and code != "96":
        assert ours.sequence == 3


def test_every_message_of_the_issue_is_covered_both_ways() -> None:
    assert set(OUR_REQUESTS) == {"93", "99", "97", "23", "63", "17", "11", "09", "29", "65",
                                 "35", "37"}
    assert set(THEIR_RESPONSES) == {"94", "98", "96", "24", "64", "18", "12", "10", "30",
                                    "66", "36", "38"}


@pytest.mark.parametrize("code", sorted(THEIR_RESPONSES))
def test_our_responses_parse_in_pysip2_too(code: str) -> None:
    """Our encoder is direction-agnostic: re-encoding their response gives bytes they accept."""
    theirs, _, _ = THEIR_RESPONSES[code]
    wire = encode_message(theirs, sequence_number=1, checksum=True)  # type: ignore[arg-type]
    ours = decode(wire)
    again = encode(ours, error_detection=True, sequence=1)
    assert decode_message(again).message == theirs
