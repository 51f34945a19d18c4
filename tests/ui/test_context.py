"""The UI's settings come from the kiosk's validated config; importing kiosk.ui needs no Kivy."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from kiosk import config
from kiosk.ui import ui_config_from_settings

ROOT = Path(__file__).resolve().parents[2]


def test_ui_settings_from_the_demo_config() -> None:
    settings = config.load(ROOT / "config" / "demo.toml")
    ui = ui_config_from_settings(settings, window_size=(800, 480))
    assert ui.library_name == settings.library.name
    assert list(ui.opening_hours) == settings.library.opening_hours
    assert ui.default_language == "nl" and ui.languages == ("nl", "fr", "de", "en")
    assert ui.window_size == (800, 480)
    assert ui.auto_print_on_timeout == settings.session.auto_print_on_timeout


def test_importing_the_ui_package_does_not_import_kivy() -> None:
    code = "import sys, kiosk.ui, kiosk.ui.display; print('kivy' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert done.stdout.strip() == "False", done.stderr
