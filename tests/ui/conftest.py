"""A real Kivy window for the UI tests, and kiosks wired to the real reference catalog.

Display: if DISPLAY is unset we start our own Xvfb (a free display number, no TCP) and stop
it when the test process exits; without Xvfb we fall back to SDL's offscreen driver, which
still renders with OpenGL (screenshots work). Kivy gets a throw-away KIVY_HOME and logs
through Python logging. All of this must happen before Kivy is imported.

One window per test process (Kivy cannot reopen one), so the `ui` fixture is session-wide and
each test plugs a fresh kiosk core into it through a `Switchboard`.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

_KIVY_HOME = tempfile.mkdtemp(prefix="kiosk-ui-kivy-home-")
os.environ["KIVY_HOME"] = _KIVY_HOME
os.environ["KIVY_LOG_MODE"] = "PYTHON"
os.environ["KIVY_NO_ARGS"] = "1"
os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")


from kiosk.ui.display import HeadlessDisplay  # noqa: E402  (imports no Kivy)

_DISPLAY = HeadlessDisplay().start()


def _stop_display() -> None:
    # registered before Kivy is imported, so it runs after Kivy's own exit handlers
    _DISPLAY.stop()
    shutil.rmtree(_KIVY_HOME, ignore_errors=True)


atexit.register(_stop_display)

from ui_harness import HeardVoice, Switchboard, Ui  # noqa: E402

from domain.demo_library import DEMO_KIOSK_ID, DEMO_TOKEN  # noqa: E402
from kiosk import config  # noqa: E402
from kiosk.app import Kiosk, build_kiosk  # noqa: E402
from kiosk.ui.context import UiConfig, UiContext  # noqa: E402

UI_CONFIG = UiConfig(
    library_name="Bibliotheek Demo",
    opening_hours={"mon": "10:00–19:00", "tue": "10:00–19:00", "wed": "10:00–19:00",
                   "thu": "10:00–19:00", "fri": "10:00–19:00", "sat": "10:00–16:00"},
    window_size=(1024, 600),
    auto_print_on_timeout=False,
    # well above a stalled frame (p99 ~0.5 s on a loaded CI box), so that a short tap, which
    # draws a couple of frames between down and up, can never turn into a long press
    technician_hold_s=2.0,
)


@pytest.fixture(scope="session")
def ui() -> Iterator[Ui]:
    from kiosk.ui import env

    env.configure(UI_CONFIG, max_fps=0)
    from kivy.core.window import Window

    from kiosk.ui.app import KioskApp

    board = Switchboard()
    voice = HeardVoice()
    app = KioskApp(UiContext(events=board, subscribe=board.subscribe, config=UI_CONFIG,
                             cue=board.cue, on_technician_pin=board.technician,
                             heartbeat=board.heartbeat, speaker=voice, keys=board.keys))
    app._run_prepare()
    Window.size = UI_CONFIG.window_size
    harness = Ui(app, board, voice)
    harness.settle()
    yield harness
    app.stop()
    voice.speaker.close()
    Window.close()


@pytest.fixture(autouse=True)
def _fresh_window(request: pytest.FixtureRequest) -> Iterator[None]:
    """The window outlives each test: start every UI test from a clean slate and leave one
    behind, so that a test failing half-way (an open PIN prompt, a pending corner hold) cannot
    make the next tests fail, and recorded cues and PINs never depend on the test order."""
    if "ui" not in request.fixturenames:  # plain tests (i18n, context) need no window
        yield
        return
    harness: Ui = request.getfixturevalue("ui")
    harness.reset()
    yield
    harness.reset()


@pytest.fixture
def pinned_day(ui: Ui) -> Iterator[None]:
    """The window's "today" is the gallery's: screenshots and layouts do not depend on the day
    they are made (a due date "in 4 days" stays in 4 days)."""
    from gallery import TODAY

    ui.app.today_source = lambda: TODAY
    yield
    del ui.app.today_source  # back to the class's date.today


@pytest.fixture
def make_kiosk(ui: Ui, library: Any, tmp_path: Path) -> Iterator[Callable[..., Kiosk]]:
    """Build a real kiosk core (journal, REST client, circulation, sync, session) and plug it
    into the window. The central side is the seeded reference service behind a fault proxy."""
    made: list[Kiosk] = []

    def make(*, devices: dict[str, dict[str, Any]] | None = None, feedback: bool = False,
             **session: object) -> Kiosk:
        settings = config.Settings(
            # "How did it go?" keeps the goodbye screen up; journeys that are not about it
            # go straight back to idle
            insights=config.InsightsSection(feedback=feedback),
            kiosk=config.KioskSection(id=DEMO_KIOSK_ID, data_dir=str(tmp_path)),
            backend=config.BackendSection(url=library.url, connect_timeout_s=0.5, timeout_s=2.0),
            session=config.SessionSection(**{"timeout_s": 60.0, "warning_s": 10.0,
                                             "goodbye_s": 0.5, **session}),
            sync=config.SyncSection(heartbeat_s=0.2, backoff_base_s=0.05, backoff_max_s=0.2,
                                    recheck_s=0.2),
            api_token=DEMO_TOKEN,
            devices=devices or {},
        )
        kiosk = build_kiosk(settings)  # as `kiosk run` builds it: drivers and their twins
        kiosk.start()
        made.append(kiosk)
        ui.board.attach(kiosk)
        ui.settle()
        return kiosk

    yield make
    ui.board.attach(None)
    for kiosk in made:
        kiosk.close()
    ui.app._restore_defaults()  # type: ignore[attr-defined]
