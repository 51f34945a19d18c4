"""Typed kiosk settings from TOML, with environment overrides, validated all at once.

Why validate everything before starting: a technician editing a config on a kiosk in a branch
library should see every mistake in one go (file, key, what was expected), not one per restart.
`load()` raises `ConfigError` carrying the full list of `Problem`s; `kiosk config check` prints it.

Secrets (the API token) never need to sit in the TOML: `token_env` names an environment variable,
`token_file` a file that only its owner may read (a world-readable secret is refused).

Environment overrides: `KIOSK__SECTION__KEY=value` (double underscores; nested device tables as
`KIOSK__DEVICES__PRINTER__TARGET`). The value is parsed as TOML when it can be, else a string.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import stat
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from domain import profiles
from domain.logs import LEVELS, STYLES
from domain.opening import BadOpeningDays, OpenDays
from kiosk.circulation import OfflinePolicy


@dataclass(frozen=True, slots=True)
class Problem:
    file: str
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: " if self.file else ""
        return f"{where}{self.key or '(file)'}: {self.message}"


class ConfigError(Exception):
    """The configuration has problems; `problems` lists every one of them."""

    def __init__(self, problems: list[Problem], *, settings: Settings | None = None) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems
        self.settings = settings  # what could be read, so later checks ([devices.*]) still run


@dataclass(frozen=True)
class KioskSection:
    id: str = "kiosk-1"
    name: str = "Kiosk"
    branch: str = ""
    data_dir: str = "var"
    language: str = "nl"
    languages: list[str] = field(default_factory=lambda: ["nl", "fr", "de", "en"])


@dataclass(frozen=True)
class LibrarySection:
    name: str = "Bibliotheek"
    isils: list[str] = field(default_factory=list)
    opening_hours: list[str] = field(default_factory=list)
    card_barcode_prefixes: list[str] = field(default_factory=list)
    # the days the library is closed (weekday names, ISO days): no date the kiosk gives a
    # patron (an offline due date, the last day to pick up a hold) falls on one of them
    closed_weekdays: list[str] = field(default_factory=list)
    closed_dates: list[str] = field(default_factory=list)

    def open_days(self) -> OpenDays:
        """Raises BadOpeningDays; `load` has reported that already for a loaded config."""
        return OpenDays.parse(self.closed_weekdays, self.closed_dates)


@dataclass(frozen=True)
class BackendSection:
    type: str = "rest"
    url: str = ""
    token: str = ""
    token_env: str = ""
    token_file: str = ""
    connect_timeout_s: float = 3.05
    timeout_s: float = 10.0
    verify_tls: bool = True


@dataclass(frozen=True)
class SessionSection:
    timeout_s: float = 60.0
    # at least 20 s to answer "are you still there?" (WCAG 2.2.1 / EN 301 549 5.2); the
    # patron's "I need more time" doubles both for the rest of the visit
    warning_s: float = 20.0
    goodbye_s: float = 4.0
    require_pin: bool = False
    auto_print_on_timeout: bool = False
    # the longest a patron waits for one action before the offline policy answers
    patron_wait_s: float = 5.0
    # the most items sent as one stack (one journal commit, one request); a bigger pile goes
    # as several stacks. 1 sends item by item (an ILS that dislikes bursts, or a baseline)
    max_stack: int = 50


@dataclass(frozen=True)
class JournalSection:
    path: str = ""
    retention_s: float = 0.0
    min_free_mb: float = 5.0
    reserve_mb: float = 2.0
    conflict_max_days: float = 30.0


@dataclass(frozen=True)
class SyncSection:
    batch_size: int = 100
    heartbeat_s: float = 30.0
    backoff_base_s: float = 1.0
    backoff_max_s: float = 300.0
    recheck_s: float = 30.0
    poison_after: int = 5


@dataclass(frozen=True)
class StatusSection:
    listen: str = "127.0.0.1:8787"
    token_env: str = ""
    token_file: str = ""


@dataclass(frozen=True)
class UiSection:
    large_text: bool = False
    high_contrast: bool = False
    audio_cues: bool = True
    fullscreen: bool = False
    window_size: list[int] = field(default_factory=lambda: [1024, 600])
    # where the card reader and the item pad are, seen from the patron facing the screen:
    # the idle screen points there ("left", "right", "below", "above")
    card_reader_at: str = "right"
    pad_at: str = "below"


@dataclass(frozen=True)
class SpeechSection:
    enabled: bool = True  # a voice is available (espeak-ng); patrons switch it on
    always_on: bool = False  # every patron hears every screen without asking
    rate: int = 150  # words per minute (80..260)
    volume: int = 100  # espeak-ng amplitude (20..200)
    device: str = ""  # ALSA device for aplay ("" = the default output)


@dataclass(frozen=True)
class EmailSection:
    """Receipts by e-mail through the library's SMTP relay (kiosk/receipt_mail.py)."""

    enabled: bool = False
    host: str = ""
    port: int = 587
    starttls: bool = True  # always, unless the relay is on this machine
    username: str = ""
    password_file: str = ""  # mode 0600, like the API token file; never the password itself
    from_address: str = ""
    ca_file: str = ""  # the relay's CA when it is the library's own ("" = the system's)
    timeout_s: float = 10.0


