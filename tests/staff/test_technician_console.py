"""Technician mode's actions on a kiosk wired like `kiosk run` (simulated devices, real
catalog): live device tests, network, queue with sync now, log, restart; and the same console
in Dutch, French and German (the PIN messages with their plurals, tabs, prompts, summaries)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from staff_support import RunningKiosk, demo_settings, wait_for

from domain.demo_library import AVAILABLE_ITEMS, SEED_PATRONS
from domain.privacy import shown
from drivers.gpio import BeepPattern, LightState
from kiosk.i18n import LANGUAGES, UnknownLanguage
from kiosk.session import ChooseMode, Done, Mode, ReceiptChoice, Screen
from kiosk.technician.console import TABS, TechnicianConsole, attempt_message
from kiosk.technician.pin import Attempt, PinGate, hash_pin

JAN = SEED_PATRONS[0]


@pytest.fixture
def running(library: Any, tmp_path: Path) -> Iterator[RunningKiosk]:
    r = RunningKiosk(demo_settings(library.url, tmp_path))
    yield r
    r.close()


@pytest.fixture
def console(running: RunningKiosk) -> Iterator[TechnicianConsole]:
    restarts: list[bool] = []
    c = TechnicianConsole(running.kiosk.technician, restart=lambda: restarts.append(True),
                          blink_step_s=0.01, language="en")
    c.restarts = restarts  # type: ignore[attr-defined]
    c.open()
    yield c
    c.close()


def test_read_a_card_tests_the_reader_without_starting_a_visit(
        running: RunningKiosk, console: TechnicianConsole) -> None:
    console.wait_for_card()
    assert "Present a card" in console.result_text("card")
    running.devs.card_reader.present_uid(JAN.card_uid)
    assert wait_for(lambda: console.result_text("card").startswith("Card read"))
    text = console.result_text("card")
    assert (JAN.card_uid not in text and text.endswith(f"{JAN.card_uid[-4:]} (card_reader)")) \
        or JAN.card_uid[-4:] in text
    running.kiosk.wait_idle()
    assert running.kiosk.session.view.screen == Screen.IDLE  # no patron visit started
    running.devs.card_reader.remove()
    # back to patrons: the same card now starts a visit
    console.close()
    running.devs.card_reader.present_uid(JAN.card_uid)
    assert wait_for(lambda: running.kiosk.session.view.screen == Screen.HOME)


def test_read_a_tag_shows_the_items_on_the_pad(running: RunningKiosk,
                                               console: TechnicianConsole) -> None:
    console.wait_for_tag()
    running.devs.rfid_sim.place_items(AVAILABLE_ITEMS[:2])
    assert wait_for(lambda: console.result_text("tag").startswith("2 tags: "))
    assert AVAILABLE_ITEMS[0] in console.result_text("tag")
    assert "secured" in console.result_text("tag")
    assert running.kiosk.session.view.items == ()


def test_print_a_test_receipt_and_see_paper_out(running: RunningKiosk,
                                                console: TechnicianConsole) -> None:
    result = console.print_test_receipt().result(timeout=10)
    assert result.ok and len(running.devs.printer.receipts) == 1
    assert "Printer test" in running.devs.printer.output.decode("cp858")
    running.devs.printer.paper_out()
    result = console.print_test_receipt().result(timeout=10)
    assert not result.ok and "paper" in result.text("en")
    assert wait_for(lambda: ("printer", False, "sim") in console.devices_text())


def test_blink_the_lights(running: RunningKiosk, console: TechnicianConsole) -> None:
    lights = running.devs.lights
    before = len(lights.states)
    assert console.blink_lights().result(timeout=10).ok
    shown = iter(lights.states[before:])  # the session's own light changes may interleave
    assert all(state in shown for state in (LightState.READY, LightState.BUSY,
                                            LightState.OFFLINE, LightState.FAULT))
    assert lights.state == LightState.READY and lights.beeps[-1] == BeepPattern.SUCCESS


def test_network_state_and_live_probe(running: RunningKiosk, console: TechnicianConsole,
                                      library: Any) -> None:
    lines = console.network_lines()
    assert lines[0].startswith("Central side: online")
    assert any(line.startswith("Address: 127.0.0.1:") for line in lines)
    assert console.test_connection().result(timeout=10).ok
    library.proxy.cut()
    result = console.test_connection().result(timeout=10)
    assert not result.ok and result.text("en").startswith("No answer from the central side")
    assert console.network_lines()[0].startswith("Central side: OFFLINE")
    library.proxy.restore()


def test_the_console_shows_the_kiosk_clock_against_the_central_side(
        running: RunningKiosk, console: TechnicianConsole) -> None:
    assert running.kiosk.sync.heartbeat()
    [clock] = [line for line in console.network_lines() if line.startswith("Clock:")]
    assert "central side" in clock and int(clock.split()[1]) < 60  # same machine: in step


def test_queue_and_sync_now(running: RunningKiosk, library: Any, tmp_path: Path) -> None:
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
    console = TechnicianConsole(kiosk.technician, restart=lambda: None, language="en")
    console.open()
    try:
        lines = console.queue_lines()
        assert lines[0].startswith("Waiting: 2")
        assert lines[1].startswith("Oldest waiting:")
        assert all(JAN.patron_id not in line for line in lines)
        assert sum("checkout pending" in line or "checkout sent" in line for line in lines) == 2
        # the same queue in French: labels and words translated, values as they are
        console.set_language("fr")
        french = console.queue_lines()
        assert french[0] == "En attente : 2   Conflits : 0   Refusées : 0"
        assert re.fullmatch(r"Plus ancienne en attente : \d{4}-\d\d-\d\dT\d\d:\d\d\S* "
                            r"\(il y a [\d,]+\u202f(ms|s)\)", french[1]), french[1]
        assert sum(re.search(r"^#\d+ checkout (pending|sent) document \S+ usager \S+ \d{4}-",
                             line) is not None for line in french) == 2
        console.set_language("en")
        library.proxy.restore()
        console.sync_now()
        assert wait_for(lambda: kiosk.journal.pending_count() == 0, timeout=10)
        assert console.queue_lines()[0].startswith("Waiting: 0")
        console.set_language("fr")
        assert console.result_text("sync") == "Envoi de la file d'attente…"
        assert console.queue_lines()[0] == "En attente : 0   Conflits : 0   Refusées : 0"
    finally:
        console.close()


def test_log_lines_hide_patron_identifiers(running: RunningKiosk,
                                           console: TechnicianConsole,
                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    console.close()
    console.open()
    logging.getLogger("kiosk.test").warning("card %s refused for /v1/patrons/%s/account",
                                            "04A1B2C3D4E5F6", "P0001")
    console.set_language("de")
    lines = console.log_lines()
    assert any("technician mode opened" in line for line in lines)  # logs stay as logged
    refused = [line for line in lines if "refused" in line]
    assert refused and "04A1B2C3D4E5F6" not in refused[-1] and "P0001" not in refused[-1]


def test_restart_closes_and_calls_restart(running: RunningKiosk,
                                          console: TechnicianConsole) -> None:
    console.restart()
    assert console.restarts == [True]  # type: ignore[attr-defined]
    assert not console.opened
    assert "handle" not in vars(running.kiosk.session)  # the event tap is gone


def test_messages_after_a_pin() -> None:
    assert attempt_message(Attempt(ok=False, tries_left=3), "en") == "Wrong PIN. 3 tries left."
    assert attempt_message(Attempt(ok=False, locked=True, locked_for_s=300), "en") == (
        "Technician mode is locked for 5 minutes.")
    assert "set-pin" in attempt_message(Attempt(ok=False, not_configured=True), "en")
    assert attempt_message(Attempt(ok=True), "nl") == ""
    assert shown("04A1B2C3D4E5F6") == "••••••••••E5F6"


WRONG_PIN = {  # 3 tries left, 1 try left, locked for 5 minutes, locked for 1 minute
    "en": ("Wrong PIN. 3 tries left.", "Wrong PIN. 1 try left.",
           "Technician mode is locked for 5 minutes.", "Technician mode is locked for 1 minute."),
    "nl": ("Foute pincode. Nog 3 pogingen.", "Foute pincode. Nog 1 poging.",
           "Technicusmodus is 5 minuten vergrendeld.", "Technicusmodus is 1 minuut vergrendeld."),
    "fr": ("Code PIN erroné. Encore 3 essais.", "Code PIN erroné. Encore 1 essai.",
           "Mode technicien verrouillé pendant 5 minutes.",
           "Mode technicien verrouillé pendant 1 minute."),
    "de": ("Falsche PIN. Noch 3 Versuche.", "Falsche PIN. Noch 1 Versuch.",
           "Technikermodus für 5 Minuten gesperrt.", "Technikermodus für 1 Minute gesperrt."),
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_wrong_pins_are_counted_down_in_the_screen_language(language: str) -> None:
    """Five wrong PINs on a real gate: 4, 3, 2, 1 tries left, then locked; with the plural
    each language uses for 3 and the singular for 1."""
    gate = PinGate(hash_pin("2468", n=2**4), clock=lambda: 1000.0)
    said = [attempt_message(gate.attempt("1111"), language) for _ in range(5)]
    three, one, locked, locked_one = WRONG_PIN[language]
    assert said[1:] == [three, three.replace("3", "2"), one, locked]
    assert said[0] == three.replace("3", "4")
    assert attempt_message(Attempt(ok=False, locked=True, locked_for_s=45), language) == (
        locked_one)
    assert "kiosk config set-pin" in attempt_message(Attempt(ok=False, not_configured=True),
                                                     language)


CONSOLE_WORDS = {  # tab titles, the devices tab's buttons, the restart question
    "en": (["Devices", "Network", "Queue", "Log", "Restart"],
           ["Read a card", "Read a tag", "Print test receipt", "Blink the lights"],
           "Press the button again to restart now."),
    "nl": (["Apparaten", "Netwerk", "Wachtrij", "Logboek", "Herstarten"],
           ["Kaart lezen", "Tag lezen", "Testticket afdrukken", "Lampjes testen"],
           "Druk nog eens om nu te herstarten."),
    "fr": (["Appareils", "Réseau", "File d'attente", "Journal", "Redémarrer"],
           ["Lire une carte", "Lire une étiquette", "Imprimer un ticket test",
            "Tester les voyants"],
           "Appuyez encore une fois pour redémarrer."),
    "de": (["Geräte", "Netzwerk", "Warteschlange", "Protokoll", "Neustart"],
           ["Karte lesen", "Etikett lesen", "Testbeleg drucken", "Leuchten testen"],
           "Zum Neustart noch einmal drücken."),
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_tabs_buttons_and_restart_question_in_each_language(
        running: RunningKiosk, language: str) -> None:
    restarts: list[bool] = []
    console = TechnicianConsole(running.kiosk.technician, restart=lambda: restarts.append(True),
                                language=language)
    tabs, buttons, question = CONSOLE_WORDS[language]
    assert [console.tab_title(tab) for tab in TABS] == tabs
    assert [label for _name, label, _action in console.actions("devices")] == buttons
    assert [name for name, _label, _action in console.actions("devices")] == [
        "technician-test-card", "technician-test-tag", "technician-test-printer",
        "technician-test-lights"]  # the names tests and the tour use do not change
    console.select_tab("restart")
    [(_name, _label, press)] = console.actions()
    explanation = console.lines()
    press()  # the first press only asks, in the console's language
    asked = console.lines()
    assert restarts == [] and asked == [*explanation, (question, "bad")]
    press()
    assert restarts == [True] and not console.opened


def test_a_card_test_in_german_then_read_again_in_dutch(running: RunningKiosk,
                                                        console: TechnicianConsole) -> None:
    console.set_language("de")
    console.wait_for_card()
    assert console.result_text("card") == "Bitte eine Karte an den Leser halten…"
    assert ("Kartenleser: Bitte eine Karte an den Leser halten…", "ok") in console.lines()
    running.devs.card_reader.present_uid(JAN.card_uid)
    assert wait_for(lambda: console.result_text("card").startswith("Karte gelesen: "))
    assert console.result_text("card") == (
        f"Karte gelesen: card_uid {shown(JAN.card_uid)} (card_reader)")  # values as they are
    assert ("OK    Kartenleser (simuliert)", "ok") in console.lines()  # not "card_reader (sim)"
    console.set_language("nl")  # a result already on screen follows the switch
    assert console.result_text("card").startswith("Kaart gelezen: card_uid ")
    assert console.lines()[0][0].startswith("OK ")
    console.wait_for_tag()
    running.devs.rfid_sim.place_items(AVAILABLE_ITEMS[:1])
    assert wait_for(lambda: console.result_text("tag").startswith("1 tag: "))
    assert console.result_text("tag").endswith(" beveiligd")
    console.set_language("fr")
    assert console.result_text("tag") == (  # the owner's ISIL is a value, it stays
        f"1 étiquette : {AVAILABLE_ITEMS[0]} [NL-AmRBL] antivol actif")


def test_network_and_live_probe_in_french(running: RunningKiosk,
                                          console: TechnicianConsole, library: Any) -> None:
    console.set_language("fr")
    lines = console.network_lines()
    assert lines[0] == "Système central : en ligne (rest)"  # the backend's name stays
    assert any(line.startswith("Adresse : 127.0.0.1:") for line in lines)
    assert any(line.startswith("Cette borne : ") for line in lines)
    assert lines[-1].startswith("Dernière synchro — envoyées : ")
    result = console.test_connection().result(timeout=10)
    assert re.fullmatch(r"Le système central a répondu en [\d,]+\u202f(ms|s)\.",
                        result.text("fr")), result.text("fr")
    assert re.fullmatch(r"Das Zentralsystem hat in [\d,]+ (ms|Sek\.) geantwortet\.",
                        result.text("de"))
    library.proxy.cut()
    try:
        result = console.test_connection().result(timeout=10)
        assert not result.ok and result.text("nl").startswith(
            "Geen antwoord van het centrale systeem")
        assert console.network_lines()[0] == "Système central : HORS LIGNE (rest)"
    finally:
        library.proxy.restore()


def test_test_receipt_is_printed_in_the_console_language(running: RunningKiosk,
                                                         console: TechnicianConsole) -> None:
    console.set_language("fr")
    result = console.print_test_receipt().result(timeout=10)
    assert result.ok and result.text("fr") == "Ticket test imprimé : vérifiez le papier."
    assert "Test d'impression - mode technicien" in running.devs.printer.output.decode("cp858")


def test_console_starts_in_the_kiosk_default_language_and_refuses_unknown_ones(
        running: RunningKiosk) -> None:
    console = TechnicianConsole(running.kiosk.technician, restart=lambda: None)
    assert running.kiosk.settings.kiosk.language == "nl"
    assert console.language == "nl" and console.tab_title("devices") == "Apparaten"
    with pytest.raises(UnknownLanguage):
        console.set_language("xx")
    assert console.language == "nl"
    with pytest.raises(UnknownLanguage):
        TechnicianConsole(running.kiosk.technician, restart=lambda: None, language="pt")
