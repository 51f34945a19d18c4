"""SimCardReader publishes what the real reader would, through the same formatting."""

from __future__ import annotations

import queue

import pytest

from domain.events import CardPresented, CardRemoved, CardUnreadable, DeviceState
from domain.model import Credential, CredentialKind
from drivers.card_errors import CardConfigError
from drivers.cards import ASK_AGAIN
from drivers.cards_sim import SimCardReader
from drivers.errors import DeviceClosed


def drain(q: queue.Queue) -> list:
    out = []
    while not q.empty():
        out.append(q.get_nowait())
    return out


def test_uid_eid_remove_sequence() -> None:
    q: queue.Queue = queue.Queue()
    with SimCardReader(q, uid_format="hex_reversed") as sim:
        sim.present_uid("04a1b2c3")
        sim.present_eid("85073003328", "Anaïs")  # replaces the UID card
        sim.remove()
        assert not sim.remove()  # nothing left to remove
    assert drain(q) == [
        DeviceState("card_reader", ok=True, detail="simulated reader"),
        CardPresented(Credential(CredentialKind.CARD_UID, "C3B2A104"), source="card_reader"),
        CardRemoved(source="card_reader"),
        CardPresented(Credential(CredentialKind.EID, "85073003328"), display_name="Anaïs",
                      source="card_reader"),
        CardRemoved(source="card_reader"),
    ]


def test_invalid_eid_and_garbage_uid_are_unreadable() -> None:
    q: queue.Queue = queue.Queue()
    sim = SimCardReader(q)
    sim.present_eid("85073003329", "X")
    sim.present_uid("not hex")
    assert drain(q) == [CardUnreadable(ASK_AGAIN, source="card_reader"), CardRemoved("card_reader"),
                        CardUnreadable(ASK_AGAIN, source="card_reader")]


def test_card_number_identifier() -> None:
    q: queue.Queue = queue.Queue()
    SimCardReader(q, eid_identifier="card_number").present_eid("85073003328", "A", "592000000097")
    assert drain(q)[0].credential.value == "592000000097"


def test_unplugged_reader_sees_nothing_until_plugged() -> None:
    q: queue.Queue = queue.Queue()
    sim = SimCardReader(q)
    sim.present_uid("01020304")
    sim.unplug()
    assert sim.present_uid("01020304") is False
    sim.plug()
    assert [type(e) for e in drain(q)] == [CardPresented, CardRemoved, DeviceState, DeviceState]
    assert sim.present_uid("01020304") is True


def test_closed_and_misconfigured() -> None:
    q: queue.Queue = queue.Queue()
    sim = SimCardReader(q)
    sim.close()
    assert sim.present_uid("01") is False
    with pytest.raises(DeviceClosed):
        sim.start()
    with pytest.raises(CardConfigError):
        SimCardReader(q, uid_format="bcd")
