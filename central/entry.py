"""The `kiosk-central` command's entry point: the service's modules import its web framework,
so on an install without the [central] extra (a kiosk's) the command says what to install
instead of showing a traceback."""

from __future__ import annotations

from domain.extras import explain_missing


def main() -> int:
    try:
        from central.cli import main as run
    except ModuleNotFoundError as exc:
        return explain_missing(exc, "kiosk-central", "central")
    return run()
