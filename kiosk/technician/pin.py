"""The technician PIN: a salted scrypt hash in the config, and a lock after five wrong tries.

Why a hash and not the PIN: the config file sits on an SD card in a public building; whoever
pulls the card must not learn the PIN that opens technician mode on every kiosk of the library.
Why a lock: a PIN of four to eight digits falls to patient guessing on a touchscreen; five wrong
tries lock technician mode for five minutes, each further lock twice as long (up to a day). The
lock survives a restart of the application (it is kept in a small file in the data directory),
so pulling the plug does not reset it.

`kiosk config set-pin [FILE]` reads the PIN twice from the terminal without echo and writes
`[technician] pin_hash = "..."` into FILE, changing nothing else in it. The PIN is never
printed, logged or stored in clear.
"""

from __future__ import annotations

import base64
import getpass
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import sys
import threading
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kiosk.files import atomic_write

log = logging.getLogger(__name__)

MAX_TRIES = 5
LOCK_S = 300.0
# each lock after the first lasts twice as long as the one before, up to a day: a 4-digit PIN
# that fell in about a week of patient 5-tries-per-5-minutes now takes years
MAX_LOCK_S = 24 * 3600.0
PIN_MIN_LENGTH = 4
PIN_MAX_LENGTH = 12
_SCRYPT_N = 2**14
_SCRYPT_R = 8
_SCRYPT_P = 1


class PinError(ValueError):
    """The PIN given to `hash_pin` is not acceptable (too short, not digits ...)."""


class PinHashError(ValueError):
    """The stored hash is not one of ours (hand-edited, truncated)."""


def validate_pin(pin: str) -> None:
    """Digits only (the touchscreen has a number pad), 4 to 12 of them."""
    if not pin.isdigit() or not pin.isascii():
        raise PinError("the technician PIN must be digits only (the kiosk shows a number pad)")
    if not PIN_MIN_LENGTH <= len(pin) <= PIN_MAX_LENGTH:
        raise PinError(f"the technician PIN must have {PIN_MIN_LENGTH} to {PIN_MAX_LENGTH} digits")


def hash_pin(pin: str, *, n: int = _SCRYPT_N) -> str:
    """`scrypt$n$r$p$salt$digest` (base64); the cost is stored so it can be raised later."""
    validate_pin(pin)
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=n, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32)
    return "$".join(("scrypt", str(n), str(_SCRYPT_R), str(_SCRYPT_P),
                     base64.b64encode(salt).decode(), base64.b64encode(digest).decode()))


def check_hash_format(stored: str) -> None:
    """Raise PinHashError unless `stored` looks like a hash `hash_pin` wrote."""
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        raise PinHashError("technician.pin_hash is not a scrypt hash; run `kiosk config set-pin`")
    try:
        n, r, p = (int(x) for x in parts[1:4])
        salt = base64.b64decode(parts[4], validate=True)
        digest = base64.b64decode(parts[5], validate=True)
    except ValueError as exc:
        raise PinHashError("technician.pin_hash is damaged; run `kiosk config set-pin`") from exc
    if n < 2 or n & (n - 1) or r < 1 or p < 1 or len(salt) < 8 or len(digest) < 16:
        raise PinHashError("technician.pin_hash has unusable parameters; run `kiosk config "
                           "set-pin`")


def verify_pin(pin: str, stored: str) -> bool:
    """Constant-time comparison; a malformed stored hash never matches."""
    try:
        check_hash_format(stored)
    except PinHashError:
        return False
    _, n, r, p, salt_b64, digest_b64 = stored.split("$")
    expected = base64.b64decode(digest_b64)
    try:
        digest = hashlib.scrypt(pin.encode(), salt=base64.b64decode(salt_b64), n=int(n),
                                r=int(r), p=int(p), dklen=len(expected))
    except (ValueError, MemoryError):
        return False
    return hmac.compare_digest(digest, expected)


# ---- the lock -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Attempt:
    """What the technician screen shows after a PIN was entered."""

    ok: bool
    locked: bool = False
    tries_left: int = MAX_TRIES
    locked_for_s: float = 0.0
    not_configured: bool = False