@dataclass(frozen=True)
class InsightsSection:
    """What the kiosk tells the library about its visits (kiosk/visits.py, anonymous)."""

    enabled: bool = True  # record visits and send them to the central service (REST only)
    feedback: bool = True  # ask "How did it go?" on the goodbye screen
    feedback_every: int = 1  # ask every Nth visit that did something (1: every visit)


@dataclass(frozen=True)
class LoggingSection:
    """Where the kiosk's log goes (domain/logs.py): the journal, JSON lines or text."""

    format: str = "auto"  # journal under systemd, text at a terminal
    level: str = "info"


@dataclass(frozen=True)
class TechnicianSection:
    pin_hash: str = ""


@dataclass(frozen=True)
class ProfileSection:
    """The central profile (kiosk/profile.py) is laid over this file, except what is pinned
    here: "offline.allow_checkout" keeps one key local, "devices.printer" or "library" a
    whole device or section."""

    pinned: list[str] = field(default_factory=list)
    # a profile counts as good once the kiosk has run this long with it (two watchdog periods)
    confirm_after_s: float = 60.0


@dataclass(frozen=True)
class Settings:
    kiosk: KioskSection = field(default_factory=KioskSection)
    library: LibrarySection = field(default_factory=LibrarySection)
    backend: BackendSection = field(default_factory=BackendSection)
    session: SessionSection = field(default_factory=SessionSection)
    offline: OfflinePolicy = field(default_factory=OfflinePolicy)  # [offline] is the policy
    journal: JournalSection = field(default_factory=JournalSection)
    sync: SyncSection = field(default_factory=SyncSection)
    status: StatusSection = field(default_factory=StatusSection)
    technician: TechnicianSection = field(default_factory=TechnicianSection)
    ui: UiSection = field(default_factory=UiSection)
    speech: SpeechSection = field(default_factory=SpeechSection)
    email: EmailSection = field(default_factory=EmailSection)
    insights: InsightsSection = field(default_factory=InsightsSection)
    logging: LoggingSection = field(default_factory=LoggingSection)
    profile: ProfileSection = field(default_factory=ProfileSection)
    # free-form tables handed to the driver and protocol modules, which validate their own keys
    devices: dict[str, dict[str, Any]] = field(default_factory=dict)
    sip2: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    api_token: str = field(default="", repr=False)

    @property
    def journal_path(self) -> Path:
        return Path(self.journal.path) if self.journal.path else Path(self.kiosk.data_dir) / (
            "journal.db"
        )


_CHOICES: dict[tuple[str, str], tuple[str, ...]] = {
    ("backend", "type"): ("rest", "sip2"),
    ("offline", "patron_check"): ("cache", "format"),
    ("kiosk", "language"): ("nl", "fr", "de", "en"),
    ("ui", "card_reader_at"): ("left", "right", "below", "above"),
    ("ui", "pad_at"): ("left", "right", "below", "above"),
    ("logging", "format"): STYLES,
    ("logging", "level"): LEVELS,
}
_FREE_FORM = {"devices", "sip2"}


def load(path: str | os.PathLike[str] | None = None, *,
         environ: Mapping[str, str] | None = None,
         overlay: Mapping[str, Any] | None = None) -> Settings:
    """Read, lay the central profile `overlay` over it (but for the keys the file pins),
    override from the environment, validate; raise ConfigError listing every problem."""
    environ = os.environ if environ is None else environ
    problems: list[Problem] = []
    source = str(path) if path is not None else ""
    raw: dict[str, Any] = {}
    if path is not None:
        raw = _read_toml(Path(path), problems)
    unreadable = bool(problems)
    if overlay and not unreadable:
        raw = profiles.merge(raw, profiles.without(overlay, _pinned(raw)))
    _apply_env(raw, environ, problems)
    settings = None if unreadable else _build(raw, source, problems)
    if settings is not None:
        token = _resolve_token(settings, source, environ, problems)
        _check_semantics(settings, source, problems)
        settings = dataclasses.replace(settings, api_token=token)
    if problems:
        raise ConfigError(problems, settings=settings)
    if settings is None:
        raise ConfigError([Problem(source, "", "configuration could not be read")])
    return settings


