"""RfidPad with the real FEIG driver talking to the simulated reader over a pty."""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator

import pytest

from domain.events import DeviceState, ItemsOnPad
from drivers.iso28560 import Usage
from drivers.rfid import LEGACY_SECURITY, RfidPad, SecurityPolicy
from drivers.rfid_errors import ReaderUnavailable
from drivers.rfid_sim import SimRfidReader, SimTag

OURS = "NL-AmRBL"


@pytest.fixture
def sim() -> Iterator[SimRfidReader]:
    with SimRfidReader(max_tags_per_reply=4) as device:
        yield device


@pytest.fixture
def events() -> queue.Queue:
    return queue.Queue()


@pytest.fixture
def pad(sim: SimRfidReader, events: queue.Queue) -> Iterator[RfidPad]:
    with RfidPad(sim.open_reader(timeout=0.3), sink=events, library_isils=[OURS],
                 poll_interval=0.02) as rfid_pad:
        yield rfid_pad


def drain(events: queue.Queue) -> list:
    out = []
    while True:
        try:
            out.append(events.get_nowait())
        except queue.Empty:
            return out


def stack_of_ten() -> list[SimTag]:
    tags = [SimTag.library_item(f"3900001{i:03d}", OURS, reversed_blocks=i % 3 == 0)
            for i in range(8)]
    tags.append(SimTag.library_item("3900001999", OURS, model="28560-2"))
    tags.append(SimTag.library_item("3900002000", OURS, manufacturer=0x07))  # TI: no EAS
    return tags


def test_ten_tag_stack_is_inventoried_decoded_and_secured(
    sim: SimRfidReader, pad: RfidPad, events: queue.Queue
) -> None:
    tags = stack_of_ten()
    sim.place(*tags)
    seen = pad.poll_once()
    assert sorted(t.item_id for t in seen) == sorted(
        ["3900001000", "3900001001", "3900001002", "3900001003", "3900001004", "3900001005",
         "3900001006", "3900001007", "3900001999", "3900002000"])
    assert all(t.owner_isil == OURS and t.usage == "loanable" and t.secured for t in seen)
    published = drain(events)
    assert published == [ItemsOnPad(tags=seen, source="rfid")]

    # borrow: unsecure every item (the journal already holds the loans)
    assert all(pad.set_secured(t.uid, False) for t in seen)
    for tag in tags:
        assert sim.tag(tag.uid).afi == 0xC2
        assert sim.tag(tag.uid).eas is (not tag.has_eas)  # EAS off where the tag has one
    after = pad.poll_once()
    assert not any(t.secured for t in after)
    assert drain(events) == [ItemsOnPad(tags=after, source="rfid")]

    # return: secure them again
    assert all(pad.set_secured(t.uid, True) for t in after)
    assert all(sim.tag(t.uid).afi == 0x07 for t in after)


def test_unchanged_pad_publishes_nothing_new(sim: SimRfidReader, pad: RfidPad,
                                             events: queue.Queue) -> None:
    sim.place(SimTag.library_item("1001", OURS))
    pad.poll_once()
    pad.poll_once()
    pad.poll_once()
    assert len(drain(events)) == 1


def test_removed_tag_disappears_from_the_set(sim: SimRfidReader, pad: RfidPad,
                                             events: queue.Queue) -> None:
    first, second = SimTag.library_item("1001", OURS), SimTag.library_item("1002", OURS)
    sim.place(first, second)
    pad.poll_once()
    sim.remove(first.uid)
    assert [t.item_id for t in pad.poll_once()] == ["1002"]
    sim.clear()
    assert pad.poll_once() == ()
    assert [len(e.tags) for e in drain(events)] == [2, 1, 0]


def test_flip_survives_two_failed_writes(sim: SimRfidReader, pad: RfidPad) -> None:
    tag = SimTag.library_item("1001", OURS)
    sim.place(tag)
    pad.poll_once()
    sim.fail_next_writes(2)
    assert pad.set_secured(tag.uid, False) is True
    assert (sim.tag(tag.uid).afi, sim.tag(tag.uid).eas) == (0xC2, False)


def test_flip_that_never_sticks_returns_false_and_keeps_state(
    sim: SimRfidReader, pad: RfidPad, caplog: pytest.LogCaptureFixture
) -> None:
    tag = SimTag.library_item("1001", OURS)
    sim.place(tag)
    pad.poll_once()
    sim.fail_next_writes(100)
    assert pad.set_secured(tag.uid, False) is False
    assert sim.tag(tag.uid).afi == 0x07  # still secured: the patron goes to the desk
    assert "could not be unsecured" in caplog.text
    assert tag.uid not in caplog.text  # identifiers masked