class PinGate:
    """Checks technician PINs, counting wrong ones; thread-safe.

    The lock state is written to `state_path` (when given) with the wall-clock end of the lock,
    so a restart does not hand out five fresh tries. `clock` is wall-clock seconds (tests).
    """

    def __init__(self, pin_hash: str, *, state_path: Path | None = None,
                 max_tries: int = MAX_TRIES, lock_s: float = LOCK_S,
                 clock: Callable[[], float] = time.time) -> None:
        self._hash = pin_hash
        self._state_path = state_path
        self._max_tries = max_tries
        self._lock_s = lock_s
        self._clock = clock
        self._mutex = threading.Lock()
        self._failures = 0
        self._locked_until = 0.0
        self._rounds = 0  # locks since the last right PIN (the doubling)
        self._load()

    @property
    def configured(self) -> bool:
        return bool(self._hash)

    def _load(self) -> None:
        if self._state_path is None:
            return
        try:
            data = json.loads(self._state_path.read_text(encoding="utf-8"))
            self._failures = int(data.get("failures", 0))
            self._locked_until = float(data.get("locked_until", 0.0))
            self._rounds = int(data.get("rounds", 0))
        except FileNotFoundError:
            return
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            # a damaged lock file must not open the door: start locked, once
            log.warning("technician lock state unreadable (%s); locking for safety", exc)
            self._locked_until = self._clock() + self._lock_s

    def _save(self) -> None:
        if self._state_path is None:
            return
        try:
            atomic_write(self._state_path, json.dumps(
                {"failures": self._failures, "locked_until": self._locked_until,
                 "rounds": self._rounds}))
        except OSError as exc:
            log.warning("technician lock state not saved: %s", exc)

    def locked_for(self) -> float:
        with self._mutex:
            return max(0.0, self._locked_until - self._clock())

    def attempt(self, pin: str) -> Attempt:
        """One PIN entry. Never logs the PIN; logs wrong tries and locks (staff want to know)."""
        with self._mutex:
            now = self._clock()
            if self._locked_until > now:
                return Attempt(ok=False, locked=True, tries_left=0,
                               locked_for_s=self._locked_until - now)
            if not self._hash:
                log.warning("technician PIN entered but none is configured (kiosk config set-pin)")
                return Attempt(ok=False, not_configured=True, tries_left=0)
            if verify_pin(pin, self._hash):
                if self._failures or self._rounds:
                    self._failures = 0
                    self._rounds = 0
                    self._locked_until = 0.0
                    self._save()
                log.info("technician mode unlocked")
                return Attempt(ok=True)
            self._failures += 1
            if self._failures >= self._max_tries:
                lock_s = min(self._lock_s * 2 ** min(self._rounds, 30), MAX_LOCK_S)
                self._failures = 0
                self._rounds += 1
                self._locked_until = now + lock_s
                self._save()
                log.warning("technician mode locked for %.0f s after %d wrong PINs (lock %d in "
                            "a row)", lock_s, self._max_tries, self._rounds)
                return Attempt(ok=False, locked=True, tries_left=0, locked_for_s=lock_s)
            self._save()
            left = self._max_tries - self._failures
            log.warning("wrong technician PIN (%d tries left)", left)
            return Attempt(ok=False, tries_left=left)


# ---- writing the hash into the config file --------------------------------------------------

_SECTION_RE = re.compile(r"^\s*\[\s*technician\s*\]\s*(#.*)?$")
_ANY_SECTION_RE = re.compile(r"^\s*\[")
_PIN_HASH_RE = re.compile(r"^\s*pin_hash\s*=")


class ConfigEditError(Exception):
    """The config file could not be updated; it is left as it was."""


