"""Technician mode's actions on a kiosk wired like `kiosk run` (simulated devices, real
catalog): live device tests, network, queue with sync now, log, restart."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from staff_support import RunnerLikeKiosk, demo_settings, wait_for

from central.seed import AVAILABLE_ITEMS, SEED_PATRONS
from drivers.gpio import BeepPattern, LightState
from kiosk.session import ChooseMode, Done, Mode, ReceiptChoice, Screen
from kiosk.technician import Attempt
from kiosk.ui.technician import TechnicianConsole, attempt_message, mask

JAN = SEED_PATRONS[0]


@pytest.fixture
def running(library: Any, tmp_path: Path) -> Iterator[RunnerLikeKiosk]:
    r = RunnerLikeKiosk(demo_settings(library.url, tmp_path))
    yield r
    r.close()


@pytest.fixture
def console(running: RunnerLikeKiosk) -> Iterator[TechnicianConsole]:
    restarts: list[bool] = []
    c = TechnicianConsole(running.kiosk, restart=lambda: restarts.append(True),
                          blink_step_s=0.01)
    c.restarts = restarts  # type: ignore[attr-defined]
    c.open()
    yield c
    c.close()


def test_read_a_card_tests_the_reader_without_starting_a_visit(
        running: RunnerLikeKiosk, console: TechnicianConsole) -> None:
    console.wait_for_card()
    assert "Present a card" in console.results["card"].text
    running.devs.card_reader.present_uid(JAN.card_uid)
    assert wait_for(lambda: console.results["card"].text.startswith("card read"))
    text = console.results["card"].text
    assert (JAN.card_uid not in text and text.endswith(f"{JAN.card_uid[-4:]} (card_reader)")) \
        or JAN.card_uid[-4:] in text
    running.kiosk.wait_idle()
    assert running.kiosk.session.view.screen == Screen.IDLE  # no patron visit started
    running.devs.card_reader.remove()
    # back to patrons: the same card now starts a visit
    console.close()
    running.devs.card_reader.present_uid(JAN.card_uid)
    assert wait_for(lambda: running.kiosk.session.view.screen == Screen.HOME)


def test_read_a_tag_shows_the_items_on_the_pad(running: RunnerLikeKiosk,
                                               console: TechnicianConsole) -> None:
    console.wait_for_tag()
    running.devs.rfid_sim.place_items(AVAILABLE_ITEMS[:2])
    assert wait_for(lambda: console.results["tag"].text.startswith("2 tag(s)"))
    assert AVAILABLE_ITEMS[0] in console.results["tag"].text
    assert "secured" in console.results["tag"].text
    assert running.kiosk.session.view.items == ()


def test_print_a_test_receipt_and_see_paper_out(running: RunnerLikeKiosk,
                                                console: TechnicianConsole) -> None:
    result = console.print_test_receipt().result(timeout=10)
    assert result.ok and len(running.devs.printer.receipts) == 1
    assert "Printer test" in running.devs.printer.output.decode("cp858")
    running.devs.printer.paper_out()
    result = console.print_test_receipt().result(timeout=10)
    assert not result.ok and "paper" in result.text
    assert wait_for(lambda: ("printer", False, "sim") in console.devices_text())


def test_blink_the_lights(running: RunnerLikeKiosk, console: TechnicianConsole) -> None:
    lights = running.devs.lights
    before = len(lights.states)
    assert console.blink_lights().result(timeout=10).ok
    shown = iter(lights.states[before:])  # the session's own light changes may interleave
    assert all(state in shown for state in (LightState.READY, LightState.BUSY,
                                            LightState.OFFLINE, LightState.FAULT))
    assert lights.state == LightState.READY and lights.beeps[-1] == BeepPattern.SUCCESS


def test_network_state_and_live_probe(running: RunnerLikeKiosk, console: TechnicianConsole,
                                      library: Any) -> None:
    lines = console.network_lines()
    assert lines[0].startswith("Central side: online")
    assert any(line.startswith("Address: 127.0.0.1:") for line in lines)
    assert console.test_connection().result(timeout=10).ok
    library.proxy.cut()
    result = console.test_connection().result(timeout=10)
    assert not result.ok and result.text.startswith("no answer from the central side")
    assert console.network_lines()[0].startswith("Central side: OFFLINE")
    library.proxy.restore()


def test_queue_and_sync_now(running: RunnerLikeKiosk, library: Any, tmp_path: Path) -> None:
    kiosk, devs = running.kiosk, running.devs
    # one visit online (the card is cached), then two loans while the catalog is cut off
    devs.card_reader.present_uid(JAN.card_uid)
    assert wait_for(lambda: kiosk.session.view.screen == Screen.HOME)
    kiosk.put(ChooseMode(Mode.BORROW))
    devs.rfid_sim.place_items(AVAILABLE_ITEMS[20:21])
    assert wait_for(lambda: sum(line.ok for line in kiosk.session.view.items) == 1)
    kiosk.put(Done())
    assert wait_for(lambda: kiosk.session.view.screen == Screen.RECEIPT)
    kiosk.put(ReceiptChoice(False))
    devs.card_reader.remove()
    devs.rfid_sim.clear()
    assert wait_for(lambda: kiosk.session.view.screen == Screen.IDLE)
    library.proxy.cut()
    devs.card_reader.present_uid(JAN.card_uid)
    assert wait_for(lambda: kiosk.session.view.screen == Screen.HOME)
    kiosk.put(ChooseMode(Mode.BORROW))
    devs.rfid_sim.place_items(AVAILABLE_ITEMS[21:23])
    assert wait_for(lambda: sum(line.ok for line in kiosk.session.view.items) == 2)
    console = TechnicianConsole(kiosk, restart=lambda: None)
    console.open()
    try:
        lines = console.queue_lines()
        assert lines[0].startswith("Waiting: 2")
        assert lines[1].startswith("Oldest waiting:")
        assert all(JAN.patron_id not in line for line in lines)
        assert sum("checkout pending" in line or "checkout sent" in line for line in lines) == 2
        library.proxy.restore()
        console.sync_now()
        assert wait_for(lambda: kiosk.journal.pending_count() == 0, timeout=10)
        assert console.queue_lines()[0].startswith("Waiting: 0")
    finally:
        console.close()


def test_log_lines_hide_patron_identifiers(running: RunnerLikeKiosk,
                                           console: TechnicianConsole,
                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    console.close()
    console.open()
    logging.getLogger("kiosk.test").warning("card %s refused for /v1/patrons/%s/account",
                                            "04A1B2C3D4E5F6", "P0001")
    lines = console.log_lines()
    assert any("technician mode opened" in line for line in lines)
    refused = [line for line in lines if "refused" in line]
    assert refused and "04A1B2C3D4E5F6" not in refused[-1] and "P0001" not in refused[-1]


def test_restart_closes_and_calls_restart(running: RunnerLikeKiosk,
                                          console: TechnicianConsole) -> None:
    console.restart()
    assert console.restarts == [True]  # type: ignore[attr-defined]
    assert not console.opened
    assert "handle" not in vars(running.kiosk.session)  # the event tap is gone


def test_messages_after_a_pin() -> None:
    assert attempt_message(Attempt(ok=False, tries_left=3)) == "Wrong PIN. 3 tries left."
    assert "5 min" in attempt_message(Attempt(ok=False, locked=True, locked_for_s=300))
    assert "set-pin" in attempt_message(Attempt(ok=False, not_configured=True))
    assert mask("04A1B2C3D4E5F6") == "••••••••••E5F6"
