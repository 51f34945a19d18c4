"""The library's messages in the real window: published on the service, fetched with the
kiosk's heartbeat, one for everyone under the idle screen's instruction (counted once it is on
screen), one for children after a child's card. Screenshots: idle-library-message.png,
home-message-for-children.png."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from shots import screenshot_dir
from ui_harness import Ui, card, patron

from central.db import Database
from central.messages import parse, publish
from domain.demo_library import SEED_PATRONS
from kiosk.app import Kiosk
from kiosk.ui import probe

CLOSED = "Op 25 en 26 december is de bibliotheek gesloten."
STORY = "Woensdag om 14 uur: voorleesuurtje in de jeugdafdeling!"


def test_a_message_for_everyone_and_one_for_children(ui: Ui, make_kiosk: Callable[..., Kiosk],
                                                     library: Any) -> None:
    today = date.today()
    with Database(library.db_path) as db:
        closed, _story = (publish(db, parse({
            "texts": {"nl": text}, "start": today.isoformat(),
            "end": (today + timedelta(days=7)).isoformat(), "audience": audience}), "alice")
            for text, audience in ((CLOSED, ""), (STORY, "child")))
    make_kiosk()  # its heartbeat brings the messages; the idle screen shows them at once
    assert probe.pump_until(lambda: CLOSED in ui.text(), 5)
    assert "Leg uw bibliotheekkaart op de lezer of scan ze." in ui.text()  # still there
    probe.screenshot(screenshot_dir() / "idle-library-message.png")

    def shown() -> int:  # counted on the kiosk, sent with a heartbeat, added up centrally
        with sqlite3.connect(library.db_path) as conn:
            return int(conn.execute("SELECT shown FROM messages WHERE message_id = ?",
                                    (closed,)).fetchone()[0])
    assert probe.pump_until(lambda: shown() == 1, 5)
    child = next(p for p in SEED_PATRONS if p.category == "child")
    ui.device(card(patron(child.patron_id)))
    assert ui.screen == "home" and STORY in ui.text()
    probe.screenshot(screenshot_dir() / "home-message-for-children.png")
