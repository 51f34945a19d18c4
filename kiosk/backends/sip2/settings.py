"""`Sip2Settings`: everything that differs between SIP2 servers, read from `[sip2]`.

Real ACS implementations (Koha, Evergreen, FOLIO edge-sip2, OCLC Wise,
SirsiDynix ...) disagree on framing, character sets, which fields they need
and how they fill counts. Each difference is one named key here, so a site
is configured, not patched. `from_mapping` rejects unknown keys and wrong
types with a `Sip2ConfigError` naming the key, because a typo in a kiosk's
TOML should stop the technician, not a patron.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime, tzinfo
from types import UnionType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class Sip2ConfigError(ValueError):
    """The `[sip2]` table is wrong; the message names the key."""


class HoldCounting(enum.StrEnum):
    """What the server lists in AS (hold items) of a 64 patron information response."""

    # AS lists only holds waiting on the shelf; CD lists the ones not yet available.
    READY_ONLY = "ready_only"
    # AS lists every hold; readiness is read per item from 17 (status 08 = on hold shelf).
    ALL = "all"


class PatronPasswordMode(enum.StrEnum):
    VERIFY = "verify"  # send the PIN as AD and require CQ=Y
    OMIT = "omit"  # never send AD; the server does not check PINs


SUMMARY_POSITIONS = {
    "hold": 0,
    "overdue": 1,
    "charged": 2,
    "fine": 3,
    "recall": 4,
    "unavailable_holds": 5,
}

TERMINATORS = {"CR": b"\r", "CRLF": b"\r\n"}
CHARSETS = {"cp850": "cp850", "latin-1": "latin-1", "utf-8": "utf-8"}


@dataclass(frozen=True, slots=True)
class Sip2Settings:
    """One SIP2 connection's settings; see config/sip2-*.toml for every key explained."""

    host: str
    port: int = 6001
    tls: bool = False
    tls_verify: bool = True
    tls_ca_file: str = ""
    tls_server_name: str = ""
    login_required: bool = True
    login_user: str = ""
    login_password: str = field(default="", repr=False)
    login_password_env: str = ""
    location_code: str = ""
    institution_id: str = ""
    terminal_password: str = field(default="", repr=False)
    send_terminal_password: bool = True
    patron_password: PatronPasswordMode = PatronPasswordMode.VERIFY
    error_detection: bool = True
    terminator: str = "CR"
    charset: str = "cp850"
    server_timezone: str = ""
    send_utc_dates: bool = False
    no_block_replays: bool = True
    no_block_due_days: int = 21
    summary_flags: tuple[str, ...] = ("hold", "charged", "fine")
    hold_counting: HoldCounting = HoldCounting.READY_ONLY
    language: str = "000"
    max_print_width: int = 40
    connect_timeout_s: float = 5.0
    timeout_s: float = 10.0
    use_acs_timeout: bool = True
    retries: int = 2
    status_interval_s: float = 60.0
    # logged-in connections a stack's checkouts share (most ILSs accept several logins per
    # kiosk account); 1 sends one item after the other. See kiosk/backends/sip2/parallel.py
    connections: int = 1

    def __post_init__(self) -> None:
        _require(bool(self.host), "host", "must name the SIP2 server (host name or IP)")
        _require(0 < self.port < 65536, "port", f"{self.port} is not a TCP port")
        _require(self.terminator in TERMINATORS, "terminator",
                 f"must be one of {sorted(TERMINATORS)}")
        _require(self.charset in CHARSETS, "charset", f"must be one of {sorted(CHARSETS)}")
        for flag in self.summary_flags:
            _require(flag in SUMMARY_POSITIONS, "summary_flags",
                     f"{flag!r} is not one of {sorted(SUMMARY_POSITIONS)}")
        _require(len(self.language) == 3 and self.language.isdigit(), "language",
                 "must be a 3-digit SIP2 language code such as '000'")
        _require(0 <= self.max_print_width <= 999, "max_print_width", "must be 0..999")
        _require(self.connect_timeout_s > 0, "connect_timeout_s", "must be > 0")
        _require(self.timeout_s > 0, "timeout_s", "must be > 0")
        _require(0 <= self.retries <= 9, "retries", "must be 0..9")
        _require(self.status_interval_s > 0, "status_interval_s", "must be > 0")
        _require(1 <= self.connections <= 8, "connections", "must be 1..8")
        _require(self.no_block_due_days >= 0, "no_block_due_days", "must be >= 0")
        if self.login_required:
            _require(bool(self.login_user), "login_user",
                     "is needed when login_required = true")
        if self.server_timezone:
            try:
                ZoneInfo(self.server_timezone)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise Sip2ConfigError(
                    f"sip2.server_timezone: {self.server_timezone!r} is not a known time zone"
                ) from exc

    @classmethod
    def from_mapping(cls, table: Mapping[str, object], *,
                     environ: Mapping[str, str] | None = None) -> Sip2Settings:
        """Build from the `[sip2]` TOML table, checking names and types.

        `login_password_env` names an environment variable holding the SIP2
        password, so the secret need not sit in the TOML file.
        """
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(table) - set(known))
        if unknown:
            raise Sip2ConfigError(f"sip2: unknown key(s) {unknown}; known: {sorted(known)}")
        values: dict[str, object] = {}
        for name, raw in table.items():
            values[name] = _convert(name, raw, _KINDS[name])
        if "host" not in values:
            raise Sip2ConfigError("sip2.host: missing (the SIP2 server's host name or IP)")
        env_name = values.get("login_password_env")
        if env_name:
            env = os.environ if environ is None else environ
            if str(env_name) not in env:
                raise Sip2ConfigError(
                    f"sip2.login_password_env: environment variable {env_name} is not set")
            values["login_password"] = env[str(env_name)]
        return cls(**values)  # type: ignore[arg-type]

    @property
    def terminator_bytes(self) -> bytes:
        return TERMINATORS[self.terminator]

    @property
    def codec_charset(self) -> str:
        return CHARSETS[self.charset]

    @property
    def tz(self) -> tzinfo:
        """The server's time zone (the kiosk's own when not configured)."""
        if self.server_timezone:
            return ZoneInfo(self.server_timezone)
        local = datetime.now().astimezone().tzinfo
        return local if local is not None else ZoneInfo("UTC")

    def summary_supported(self, flag: str) -> bool:
        return flag in self.summary_flags