def test_write_that_lies_is_caught_by_read_back(sim: SimRfidReader, pad: RfidPad) -> None:
    tag = SimTag.library_item("1001", OURS)
    sim.place(tag)
    sim.fail_next_writes(100, silent=True)  # reader says OK, tag keeps its AFI
    assert pad.set_secured(tag.uid, False) is False


def test_flip_of_a_tag_that_left_returns_false(sim: SimRfidReader, pad: RfidPad) -> None:
    tag = SimTag.library_item("1001", OURS)
    assert pad.set_secured(tag.uid, False) is False


def test_foreign_tag_is_reported_with_its_owner(sim: SimRfidReader, pad: RfidPad) -> None:
    sim.place(SimTag.library_item("777", "BE-GNT01"), SimTag.library_item("1001", OURS))
    seen = {t.item_id: t for t in pad.poll_once()}
    assert seen["777"].owner_isil == "BE-GNT01"
    assert pad.is_foreign(seen["777"]) and not pad.is_foreign(seen["1001"])


def test_unreadable_and_odd_tags_are_reported_not_dropped(sim: SimRfidReader,
                                                          pad: RfidPad) -> None:
    sim.place(
        SimTag.blank(),
        SimTag.library_item("2001", OURS, usage=Usage.REFERENCE),
        SimTag.library_item("2002", OURS, usage=Usage.PATRON_CARD),
        SimTag.library_item("2003", OURS, usage=Usage.ACQUISITION),
        SimTag.library_item("2004", OURS, part=2, parts=3),
    )
    seen = {t.item_id: t for t in pad.poll_once()}
    assert seen[""].usage == "unknown"
    assert pad.is_foreign(seen[""])
    assert seen["2001"].usage == "reference"
    assert seen["2002"].usage == "patron_card"
    assert seen["2003"].usage == "unknown"
    assert (seen["2004"].part, seen["2004"].parts) == (2, 3)


def test_reader_going_away_and_coming_back(sim: SimRfidReader, pad: RfidPad,
                                           events: queue.Queue) -> None:
    sim.place(SimTag.library_item("1001", OURS))
    pad.poll_once()
    sim.set_silent(True)
    with pytest.raises(ReaderUnavailable):
        pad.poll_once()
    with pytest.raises(ReaderUnavailable):
        pad.poll_once()
    sim.set_silent(False)
    pad.poll_once()
    kinds = [type(e).__name__ for e in drain(events)]
    assert kinds == ["ItemsOnPad", "DeviceState", "DeviceState", "ItemsOnPad"]


def test_legacy_afi_values(sim: SimRfidReader, events: queue.Queue) -> None:
    tag = SimTag.library_item("1001", OURS, afi_secured=0xDA, afi_unsecured=0xD7)
    sim.place(tag)
    with RfidPad(sim.open_reader(timeout=0.3), sink=events, library_isils=[OURS],
                 security=LEGACY_SECURITY) as legacy:
        assert legacy.poll_once()[0].secured is True
        assert legacy.set_secured(tag.uid, False)
        assert sim.tag(tag.uid).afi == 0xD7


def test_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        SecurityPolicy(afi_secured=0x07, afi_unsecured=0x07)
    with pytest.raises(ValueError):
        SecurityPolicy(afi_secured=0x107)
    with pytest.raises(ValueError):
        SecurityPolicy(attempts=0)


def test_background_polling_publishes_arrivals(sim: SimRfidReader, pad: RfidPad,
                                               events: queue.Queue) -> None:
    pad.start()
    sim.place(SimTag.library_item("5005", OURS))
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        event = events.get(timeout=3)
        if isinstance(event, ItemsOnPad) and event.tags:
            assert event.tags[0].item_id == "5005"
            break
    else:  # pragma: no cover
        pytest.fail("no ItemsOnPad with the tag")
    sim.set_silent(True)
    event = events.get(timeout=3)
    while isinstance(event, ItemsOnPad):
        event = events.get(timeout=3)
    assert event == DeviceState(device="rfid", ok=False, detail=event.detail)
    pad.stop()


def test_demo_panel_places_items_by_id(sim: SimRfidReader, pad: RfidPad) -> None:
    sim.place_items(["1001", "1002"])
    first = {t.item_id: t for t in pad.poll_once()}
    assert set(first) == {"1001", "1002"}
    assert pad.set_secured(first["1001"].uid, False)
    sim.place_items(["1001", "this-id-is-longer-than-16"])  # 1002 lifted, a long id added
    second = {t.item_id: t for t in pad.poll_once()}
    assert set(second) == {"1001", "this-id-is-longer-than-16"}
    assert second["1001"].uid == first["1001"].uid and second["1001"].secured is False
