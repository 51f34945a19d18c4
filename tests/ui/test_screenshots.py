"""Screenshots of every screen in every language for docs/screenshots/ (<screen>-<lang>.png,
800×480), plus the high-contrast, large-text and portrait variants. Each picture is checked
to show what the screen says (not a blank window) before it is written."""

from __future__ import annotations

from pathlib import Path

import pytest
from gallery import VIEWS, in_language
from kivy.core.window import Window
from PIL import Image
from shots import screenshot_dir
from ui_harness import Ui

from kiosk.i18n import LANGUAGES, gettext, weekday_names
from kiosk.ui import probe

pytestmark = pytest.mark.usefixtures("pinned_day")

SHOTS = screenshot_dir()
HEADLINES = {  # one sentence each screen must show, as an English msgid
    "idle": "Place your library card on the reader or scan it.",
    "idle-message": "Place your library card on the reader or scan it.",
    "pin": "Please type your PIN.",
    "home": "My account",
    "home-message": "My account",
    "borrow": "Place your items on the pad or scan their barcodes.",
    "return": "Place the items you are returning on the pad.",
    "account": "Renew all",
    "receipt": "Would you like a receipt?",
    "goodbye": "Thank you, goodbye!",
    "goodbye-feedback": "How did it go?",
    "goodbye-why": "What went wrong?",
    "timeout": "Are you still there?",
}


@pytest.fixture
def small_window(ui: Ui):
    ui.board.attach(None)
    Window.size = (800, 480)
    probe.pump_until(lambda: tuple(Window.size) == (800, 480), 3)
    yield
    ui.app.theme.high_contrast = False
    ui.app.theme.large_text = False
    Window.size = (1024, 600)
    ui.show(VIEWS["idle"])


def distinct_colours(path: Path) -> int:
    with Image.open(path) as image:
        return len(image.convert("RGB").getcolors(maxcolors=1 << 16) or ())


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_screen_in_every_language(ui: Ui, small_window: None, language: str) -> None:
    for name in VIEWS:
        ui.show(in_language(name, language))
        text = ui.text()
        assert gettext(language, HEADLINES[name]) in text, name
        if name == "idle":  # opening hours: day names and "closed" in the patron's language
            sunday = weekday_names(language)[6]
            assert f"{sunday}: {gettext(language, 'closed')}" in text
        path = probe.screenshot(SHOTS / f"{name}-{language}.png")
        with Image.open(path) as image:
            assert image.size == (800, 480)
        assert distinct_colours(path) > 8  # text and buttons, not an empty window
        assert path.stat().st_size < 120_000


def test_accessibility_variants(ui: Ui, small_window: None) -> None:
    ui.show(in_language("idle", "nl"))
    probe.tap(probe.button(ui.app, "toggle-high-contrast"))
    ui.settle()
    assert "Hoog contrast: aan" in ui.text()
    assert tuple(ui.app.theme.bg) == (0, 0, 0, 1)
    probe.screenshot(SHOTS / "idle-high-contrast-nl.png")
    ui.show(in_language("borrow", "nl"))
    probe.screenshot(SHOTS / "borrow-high-contrast-nl.png")
    ui.show(in_language("idle", "nl"))
    probe.tap(probe.button(ui.app, "toggle-high-contrast"))
    probe.tap(probe.button(ui.app, "toggle-large-text"))
    ui.settle()
    assert "Grote letters: aan" in ui.text()
    ui.show(in_language("account", "nl"))
    probe.screenshot(SHOTS / "account-large-text-nl.png")
    ui.app.theme.large_text = False
    Window.size = (480, 800)
    probe.pump_until(lambda: tuple(Window.size) == (480, 800), 3)
    for name in ("idle", "borrow", "pin"):
        ui.show(in_language(name, "nl"))
        probe.screenshot(SHOTS / f"{name}-portrait-nl.png")
