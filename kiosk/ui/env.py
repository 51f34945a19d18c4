"""Kivy settings that must be in place before the first `import kivy.core.window`.

Raspberry Pi, full screen, no desktop (SDL2 straight on KMS/DRM), set in the systemd unit::

    KIVY_WINDOW=sdl2  SDL_VIDEODRIVER=kmsdrm  KIVY_GL_BACKEND=sdl2
    KIVY_NO_ARGS=1    KIVY_HOME=/var/lib/kiosk/kivy   KIVY_LOG_MODE=PYTHON
    KIVY_METRICS_DENSITY=1   (or what suits the panel; dp sizes scale with it)
    # the touchscreen is read through the kernel's multitouch device:
    KIOSK_UI_TOUCH=probesysfs,provider=mtdev   (or provider=hidinput)

and `fullscreen = true` in the UI settings (`UiConfig.fullscreen`). The user running the
kiosk needs to be in the `video`, `render` and `input` groups.

Desktop (development, demo): nothing to set; a window of `UiConfig.window_size` opens.

Tests and screenshots without a display: `Xvfb :99 -screen 0 1280x800x24 -nolisten tcp` and
`DISPLAY=:99`, or, without Xvfb, `SDL_VIDEODRIVER=offscreen KIVY_WINDOW=sdl2`
(`SDL_VIDEODRIVER=dummy` has no OpenGL and cannot draw).
"""

from __future__ import annotations

import os

from kiosk.ui.context import UiConfig


def configure(config: UiConfig, *, max_fps: int = 60) -> None:
    """Window size, full screen, no exit on Escape, touch input. Call before Kivy's Window.

    `max_fps=0` lets frames run back to back (tests that pump frames by hand); the kiosk
    keeps 60 so an idle screen does not burn the Pi's CPU.
    """
    os.environ.setdefault("KIVY_NO_ARGS", "1")  # Kivy must not parse the kiosk's command line
    os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")
    from kivy.config import Config

    Config.set("kivy", "exit_on_escape", "0")  # a patron pressing Esc must not close the kiosk
    Config.set("kivy", "keyboard_mode", "system")
    Config.set("kivy", "log_enable", "0")
    Config.set("input", "mouse", "mouse,disable_multitouch")
    touch = os.environ.get("KIOSK_UI_TOUCH")
    if touch:
        Config.set("input", "touchscreen", touch)
    if config.fullscreen:
        Config.set("graphics", "fullscreen", "auto")
        Config.set("graphics", "show_cursor", "0")
        Config.set("graphics", "borderless", "1")
    else:
        Config.set("graphics", "fullscreen", "0")
        width, height = config.window_size
        Config.set("graphics", "width", str(width))
        Config.set("graphics", "height", str(height))
    Config.set("graphics", "resizable", "1")
    Config.set("graphics", "maxfps", str(max_fps))
