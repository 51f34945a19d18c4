"""The central service's two database engines, for tests that look into (or tamper with) its
database beside it: `direct(location)` is a connection to a SQLite file or a PostgreSQL URL,
committed when the `with` block ends, speaking the same SQL either way."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from central.db import is_url

ENGINES = ("sqlite", "postgresql")


@contextlib.contextmanager
def direct(location: str | Path) -> Iterator[Any]:
    if is_url(location):
        import psycopg

        from central.postgres import PgConnection, row_factory

        with psycopg.connect(str(location), cursor_factory=psycopg.ClientCursor,
                             row_factory=row_factory) as raw:
            yield PgConnection(raw)
        return
    with contextlib.closing(sqlite3.connect(location)) as conn, conn:
        yield conn