# The TOML type each key takes; kept beside the dataclass so from_mapping stays generic.
_KINDS: dict[str, object] = {
    "host": str, "port": int, "tls": bool, "tls_verify": bool, "tls_ca_file": str,
    "tls_server_name": str, "login_required": bool, "login_user": str,
    "login_password": str, "login_password_env": str, "location_code": str, "institution_id": str,
    "terminal_password": str, "send_terminal_password": bool,
    "patron_password": PatronPasswordMode, "error_detection": bool, "terminator": str,
    "charset": str, "server_timezone": str, "send_utc_dates": bool,
    "no_block_replays": bool, "no_block_due_days": int, "summary_flags": tuple,
    "hold_counting": HoldCounting, "language": str, "max_print_width": int,
    "connect_timeout_s": float, "timeout_s": float, "use_acs_timeout": bool,
    "retries": int, "status_interval_s": float, "connections": int,
}


def _require(ok: bool, key: str, why: str) -> None:
    if not ok:
        raise Sip2ConfigError(f"sip2.{key}: {why}")


def _is_number(value: object, kinds: type | UnionType) -> bool:
    return isinstance(value, kinds) and not isinstance(value, bool)


# the plain kinds of setting: what a value must be, as the error says it, and the conversion
_PLAIN: dict[object, tuple[Callable[[object], bool], str, Callable[[Any], object]]] = {
    bool: (lambda v: isinstance(v, bool), "true or false", lambda v: v),
    int: (lambda v: _is_number(v, int), "a whole number", lambda v: v),
    float: (lambda v: _is_number(v, int | float), "a number", float),
    str: (lambda v: isinstance(v, str), "text", lambda v: v),
    tuple: (lambda v: isinstance(v, list | tuple) and all(isinstance(x, str) for x in v),
            "a list of names", tuple),
}


def _convert(name: str, raw: object, kind: object) -> object:
    where = f"sip2.{name}"
    plain = _PLAIN.get(kind)
    if plain is not None:
        accepts, expected, convert = plain
        if not accepts(raw):
            raise Sip2ConfigError(f"{where}: expected {expected}, got {raw!r}")
        return convert(raw)
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        try:
            return kind(raw)
        except ValueError:
            choices = [m.value for m in kind]
            raise Sip2ConfigError(f"{where}: {raw!r} is not one of {choices}") from None
    raise Sip2ConfigError(f"{where}: unsupported setting type")  # pragma: no cover
