"""Where the kiosk's and the central service's logs go, and in what shape.

Why one module for both: a technician reads a kiosk and the central service in the same
journal, filters both by the same fields (`journalctl KIOSK_ID=... EVENT=...`) and sets both
with the same word. The styles:

- ``journal``: systemd's own JournalHandler (systemd-python) sends each record with its
  priority and fields; without that module, stderr lines start with journald's `<N>` priority
  prefix and carry no timestamp of ours (the journal has its own).
- ``json``: one JSON object a line on stderr, for a container's log shipper.
- ``text``: timestamped lines for a terminal.
- ``auto``: ``journal`` when systemd connected our stderr to the journal (JOURNAL_STREAM
  names it), else ``text``.

Fields are passed as ``extra={"event": ..., "txn_id": ...}`` (`FIELDS`); the service's own
(its kiosk id) are added to every record. A patron identifier is never a field: the privacy
rules for messages hold for fields too. tests/ops/test_logs.py reads records back from a real
systemd-journald.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

STYLES = ("auto", "journal", "json", "text")
LEVELS = ("debug", "info", "warning", "error")
FIELDS = ("kiosk_id", "event", "txn_id")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_OURS = "_kiosk_log_handler"  # marks the handler we installed, so configuring again replaces it


def priority(levelno: int) -> int:
    """syslog's priorities, as journald and every log shipper know them."""
    if levelno >= logging.CRITICAL:
        return 2
    if levelno >= logging.ERROR:
        return 3
    if levelno >= logging.WARNING:
        return 4
    if levelno >= logging.INFO:
        return 6
    return 7


def under_journald(environ: Mapping[str, str] | None = None) -> bool:
    """systemd sets JOURNAL_STREAM=device:inode for a service whose stderr is the journal;
    a child with stderr redirected elsewhere inherits the variable but not the stream."""
    stream = (os.environ if environ is None else environ).get("JOURNAL_STREAM", "")
    device, _, inode = stream.partition(":")
    if not inode:
        return False
    try:
        st = os.fstat(sys.stderr.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return (str(st.st_dev), str(st.st_ino)) == (device, inode)


def style_from_environment(name: str, environ: Mapping[str, str] | None = None) -> str:
    """A style named by an environment variable; a word we do not know means ``auto`` (a typo
    in a unit file must not keep the service from starting)."""
    style = (os.environ if environ is None else environ).get(name, "auto")
    return style if style in STYLES else "auto"


def _fields(record: logging.LogRecord) -> dict[str, str]:
    return {name: str(getattr(record, name)) for name in FIELDS
            if getattr(record, name, None) not in (None, "")}


class ServiceFields(logging.Filter):
    """Puts the service's own fields on every record that did not bring its own."""

    def __init__(self, defaults: Mapping[str, str]) -> None:
        super().__init__()
        self.defaults = {k: v for k, v in defaults.items() if k in FIELDS and v}

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in self.defaults.items():
            if getattr(record, name, None) in (None, ""):
                setattr(record, name, value)
        return True


class JournalFields(logging.Filter):
    """The journal's field names are capitals: KIOSK_ID, EVENT, TXN_ID."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in _fields(record).items():
            setattr(record, name.upper(), value)
        return True


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "priority": priority(record.levelno),
            "logger": record.name,
            "message": record.getMessage(),
            **_fields(record),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class JournalPrefixed(logging.Formatter):
    """stderr to journald without systemd-python: `<N>` gives the priority (journald's
    SyslogLevelPrefix), the fields follow the message as key=value."""

    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{k}={v}" for k, v in _fields(record).items())
        text = f"{record.name}: {record.getMessage()}" + (f" [{fields}]" if fields else "")
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        # one journal entry a line: continuation lines keep the priority
        return "\n".join(f"<{priority(record.levelno)}>{line}" for line in text.splitlines())


def _journal_handler(identifier: str) -> logging.Handler:
    try:
        from systemd.journal import JournalHandler  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        handler: logging.Handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JournalPrefixed())
        return handler
    handler = JournalHandler(SYSLOG_IDENTIFIER=identifier)
    handler.addFilter(JournalFields())
    return handler


def make_handler(style: str, *, identifier: str) -> logging.Handler:
    if style not in STYLES:
        raise ValueError(f"unknown log style {style!r}; expected one of: {', '.join(STYLES)}")
    if style == "auto":
        style = "journal" if under_journald() else "text"
    if style == "journal":
        return _journal_handler(identifier)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines() if style == "json" else logging.Formatter(TEXT_FORMAT))
    return handler


def configure(style: str = "auto", *, level: str | int = "info", identifier: str,
              fields: Mapping[str, str] | None = None) -> logging.Handler:
    """Installs one handler on the root logger, replacing the one installed before (the
    kiosk sets its style once it has read its config)."""
    handler = make_handler(style, identifier=identifier)
    handler.filters.insert(0, ServiceFields(fields or {}))  # before JournalFields copies them
    setattr(handler, _OURS, True)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _OURS, False)]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    return handler