def set_pin_hash_in_toml(text: str, pin_hash: str) -> str:
    """`text` with `[technician] pin_hash` set; every other line, comment and order kept."""
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigEditError(f"the file is not valid TOML, fix it first: {exc}") from exc
    line = f'pin_hash = "{pin_hash}"'
    lines = text.splitlines()
    start = next((i for i, raw in enumerate(lines) if _SECTION_RE.match(raw)), None)
    if start is None:
        tail = "" if not text or text.endswith("\n") else "\n"
        sep = "\n" if text.strip() else ""
        result = f"{text}{tail}{sep}[technician]\n{line}\n"
    else:
        end = next((i for i in range(start + 1, len(lines))
                    if _ANY_SECTION_RE.match(lines[i])), len(lines))
        existing = [i for i in range(start + 1, end) if _PIN_HASH_RE.match(lines[i])]
        if existing:
            lines[existing[0]] = line
            for i in reversed(existing[1:]):
                del lines[i]
        else:
            lines.insert(start + 1, line)
        result = "\n".join(lines) + "\n"
    try:
        parsed = tomllib.loads(result)
    except tomllib.TOMLDecodeError as exc:  # e.g. a multi-line string we did not understand
        raise ConfigEditError(f"could not place pin_hash safely in this file: {exc}") from exc
    if parsed.get("technician", {}).get("pin_hash") != pin_hash:
        raise ConfigEditError("could not place pin_hash safely in this file (dotted keys?)")
    return result


def write_pin_hash(config_path: Path, pin_hash: str) -> None:
    try:
        text = config_path.read_text(encoding="utf-8") if config_path.exists() else ""
        mode = config_path.stat().st_mode & 0o7777 if config_path.exists() else 0o640
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigEditError(f"cannot read {config_path}: {exc}") from exc
    updated = set_pin_hash_in_toml(text, pin_hash)
    try:
        atomic_write(config_path, updated, mode=mode)
    except OSError as exc:
        raise ConfigEditError(f"cannot write {config_path}: {exc.strerror or exc}") from exc


def set_pin_command(config_path: str, *, read_secret: Callable[[str], str] = getpass.getpass,
                    out: Callable[[str], None] = print) -> int:
    """`kiosk config set-pin [FILE]`: ask twice (no echo), hash, write. Exit code 0 on success."""
    path = Path(config_path)
    try:
        first = read_secret("New technician PIN (4-12 digits): ")
        second = read_secret("Same PIN again: ")
    except (EOFError, KeyboardInterrupt):
        out("set-pin: cancelled; nothing changed")
        return 1
    if first != second:
        out("set-pin: the two PINs differ; nothing changed")
        return 1
    try:
        pin_hash = hash_pin(first)
        write_pin_hash(path, pin_hash)
    except (PinError, ConfigEditError) as exc:
        out(f"set-pin: {exc}; nothing changed")
        return 1
    out(f"set-pin: technician PIN hash written to [technician] in {path}")
    log.info("technician PIN changed in %s", path)
    return 0


def lock_state_path(data_dir: str | os.PathLike[str]) -> Path:
    return Path(data_dir) / "technician-lock.json"


def lockout(settings: object, *, clock: Callable[[], float] = time.time) -> dict[str, object]:
    """The technician lock as staff see it (the dashboard shows a lock as a device fault: a
    wrong-PIN storm at a kiosk is someone trying): read from the lock file, never changed."""
    kiosk = getattr(settings, "kiosk", None)
    path = lock_state_path(getattr(kiosk, "data_dir", "var"))
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        left = max(0.0, float(data.get("locked_until", 0.0)) - clock())
        rounds = int(data.get("rounds", 0))
    except FileNotFoundError:
        return {"locked": False, "locked_for_s": 0.0, "rounds": 0}
    except (OSError, ValueError, TypeError, AttributeError):
        return {"locked": True, "locked_for_s": 0.0, "rounds": 0}
    return {"locked": left > 0, "locked_for_s": round(left), "rounds": rounds}


def gate_from_settings(settings: object) -> PinGate:
    """The gate for a running kiosk (`kiosk.config.Settings`)."""
    tech = getattr(settings, "technician", None)
    kiosk = getattr(settings, "kiosk", None)
    data_dir = getattr(kiosk, "data_dir", "var")
    return PinGate(getattr(tech, "pin_hash", ""), state_path=lock_state_path(data_dir))


if __name__ == "__main__":  # pragma: no cover - convenience for a shell on the kiosk
    raise SystemExit(set_pin_command(sys.argv[1] if len(sys.argv) > 1 else "kiosk.toml"))