def _pinned(raw: dict[str, Any]) -> list[str]:
    table = raw.get("profile")
    pinned = table.get("pinned") if isinstance(table, dict) else None
    return [p for p in pinned if isinstance(p, str)] if isinstance(pinned, list) else []


def check(path: str | os.PathLike[str] | None, *,
          environ: Mapping[str, str] | None = None) -> list[Problem]:
    try:
        load(path, environ=environ)
    except ConfigError as exc:
        return exc.problems
    return []


def _read_toml(path: Path, problems: list[Problem]) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        problems.append(Problem(str(path), "", f"cannot read the file ({exc.strerror})"))
        return {}
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        problems.append(Problem(str(path), "", "the file is not UTF-8 text"))
    except tomllib.TOMLDecodeError as exc:
        problems.append(Problem(str(path), "", f"not valid TOML (half-written?): {exc}"))
    except RecursionError:
        problems.append(Problem(str(path), "", "not a kiosk config: arrays or tables nested "
                                               "hundreds deep"))
    return {}


def _apply_env(raw: dict[str, Any], environ: Mapping[str, str], problems: list[Problem]) -> None:
    for name, value in environ.items():
        if not name.startswith("KIOSK__"):
            continue
        parts = [p.lower() for p in name.split("__")[1:] if p]
        if len(parts) < 2:
            problems.append(Problem("environment", name, "use KIOSK__SECTION__KEY=value"))
            continue
        try:
            parsed: Any = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            parsed = value
        table = raw
        for part in parts[:-1]:
            table = table.setdefault(part, {})
            if not isinstance(table, dict):
                problems.append(Problem("environment", name, f"{part} is not a table"))
                break
        else:
            table[parts[-1]] = parsed


def _build(raw: dict[str, Any], source: str, problems: list[Problem]) -> Settings:
    """Bad keys are reported and left at their defaults, so later checks still run."""
    kwargs: dict[str, Any] = {}
    section_types = typing.get_type_hints(Settings)
    for section, value in raw.items():
        if section not in section_types or section in ("source", "api_token"):
            problems.append(Problem(source, section, _unknown(section, _sections())))
            continue
        if not isinstance(value, dict):
            problems.append(Problem(source, section, "expected a table [section]"))
            continue
        if section in _FREE_FORM:
            kwargs[section] = _free_form(section, value, source, problems)
            continue
        kwargs[section] = _section(section, section_types[section], value, source, problems)
    return Settings(source=source, **kwargs)


def _sections() -> list[str]:
    return [f.name for f in dataclasses.fields(Settings) if f.name not in ("source", "api_token")]


def _unknown(key: str, known: list[str]) -> str:
    return f"unknown key {key!r}; expected one of: {', '.join(sorted(known))}"


def _free_form(section: str, value: dict[str, Any], source: str,
               problems: list[Problem]) -> dict[str, Any]:
    if section == "devices":
        for name, table in value.items():
            if not isinstance(table, dict):
                problems.append(Problem(source, f"devices.{name}", "expected a table"))
    return value


def _section(name: str, cls: type, value: dict[str, Any], source: str,
             problems: list[Problem]) -> Any:
    hints = typing.get_type_hints(cls)
    good: dict[str, Any] = {}
    for key, item in value.items():
        dotted = f"{name}.{key}"
        if key not in hints:
            problems.append(Problem(source, dotted, _unknown(key, list(hints))))
            continue
        message = _type_problem(item, hints[key])
        if message:
            problems.append(Problem(source, dotted, message))
            continue
        choices = _CHOICES.get((name, key))
        if choices and item not in choices:
            problems.append(Problem(source, dotted, f"expected one of {', '.join(choices)}; "
                                                    f"got {item!r}"))
            continue
        good[key] = float(item) if hints[key] is float else item
    return cls(**good)


def _type_problem(value: Any, expected: Any) -> str:
    origin = typing.get_origin(expected)
    if origin in (list, types.GenericAlias) or expected is list:
        if not isinstance(value, list):
            return f"expected a list, got {_kind(value)}"
        (inner,) = typing.get_args(expected) or (Any,)
        bad = [v for v in value if inner is not Any and not isinstance(v, inner)]
        return f"expected a list of {inner.__name__}, got {_kind(bad[0])} inside" if bad else ""
    if expected is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if ok and not (abs(value) < _HUGE and math.isfinite(value)):
            return f"expected a finite number of sensible size, got {_kind(value)[:60]}"
        return "" if ok else f"expected a number, got {_kind(value)}"
    if expected is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        if ok and abs(value) >= _HUGE:
            return f"expected a whole number of sensible size, got {_kind(value)[:60]}"
        return "" if ok else f"expected a whole number, got {_kind(value)}"
    if expected is bool:
        return "" if isinstance(value, bool) else f"expected true or false, got {_kind(value)}"
    if expected is str:
        return "" if isinstance(value, str) else f"expected text in quotes, got {_kind(value)}"
    return ""


