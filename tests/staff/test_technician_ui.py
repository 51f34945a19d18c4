"""Technician mode in the real Kivy window (own process): the hidden corner and a PIN open it,
a wrong PIN does not, live tests work, patrons' screens stay untouched, restart asks twice;
the systemd watchdog pings follow the UI thread's clock. The console speaks the idle screen's
language, switches on its own, and leaves the patron side's language alone.
Screenshots: docs/screenshots/technician-*.png (English; technician-devices-fr.png French)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from shots import screenshot_dir

from domain.demo_library import SEED_PATRONS

JAN = SEED_PATRONS[0]
SHOTS = screenshot_dir()


def test_technician_mode_on_the_touchscreen(library: Any, tmp_path: Path) -> None:
    script = Path(__file__).with_name("technician_ui_run.py")
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "SDL_VIDEODRIVER")}
    done = subprocess.run([sys.executable, str(script), library.url, str(tmp_path / "data"),
                           str(SHOTS)], capture_output=True, text=True,
                          timeout=180, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["pings_while_ui_runs"] >= 3, found  # WATCHDOG=1 rides on the Kivy clock ...
    assert found["pings_while_ui_hangs"] == 0  # ... and stops when the UI thread stops
    assert found["wrong_pin_notice"] == "Wrong PIN. 4 tries left."
    assert found["opened_after_wrong_pin"] is False
    assert found["opened"] is True
    assert "OK    card reader (simulated)" in found["devices_text"]
    [card] = found["card_text"]
    assert card.startswith("Card reader: Card read: card_uid") and card.endswith(
        "E5F6 (card_reader)")
    assert found["screen_behind"] == "idle"  # the test card did not start a patron visit
    assert found["receipts"] == 1
    assert "Waiting: 0" in found["queue_text"]
    assert "Central side: online" in found["network_text"]
    assert "The central side answered in" in found["network_text"]
    assert found["restart_after_one_press"] == []  # asks for a second press
    assert found["restarts"] == 1 and found["closed"] and found["tap_removed"]
    assert found["idle_closed"] is True  # left alone, technician mode closes itself
    assert found["card_starts_visit_after"] is True
    everything = json.dumps(found, ensure_ascii=False) + done.stderr
    assert JAN.card_uid not in everything and JAN.patron_id not in everything
    assert "2468" not in done.stderr
    assert_console_follows_the_idle_language(found)
    for name in ("devices", "queue", "network", "wrong-pin", "devices-fr"):
        assert (SHOTS / f"technician-{name}.png").stat().st_size > 3000


def assert_console_follows_the_idle_language(found: dict[str, Any]) -> None:
    """A patron left the idle screen in French when the technician came."""
    assert found["fr_wrong_pin_notice"] == "Code PIN erroné. Encore 4 essais."
    fr = found["fr_console"]
    assert fr["title"] == "Mode technicien" and fr["back"] == ["Retour aux usagers"]
    assert fr["tabs"] == ["Appareils", "Réseau", "File d'attente", "Journal", "Redémarrer"]
    assert fr["buttons"] == ["Lire une carte", "Lire une étiquette", "Imprimer un ticket test",
                             "Tester les voyants"]
    assert fr["languages"] == ["NL", "FR \u2714", "DE", "EN"]  # the patron header's buttons
    assert "OK    lecteur de carte (simulé)" in fr["text"]
    # the technician switches the console to Dutch: everything on it follows ...
    nl = found["nl_console"]
    assert nl["title"] == "Technicusmodus" and nl["back"] == ["Terug naar leners"]
    assert nl["tabs"] == ["Apparaten", "Netwerk", "Wachtrij", "Logboek", "Herstarten"]
    assert nl["buttons"] == ["Kaart lezen", "Tag lezen", "Testticket afdrukken",
                             "Lampjes testen"]
    assert nl["languages"] == ["NL \u2714", "FR", "DE", "EN"]
    assert not any("Appareils" in line or "Lire une carte" in line for line in nl["text"])
    # ... but the patron side does not take on the technician's choice
    assert found["while_open"] == {"app_lang": "fr", "session": "fr"}
    after = found["after_close"]
    assert after["closed"] and after["screen"] == "idle"
    assert after["app_lang"] == "fr" and after["session"] == "fr"
    assert after["patron_languages"] == ["NL", "FR \u2714", "DE", "EN"]
    assert "Posez votre carte de bibliothèque sur le lecteur ou scannez-la." in after["text"]
    assert not any("Technicusmodus" in line or "Apparaten" in line for line in after["text"])
