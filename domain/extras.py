"""A command whose optional dependencies are not installed says which extra to install,
instead of a traceback: a kiosk's install (`library-kiosk[pi]`) has no web framework, so
`kiosk demo` or `kiosk-central` run there must tell the technician what is missing."""

from __future__ import annotations

import sys

# the modules each extra brings (pyproject.toml's optional-dependencies)
EXTRA_OF_MODULE = {"fastapi": "central", "uvicorn": "central", "starlette": "central",
                   "tomli_w": "central", "psycopg": "postgres", "psycopg_pool": "postgres",
                   "kivy": "ui", "smartcard": "cards"}


def missing_extra(exc: ModuleNotFoundError, command: str, extra: str) -> str | None:
    """The sentence for a module of one of our extras, or None for any other module (a bug
    that the traceback should show)."""
    top = (exc.name or "").split(".")[0]
    if top not in EXTRA_OF_MODULE:
        return None
    wanted = extra if EXTRA_OF_MODULE[top] != "postgres" else "postgres"
    return (f"{command}: {top} is not installed; {command} needs the [{wanted}] extra: "
            f"pip install 'library-kiosk[{wanted}]'")


def explain_missing(exc: ModuleNotFoundError, command: str, extra: str) -> int:
    """Say which extra to install and give the exit code 2; re-raise what is not ours."""
    message = missing_extra(exc, command, extra)
    if message is None:
        raise exc
    print(message, file=sys.stderr)
    return 2