_HUGE = 10**12  # no setting of a kiosk is this large; TOML allows any number of digits


def _kind(value: Any) -> str:
    names = {bool: "true/false", int: "a number", float: "a number", str: "text",
             list: "a list", dict: "a table"}
    return f"{names.get(type(value), type(value).__name__)} ({value!r})"


def _resolve_token(settings: Settings, source: str, environ: Mapping[str, str],
                   problems: list[Problem]) -> str:
    b = settings.backend
    if b.type != "rest":
        return ""
    if b.token_env:
        token = environ.get(b.token_env, "")
        if not token:
            problems.append(Problem(source, "backend.token_env",
                                    f"environment variable {b.token_env} is not set"))
        return token
    if b.token_file:
        return _read_secret(Path(b.token_file), source, "backend.token_file", problems)
    if b.token:
        return b.token
    problems.append(Problem(source, "backend.token",
                            "missing API token: set token_env, token_file or token"))
    return ""


def _read_secret(path: Path, source: str, key: str, problems: list[Problem]) -> str:
    try:
        info = path.stat()
        if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            problems.append(Problem(source, key, (
                f"secret file {path} can be read by others (mode {stat.filemode(info.st_mode)});"
                f" run: chmod 600 {path}")))
            return ""
        token = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        problems.append(Problem(source, key, f"cannot read secret file {path} ({exc.strerror})"))
        return ""
    if not token:
        problems.append(Problem(source, key, f"secret file {path} is empty"))
    return token


def _check_session(session: SessionSection, source: str, problems: list[Problem]) -> None:
    for key in ("timeout_s", "warning_s", "patron_wait_s"):
        if getattr(session, key) <= 0:
            problems.append(Problem(source, f"session.{key}", "expected a positive number"))
    if session.max_stack < 1:
        problems.append(Problem(source, "session.max_stack", "expected 1 or more"))


def _check_email(email: EmailSection, source: str, problems: list[Problem]) -> None:
    if not email.enabled:
        return
    for key in ("host", "from_address"):
        if not getattr(email, key):
            problems.append(Problem(source, f"email.{key}", "needed to send receipts by e-mail"))
    if email.username and not email.password_file:
        problems.append(Problem(source, "email.password_file",
                                "a username needs its password in a file (mode 0600)"))
    if email.password_file:
        path = Path(email.password_file)
        if not path.is_file():
            problems.append(Problem(source, "email.password_file", f"no file {path}"))
        elif path.stat().st_mode & 0o077:
            problems.append(Problem(source, "email.password_file",
                                    f"{path} can be read by others: chmod 600 it"))


def _check_semantics(settings: Settings, source: str, problems: list[Problem]) -> None:
    if settings.backend.type == "rest" and not settings.backend.url.startswith(
        ("https://", "http://")
    ):
        problems.append(Problem(source, "backend.url",
                                "expected the catalog API address, e.g. https://catalog.example/"))
    if settings.backend.type == "sip2" and not settings.sip2:
        problems.append(Problem(source, "sip2", "backend.type is sip2: add a [sip2] table"))
    if settings.kiosk.language not in settings.kiosk.languages:
        problems.append(Problem(source, "kiosk.language",
                                "the default language must be one of kiosk.languages"))
    _check_session(settings.session, source, problems)
    try:
        settings.library.open_days()
    except BadOpeningDays as exc:
        problems.append(Problem(source, "library.closed_weekdays / closed_dates", str(exc)))
    _check_email(settings.email, source, problems)
    if not 1 <= settings.insights.feedback_every <= 1000:
        problems.append(Problem(source, "insights.feedback_every",
                                "expected 1 (every visit) to 1000"))
    if not 1 <= settings.offline.loan_days <= 366:
        problems.append(Problem(source, "offline.loan_days", "expected 1 to 366 days"))
    if len(settings.ui.window_size) != 2 or min(settings.ui.window_size, default=0) < 320:
        problems.append(Problem(source, "ui.window_size", "expected [width, height] in pixels"))
    try:
        re.compile(settings.offline.card_pattern)
    except (re.error, RecursionError, OverflowError) as exc:
        problems.append(Problem(source, "offline.card_pattern",
                                f"not a valid regular expression: {exc}"))
    listen = settings.status.listen
    host, sep, port = listen.rpartition(":")
    if listen and (not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536):
        problems.append(Problem(source, "status.listen",
                                f"expected host:port, e.g. 127.0.0.1:8787; got {listen!r}"))
    if settings.sync.poison_after < 1:
        problems.append(Problem(source, "sync.poison_after", "expected 1 or more"))
    if settings.offline.max_items_per_patron < 0:
        problems.append(Problem(source, "offline.max_items_per_patron", "expected 0 or more"))
