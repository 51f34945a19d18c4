"""PC/SC result codes map onto our error tree; UID formats; reading logic without a daemon."""

from __future__ import annotations

import pytest
from smartcard import scard
from vpcd_emulator import ATR_BELGIAN_EID, ATR_CONTACTLESS, EidCard, UidCard

from domain.model import CredentialKind
from domain.privacy import log_tag
from drivers import cards
from drivers.card_errors import (
    CardDataError,
    CardError,
    CardNotSupported,
    CardProtocolError,
    CardReadError,
    CardRemovedDuringRead,
    ReaderUnavailable,
)
from drivers.cards import looks_like_belgian_eid, read_credential, translate_result
from drivers.uid import UID_FORMATS, UnknownUidFormat, format_uid

# every SCARD_E/F/W code pyscard knows: none may fall outside our tree
PYSCARD_CODES = sorted(
    {getattr(scard, n) & 0xFFFFFFFF for n in dir(scard)
     if n.startswith(("SCARD_E_", "SCARD_F_", "SCARD_W_")) and isinstance(getattr(scard, n), int)}
)


def test_our_constants_match_pyscard() -> None:
    for name in dir(cards):
        if name.startswith(("SCARD_E_", "SCARD_F_", "SCARD_W_", "SCARD_S_")):
            assert getattr(cards, name) == getattr(scard, name) & 0xFFFFFFFF, name


@pytest.mark.parametrize("code", PYSCARD_CODES)
def test_every_pcsc_failure_becomes_one_of_ours(code: int) -> None:
    error = translate_result(code, "step")
    assert isinstance(error, CardError)
    assert isinstance(error, ReaderUnavailable | CardReadError)


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (scard.SCARD_E_NO_SERVICE, ReaderUnavailable),
        (scard.SCARD_E_SERVICE_STOPPED, ReaderUnavailable),
        (scard.SCARD_E_UNKNOWN_READER, ReaderUnavailable),
        (scard.SCARD_E_NO_READERS_AVAILABLE, ReaderUnavailable),
        (scard.SCARD_W_REMOVED_CARD, CardRemovedDuringRead),
        (scard.SCARD_E_NO_SMARTCARD, CardRemovedDuringRead),
        (scard.SCARD_W_RESET_CARD, CardRemovedDuringRead),
        (scard.SCARD_W_UNRESPONSIVE_CARD, CardNotSupported),
    ],
)
def test_meaningful_translations(code: int, kind: type) -> None:
    assert type(translate_result(code, "step")) is kind


def test_no_service_message_names_the_daemon() -> None:
    assert "pcscd" in str(translate_result(0x8010001D, "establish context"))


def test_card_data_error_is_also_a_value_error() -> None:
    assert issubclass(CardDataError, ValueError)
    assert issubclass(cards.CardConfigError, ValueError)
    assert issubclass(cards.PcscNotInstalled, ImportError)


@pytest.mark.parametrize(
    ("uid", "fmt", "expected"),
    [
        ("04A1B2C3", "hex", "04A1B2C3"),
        ("04a1b2c3", "hex_reversed", "C3B2A104"),
        ("04A1B2C3", "decimal", "77705923"),
        ("04A1B2C3", "decimal_reversed", "3283263748"),
        ("04A1B2C3", "decimal10", "0077705923"),
        ("00000001", "decimal10_reversed", "0016777216"),
        ("04112233445566", "hex_reversed", "66554433221104"),
    ],
)
def test_uid_formats(uid: str, fmt: str, expected: str) -> None:
    assert format_uid(bytes.fromhex(uid), fmt) == expected


def test_unknown_uid_format_names_the_choices() -> None:
    with pytest.raises(UnknownUidFormat, match="hex_reversed"):
        format_uid(b"\x01", "HEX")
    assert len(UID_FORMATS) == 6


def test_belgian_eid_atr_is_recognised() -> None:
    assert looks_like_belgian_eid(ATR_BELGIAN_EID)
    assert looks_like_belgian_eid(bytes.fromhex("3B989440FFA503010101AD1310"))
    assert not looks_like_belgian_eid(ATR_CONTACTLESS)


def transmit_to(card):
    def transmit(apdu: bytes) -> tuple[bytes, int, int]:
        answer = card.apdu(apdu)
        return answer[:-2], answer[-2], answer[-1]

    return transmit


def test_eid_with_an_unfamiliar_atr_is_still_read() -> None:
    event = read_credential(transmit_to(EidCard()), ATR_CONTACTLESS)
    assert event.credential.kind is CredentialKind.EID
    assert event.display_name == "Anaïs"


def test_uid_card_read_without_daemon() -> None:
    event = read_credential(transmit_to(UidCard()), ATR_CONTACTLESS, uid_format="decimal")
    assert event.credential.kind is CredentialKind.CARD_UID
    assert event.credential.value == "77705923"


@pytest.mark.parametrize(
    ("answer", "error"),
    [(b"\x63\x00", CardProtocolError), (b"\x90\x00", CardDataError),
     (bytes(11) + b"\x90\x00", CardDataError)],
)
def test_bad_uid_answers(answer: bytes, error: type) -> None:
    def transmit(apdu: bytes) -> tuple[bytes, int, int]:
        return answer[:-2], answer[-2], answer[-1]

    with pytest.raises(error):
        read_credential(transmit, ATR_CONTACTLESS)


def test_mask_hides_identifier_but_is_stable() -> None:
    assert log_tag("85073003328") == log_tag("85073003328")
    assert "85073003328" not in log_tag("85073003328")
    assert log_tag("85073003328") != log_tag("85073003329")
