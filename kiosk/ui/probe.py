"""Looking at and touching the running UI from code: tests, benchmarks and the scripted tour.

Why in the package: the tour (`make demo` without a display), the latency benchmark and the
tests all need the same three things: advance frames, touch a widget through Kivy's real
input pipeline, and read what is on screen. Nothing here is used by the kiosk itself.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kivy.base import EventLoop
from kivy.core.window import Window
from kivy.uix.label import Label
from kivy.uix.widget import Widget

from kiosk.ui.focus import walk
from kiosk.ui.widgets import KioskButton

if TYPE_CHECKING:
    from kiosk.ui.app import KioskApp


class WidgetNotFound(LookupError):
    """No widget on screen matches (the button is not shown, or is on another screen)."""


def pump(frames: int = 1) -> None:
    """Let Kivy run `frames` frames: clock callbacks, layout, drawing."""
    for _ in range(frames):
        EventLoop.idle()


def pump_until(predicate: Callable[[], bool], timeout: float = 5.0, settle: int = 3) -> bool:
    """Run frames until `predicate()` holds (then `settle` more for layout), or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pump()
        if predicate():
            pump(settle)
            return True
    return predicate()


def on_screen(app: KioskApp) -> Iterator[Widget]:
    """Every widget attached to the window now (the current screen, banners, overlays)."""
    for child in list(Window.children):
        yield from walk(child)


def everywhere(app: KioskApp) -> Iterator[Widget]:
    """Every widget the app holds, including screens that are not shown right now."""
    seen: set[int] = set()
    roots = [*Window.children, *app.sm.screens, app.busy]
    if app.timeout_overlay is not None:
        roots.append(app.timeout_overlay)
    for root in roots:
        for w in walk(root):
            if id(w) not in seen:
                seen.add(id(w))
                yield w


def texts(widgets: Iterator[Widget]) -> list[str]:
    return [w.text for w in widgets if isinstance(w, Label) and w.text]


def reading_order(app: KioskApp) -> list[str]:
    """Label texts on screen, top to bottom and left to right, as a patron reads them."""
    labels = [w for w in on_screen(app) if isinstance(w, Label) and w.text]
    def key(w: Label) -> tuple[float, float]:
        x, top = w.to_window(w.x, w.top)
        return (-round(top), x)
    return [w.text for w in sorted(labels, key=key)]


def screen_text(app: KioskApp) -> str:
    """All text on screen now, one label per line: what a patron can read."""
    return "\n".join(reading_order(app))


def buttons(app: KioskApp, name: str) -> list[KioskButton]:
    return [w for w in on_screen(app) if isinstance(w, KioskButton) and w.action_name == name]


def button(app: KioskApp, name: str) -> KioskButton:
    found = buttons(app, name)
    if not found:
        raise WidgetNotFound(f"no button {name!r} on screen {app.sm.current!r}")
    return found[0]


def _touch_at(x: float, y: float) -> Any:
    """A finger at window position (x, y), fed through Kivy's real input pipeline.

    Our own small MotionEvent rather than kivy.tests.common.UnitTestTouch: that module
    imports pytest, which `make demo` (the screen tour) does not install.
    """
    from kivy.input.motionevent import MotionEvent

    class Finger(MotionEvent):
        def depack(self, args: dict[str, float]) -> None:
            self.sx, self.sy = args["x"], args["y"]
            self.profile = ["pos"]
            super().depack(args)

        def touch_down(self) -> None:
            EventLoop.post_dispatch_input("begin", self)

        def touch_up(self) -> None:
            EventLoop.post_dispatch_input("end", self)

    win = EventLoop.window
    return Finger("probe", 99, {"x": x / (win.width - 1.0), "y": y / (win.height - 1.0)},
                  is_touch=True, type_id="touch")


def tap(widget: Widget, *, frames: int = 2) -> None:
    """Press and release at the widget's centre through Kivy's input pipeline."""
    x, y = widget.to_window(*widget.center)
    touch = _touch_at(x, y)
    touch.touch_down()
    pump(frames)
    touch.touch_up()
    pump(frames)


def long_press(widget: Widget, seconds: float) -> None:
    x, y = widget.to_window(*widget.center)
    touch = _touch_at(x, y)
    touch.touch_down()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pump()
    touch.touch_up()
    pump(2)


def screenshot(path: Path) -> Path:
    """Save what the window shows as a PNG at `path` (re-compressed to keep it small)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        written = Path(Window.screenshot(name=str(Path(tmp) / "shot.png")))
        try:
            from PIL import Image
        except ImportError:
            shutil.move(written, path)
        else:
            with Image.open(written) as image:
                image.convert("RGB").quantize(colors=128).save(path, optimize=True)
    return path
