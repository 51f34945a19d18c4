"""Colours, type sizes and touch-target sizes, switchable at run time.

Why one observable object: the large-text and high-contrast switches on the idle screen
must restyle every widget at once, so widgets bind to `Theme` properties instead of
holding their own colours. Nothing is said by colour alone: each status colour comes
with an icon glyph and a word (see `STATUS_GLYPHS`).
"""

from __future__ import annotations

from pathlib import Path

from kivy.event import EventDispatcher
from kivy.metrics import dp, sp
from kivy.properties import BooleanProperty, ListProperty, NumericProperty

# Glyphs from DejaVu Sans, which ships inside Kivy itself (so they exist on the Pi too).
STATUS_GLYPHS = {
    "ok": "\u2714",  # ✔ heavy check mark
    "error": "\u2716",  # ✖ heavy multiplication x
    "attention": "\u26a0",  # ⚠ warning sign
    "info": "\u2139",  # ℹ information source
    "wait": "\u25f7",  # ◷ clock face (DejaVu Sans has no hourglass)
}
# every other glyph the UI draws; a test checks each one exists in the bundled font
OTHER_GLYPHS = ("\u25cf", "\u2610", "\u2611", "\u232b")  # ● ☐ ☑ ⌫

NORMAL = {
    "bg": (0.97, 0.96, 0.93, 1),
    "panel": (1, 1, 1, 1),
    "text": (0.09, 0.09, 0.12, 1),
    "muted": (0.30, 0.30, 0.34, 1),
    "primary": (0.05, 0.33, 0.55, 1),
    "primary_text": (1, 1, 1, 1),
    "secondary": (0.86, 0.87, 0.90, 1),
    "secondary_text": (0.09, 0.09, 0.12, 1),
    "ok": (0.05, 0.45, 0.20, 1),
    "error": (0.70, 0.10, 0.10, 1),
    "attention": (0.62, 0.36, 0.00, 1),
    "banner": (0.99, 0.85, 0.45, 1),
    "banner_text": (0.12, 0.08, 0.0, 1),
    "selected": (0.78, 0.88, 0.97, 1),
    "border": (0.65, 0.65, 0.70, 1),
    "scrim": (0, 0, 0, 0.55),
    # the focus ring: a dark line outside a light one, one of them shows on any colour
    "focus": (0.09, 0.09, 0.12, 1),
    "focus_inner": (1, 0.80, 0.0, 1),
}

HIGH_CONTRAST = {
    "bg": (0, 0, 0, 1),
    "panel": (0, 0, 0, 1),
    "text": (1, 1, 1, 1),
    "muted": (1, 1, 1, 1),
    "primary": (1, 0.92, 0, 1),
    "primary_text": (0, 0, 0, 1),
    "secondary": (0, 0, 0, 1),
    "secondary_text": (1, 1, 1, 1),
    "ok": (0.45, 1, 0.45, 1),
    "error": (1, 0.55, 0.55, 1),
    "attention": (1, 0.92, 0, 1),
    "banner": (1, 0.92, 0, 1),
    "banner_text": (0, 0, 0, 1),
    "selected": (0.1, 0.3, 0.6, 1),
    "border": (1, 1, 1, 1),
    "scrim": (0, 0, 0, 0.8),
    "focus": (0, 1, 1, 1),
    "focus_inner": (0, 0, 0, 1),
}

LARGE_TEXT_SCALE = 1.3


def font_path() -> str:
    """DejaVu Sans from Kivy's own data folder: the same glyphs on every machine."""
    import kivy

    return str(Path(kivy.__file__).parent / "data" / "fonts" / "DejaVuSans.ttf")


def bold_font_path() -> str:
    system = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
    return str(system) if system.exists() else font_path()


def register_fonts() -> None:
    """Make DejaVu Sans the default font so status glyphs (✔ ✖ ⚠) render everywhere."""
    from kivy.core.text import DEFAULT_FONT, LabelBase

    LabelBase.register(DEFAULT_FONT, fn_regular=font_path(), fn_bold=bold_font_path())


class Theme(EventDispatcher):
    high_contrast = BooleanProperty(False)
    large_text = BooleanProperty(False)

    scale = NumericProperty(1.0)
    fs_small = NumericProperty(sp(15))
    fs_body = NumericProperty(sp(18))
    fs_button = NumericProperty(sp(20))
    fs_title = NumericProperty(sp(26))
    fs_huge = NumericProperty(sp(34))
    # at least 48 dp everywhere; 64 dp is the kiosk's normal button height
    target = NumericProperty(dp(64))
    min_target = NumericProperty(dp(48))
    spacing = NumericProperty(dp(10))
    border_width = NumericProperty(dp(1.2))

    bg = ListProperty(NORMAL["bg"])
    panel = ListProperty(NORMAL["panel"])
    text = ListProperty(NORMAL["text"])
    muted = ListProperty(NORMAL["muted"])
    primary = ListProperty(NORMAL["primary"])
    primary_text = ListProperty(NORMAL["primary_text"])
    secondary = ListProperty(NORMAL["secondary"])
    secondary_text = ListProperty(NORMAL["secondary_text"])
    ok = ListProperty(NORMAL["ok"])
    error = ListProperty(NORMAL["error"])
    attention = ListProperty(NORMAL["attention"])
    banner = ListProperty(NORMAL["banner"])
    banner_text = ListProperty(NORMAL["banner_text"])
    selected = ListProperty(NORMAL["selected"])
    border = ListProperty(NORMAL["border"])
    scrim = ListProperty(NORMAL["scrim"])
    focus = ListProperty(NORMAL["focus"])
    focus_inner = ListProperty(NORMAL["focus_inner"])

    def __init__(self, *, high_contrast: bool = False, large_text: bool = False) -> None:
        super().__init__()
        self.bind(high_contrast=self._apply_colours, large_text=self._apply_sizes)
        self.high_contrast = high_contrast
        self.large_text = large_text
        self._apply_colours()
        self._apply_sizes()

    def _apply_colours(self, *_args: object) -> None:
        palette = HIGH_CONTRAST if self.high_contrast else NORMAL
        for name, colour in palette.items():
            setattr(self, name, colour)
        self.border_width = dp(2.5) if self.high_contrast else dp(1.2)

    def _apply_sizes(self, *_args: object) -> None:
        s = LARGE_TEXT_SCALE if self.large_text else 1.0
        self.scale = s
        self.fs_small = sp(15) * s
        self.fs_body = sp(18) * s
        self.fs_button = sp(20) * s
        self.fs_title = sp(26) * s
        self.fs_huge = sp(34) * s
        self.target = dp(64) * (1.15 if self.large_text else 1.0)

    def status_colour(self, status: str) -> list[float]:
        return list({"ok": self.ok, "error": self.error, "attention": self.attention}.get(
            status, self.text))
