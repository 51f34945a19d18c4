"""`kiosk doctor [--config F] [--install]`: what is wrong with this kiosk, and what to do.

Why a table of rows: a technician in a branch library reads it top to bottom and fixes the
first red line. Each row is one check, its result, and the next step. The exit code is
non-zero when a check failed, so monitoring or an install script can use it; warnings (a
slow answer, a clock a few seconds off) keep the exit code at 0.

Checks, in the order one would debug: the config file, the journal's disk, the central side
(reachable, our credentials accepted, its clock against ours: due dates depend on it), then
each configured device. `--install` adds the Raspberry Pi install of docs/raspberry-pi.md:
the user, groups, units, udev and polkit rules, packages, screen settings. On a machine that
is not set up that way (a laptop, CI) it says what is missing, row by row.

Doctor never raises: whatever goes wrong inside a check becomes a failed row.
"""

from __future__ import annotations

import contextlib
import enum
import grp
import json
import logging
import os
import pwd
import shutil
import subprocess
import textwrap
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from domain.privacy import scrub
from kiosk import devices

if TYPE_CHECKING:
    from kiosk.config import Settings


log = logging.getLogger(__name__)

MAX_CLOCK_DRIFT_S = 60.0
WARN_CLOCK_DRIFT_S = 5.0
GUIDE = "docs/raspberry-pi.md"


class Level(enum.StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "FAIL"
    SKIP = "skip"


@dataclass(frozen=True, slots=True)
class Row:
    check: str
    level: Level
    result: str
    advice: str = ""


# ---- the table -------------------------------------------------------------------------------


def render(rows: Iterable[Row], width: int = 100) -> str:
    rows = list(rows)
    check_w = min(28, max((len(r.check) for r in rows), default=5))
    left = check_w + 2 + 5 + 2
    rest = max(30, width - left)
    result_w = rest // 2
    advice_w = rest - result_w - 2
    lines = [f"{'check':{check_w}}  {'':5}  {'result':{result_w}}  what to do",
             "-" * min(width, left + rest)]
    for r in rows:
        result = textwrap.wrap(r.result, result_w) or [""]
        advice = textwrap.wrap(r.advice, advice_w) or [""]
        for i in range(max(len(result), len(advice))):
            name = r.check[:check_w] if i == 0 else ""
            mark = r.level.value if i == 0 else ""
            res = result[i] if i < len(result) else ""
            adv = advice[i] if i < len(advice) else ""
            lines.append(f"{name:{check_w}}  {mark:5}  {res:{result_w}}  {adv}".rstrip())
    return "\n".join(lines)


def summary(rows: list[Row]) -> str:
    failed = sum(r.level is Level.FAIL for r in rows)
    warned = sum(r.level is Level.WARN for r in rows)
    if failed:
        return f"{failed} check(s) failed, {warned} warning(s): fix the FAIL rows, top first."
    if warned:
        return f"All checks passed with {warned} warning(s)."
    return "All checks passed."


# ---- config, journal, disk ----------------------------------------------------------------------


def check_config(path: str) -> tuple[Any | None, list[Row]]:
    from kiosk import config, devices

    try:
        settings = config.load(path)
    except config.ConfigError as exc:
        rows = [Row("config", Level.FAIL, f"{path}: {len(exc.problems)} problem(s)",
                    f"run: kiosk config check {path}")]
        rows += [Row("config", Level.FAIL, f"{p.key or '(file)'}: {p.message}", "")
                 for p in exc.problems[:10]]
        return None, rows
    rows = [Row("config", Level.OK, f"{path} is valid")]
    for problem in devices.check(settings):
        rows.append(Row("config", Level.FAIL, f"{problem.key}: {problem.message}",
                        f"fix the device table in {path}"))
    rows.append(status_endpoint_row(settings))
    if not settings.technician.pin_hash:
        rows.append(Row("technician PIN", Level.WARN, "no technician PIN set: the hidden "
                        "technician screen cannot be opened", f"run: kiosk config set-pin {path}"))
    else:
        from kiosk.technician.pin import PinHashError, check_hash_format

        try:
            check_hash_format(settings.technician.pin_hash)
            rows.append(Row("technician PIN", Level.OK, "set (stored as a scrypt hash)"))
        except PinHashError as exc:
            rows.append(Row("technician PIN", Level.FAIL, str(exc),
                            f"run: kiosk config set-pin {path}"))
    return settings, rows


def status_endpoint_row(settings: Settings) -> Row:
    """The [status] endpoint would start: a valid address, and a token off loopback."""
    from kiosk.status import StatusConfigError, is_loopback, parse_listen, read_token

    try:
        host, port = parse_listen(settings.status.listen)
        token = read_token(settings.status)
    except StatusConfigError as exc:
        return Row("status endpoint", Level.FAIL, str(exc), "fix the [status] table")
    if not is_loopback(host) and not token:
        return Row("status endpoint", Level.FAIL, f"{host}:{port} is reachable from the network "
                   "without a token", "set [status] token_file (mode 0600) or token_env")
    where = f"{host}:{port}" + (", token required" if token else "")
    return Row("status endpoint", Level.OK, where)


def check_journal(settings: Settings, *, min_free_factor: float = 10.0) -> list[Row]:
    """Room and write access for the journal, and its queue; never creates or changes it.

    Doctor is often run with sudo: a journal (or its WAL files) created by root would lock the
    kiosk user out of its own queue, so this only reads, and only as the file's owner.
    """
    rows: list[Row] = []
    path = Path(settings.journal_path)
    folder = path.parent
    existing = next((p for p in (folder, *folder.parents) if p.exists()), Path("/"))
    usage = shutil.disk_usage(existing)
    free_mb = usage.free / 1024 / 1024
    need_mb = float(settings.journal.min_free_mb)
    if free_mb < need_mb:
        rows.append(Row("journal disk", Level.FAIL, f"{free_mb:.0f} MB free for {folder}; the "
                        f"kiosk refuses offline loans below {need_mb:.0f} MB",
                        "free space (old logs: journalctl --vacuum-size=50M) or a bigger card"))
    elif free_mb < need_mb * min_free_factor:
        rows.append(Row("journal disk", Level.WARN, f"only {free_mb:.0f} MB free for {folder}",
                        "free some space before a long outage fills it"))
    else:
        rows.append(Row("journal disk", Level.OK, f"{free_mb:.0f} MB free for {folder}"))
    if not folder.is_dir():
        rows.append(Row("journal", Level.WARN, f"{folder} does not exist yet",
                        "kiosk.service creates /var/lib/kiosk on first start; elsewhere: "
                        f"install -d -m 0750 {folder}"))
        return rows
    if not path.exists():
        level = Level.OK if os.access(folder, os.W_OK) else Level.FAIL
        rows.append(Row("journal", level, f"no journal yet in {folder} (created on first run)"
                        if level is Level.OK else f"{folder} is not writable by this user",
                        "" if level is Level.OK else f"sudo chown kiosk:kiosk {folder}"))
        return rows
    info = path.stat()
    if os.geteuid() != info.st_uid:
        rows.append(Row("journal queue", Level.SKIP, f"{path} belongs to another user",
                        f"to see the queue: sudo -u {_owner(info.st_uid)} kiosk doctor"))
        return rows
    if not os.access(folder, os.W_OK) or not os.access(path, os.R_OK | os.W_OK):
        rows.append(Row("journal", Level.FAIL, f"{path} is not writable",
                        f"sudo chown -R kiosk:kiosk {folder}"))
        return rows
    rows.append(_queue_row(path))
    return rows


def _owner(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _queue_row(path: Path) -> Row:
    import sqlite3

    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True,
                                                timeout=2.0)) as db:
            counts = dict(db.execute("SELECT state, COUNT(*) FROM transactions GROUP BY state"))
            oldest = db.execute("SELECT MIN(created_at) FROM transactions WHERE state IN "
                                "('pending', 'sent')").fetchone()[0]
            row = db.execute("SELECT value FROM meta WHERE key = 'salvage'").fetchone()
            salvage = row[0] if row else None
    except sqlite3.Error as exc:
        return Row("journal", Level.FAIL, f"cannot read {path.name}: {exc}",
                   "the kiosk moves a damaged journal aside on start; see its log")
    pending = counts.get("pending", 0) + counts.get("sent", 0)
    conflicts = counts.get("conflict", 0)
    quarantined = counts.get("quarantined", 0)
    text = f"{pending} waiting, {conflicts} conflict(s), {quarantined} quarantined"
    if oldest:
        text += f", oldest from {str(oldest)[:16]}"
    if salvage is not None:
        report = json.loads(salvage)
        said = (f"replaced after a {report['reason']}: {report['recovered']} transaction(s) "
                f"recovered from {report['moved_to']}")
        if report.get("unreadable") or report.get("wal_damaged"):
            return Row("journal", Level.FAIL, said + "; some could not be read",
                       "compare the library's records with the kiosk's receipts for the time "
                       "before; then `kiosk queue --clear-salvage`")
        return Row("journal", Level.WARN, said + f"; {text}")
    if pending or conflicts or quarantined:
        return Row("journal queue", Level.WARN, text, "kiosk sync sends them now; conflicts are "
                   "resolved on the staff dashboard")
    return Row("journal queue", Level.OK, text)


# ---- the central side -------------------------------------------------------------------------


def clock_row(server_time: datetime | None, *, now: datetime | None = None) -> Row:
    if server_time is None:
        return Row("clock", Level.WARN, "the server did not say its time",
                   "due dates are computed by the server; check the kiosk clock by hand")
    now = now or datetime.now(UTC)
    if server_time.tzinfo is None:
        server_time = server_time.replace(tzinfo=UTC)
    drift = (now - server_time).total_seconds()
    text = f"kiosk is {abs(drift):.1f} s {'ahead of' if drift > 0 else 'behind'} the server"
    if abs(drift) > MAX_CLOCK_DRIFT_S:
        return Row("clock", Level.FAIL, text, "turn on time sync: sudo timedatectl set-ntp true "
                   "(and check the network allows NTP)")
    if abs(drift) > WARN_CLOCK_DRIFT_S:
        return Row("clock", Level.WARN, text, "check time sync: timedatectl status")
    return Row("clock", Level.OK, text)


def check_rest(settings: Settings) -> list[Row]:
    import requests

    from kiosk.app import build_backend
    from kiosk.backends.base import AuthenticationFailed, BackendUnavailable, Refused

    url = settings.backend.url.rstrip("/")
    rows: list[Row] = []
    timeout = (settings.backend.connect_timeout_s, settings.backend.timeout_s)
    try:
        reply = requests.get(f"{url}/v1/health", timeout=timeout,
                             verify=settings.backend.verify_tls, allow_redirects=False)
        reply.raise_for_status()
        body = reply.json()
        server_time = datetime.fromisoformat(str(body["server_time"]).replace("Z", "+00:00"))
    except requests.exceptions.SSLError as exc:
        return [Row("backend", Level.FAIL, f"TLS to {url} failed: {_short(exc)}",
                    "check the certificate (or the kiosk clock: a wrong date breaks TLS)")]
    except requests.Timeout:
        return [Row("backend", Level.FAIL, f"{url} did not answer within {timeout[1]:.0f} s",
                    "check the network and that the central service runs")]
    except requests.ConnectionError:
        return [Row("backend", Level.FAIL, f"{url} cannot be reached (refused, no route or "
                    "unknown host)",
                    "check backend.url, the network cable or Wi-Fi, and the firewall")]
    except requests.RequestException as exc:
        return [Row("backend", Level.FAIL, f"{url} answered with an error: {_short(exc)}",
                    "check backend.url points at the Kiosk Catalog API")]
    except (ValueError, KeyError, TypeError) as exc:
        return [Row("backend", Level.FAIL, f"{url}/v1/health did not answer as the Kiosk "
                    f"Catalog API ({type(exc).__name__})", "check backend.url points at the API")]
    rows.append(Row("backend", Level.OK,
                    f"{url} answers ({reply.elapsed.total_seconds() * 1000:.0f} ms)"))
    rows.append(clock_row(server_time))
    try:
        backend = build_backend(settings)
    except Exception as exc:  # a backend that cannot even be built is a config fault
        rows.append(Row("authentication", Level.FAIL, f"cannot set up the client: {exc}",
                        "check the [backend] table"))
        return rows
    try:
        backend.item("kiosk-doctor-probe")
        rows.append(Row("authentication", Level.OK, "the kiosk's token is accepted"))
    except Refused:  # "no such item" is an authenticated answer
        rows.append(Row("authentication", Level.OK, "the kiosk's token is accepted"))
    except AuthenticationFailed:
        rows.append(Row("authentication", Level.FAIL, "the server refused the kiosk's token",
                        "register the kiosk (kiosk-central add-kiosk) and set backend.token_env "
                        "or token_file to its token"))
    except BackendUnavailable as exc:
        rows.append(Row("authentication", Level.FAIL, f"no answer: {_short(exc)}",
                        "retry; if it persists, see the server's log"))
    finally:
        backend.close()
    return rows


def check_sip2(settings: Settings) -> list[Row]:
    from kiosk.backends.sip2.doctor import check_connection
    from kiosk.backends.sip2.settings import Sip2Settings

    try:
        sip2 = Sip2Settings.from_mapping(settings.sip2)
    except (ValueError, TypeError) as exc:
        return [Row("SIP2 settings", Level.FAIL, str(exc), "fix the [sip2] table")]
    rows = []
    for r in check_connection(sip2):
        name = "clock" if "clock" in r.check.lower() else f"SIP2 {r.check}"
        rows.append(Row(name, Level.OK if r.ok else Level.FAIL, r.result, r.advice))
    return rows


def check_backend(settings: Settings) -> list[Row]:
    try:
        return check_sip2(settings) if settings.backend.type == "sip2" else check_rest(settings)
    except Exception as exc:  # doctor never raises
        log.debug("backend check failed", exc_info=True)
        return [Row("backend", Level.FAIL, f"check failed: {_short(exc)}", "see kiosk -v doctor")]


# ---- devices ----------------------------------------------------------------------------------


# how the doctor's table names each device
DEVICE_CHECKS = {"card_reader": "card reader", "rfid": "RFID reader", "printer": "printer",
                 "lights": "lights (GPIO)", "sensor": "sensor (GPIO)", "scanner": "scanner"}


def check_device(name: str, table: dict[str, Any]) -> Row:
    """One device table, asked of its own driver (`probe`): the driver knows its hardware."""
    answer = devices.probe(name, table)
    return Row(DEVICE_CHECKS.get(name, name), Level.OK if answer.ok else Level.FAIL,
               scrub(answer.detail), answer.advice)


def check_devices(settings: Settings) -> list[Row]:
    rows = []
    problems = {p.key.split(".")[1] for p in devices.check(settings)}
    for name, table in settings.devices.items():
        if str(table.get("type", "none")) == "none" or name in problems:
            continue  # a table the config check refused is reported there
        try:
            rows.append(check_device(name, table))
        except Exception as exc:  # doctor never raises
            log.debug("device check %s failed", name, exc_info=True)
            rows.append(Row(DEVICE_CHECKS.get(name, name), Level.FAIL,
                            f"check failed: {_short(exc)}", ""))
    if not rows:
        rows.append(Row("devices", Level.WARN, "no devices configured",
                        "add [devices.card_reader], [devices.rfid], [devices.printer] ..."))
    return rows


# ---- the Raspberry Pi install (docs/raspberry-pi.md) -------------------------------------------


@dataclass(frozen=True)
class InstallLayout:
    """Where the guide puts things; tests point it at a temporary root."""

    root: Path = Path("/")
    user: str = "kiosk"
    groups: tuple[str, ...] = ("video", "render", "input", "dialout", "plugdev", "gpio")
    packages: tuple[str, ...] = ("python3-venv", "pcscd", "libccid", "libmtdev1",
                                 "libgl1-mesa-dri")

    def path(self, absolute: str) -> Path:
        return self.root / absolute.lstrip("/")


def _user(name: str) -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        return None


def check_install(config_path: str, layout: InstallLayout | None = None,
                  dpkg: Callable[[str], bool] | None = None) -> list[Row]:
    lay = layout or InstallLayout()
    rows: list[Row] = []
    section = f"see {GUIDE}"
    model_file = lay.path("/proc/device-tree/model")
    model = model_file.read_text(errors="replace").strip("\0\n ") if model_file.exists() else ""
    if "Raspberry Pi" in model:
        rows.append(Row("board", Level.OK, model))
    else:
        rows.append(Row("board", Level.WARN, "not a Raspberry Pi: hardware checks below will "
                        "show what is missing here", "run kiosk doctor --install on the Pi"))
    user = _user(lay.user)
    if user is None:
        rows.append(Row("user", Level.FAIL, f"no user {lay.user!r}",
                        f"sudo adduser --system --group --home /var/lib/kiosk {lay.user} "
                        f"({section}, step 2)"))
    else:
        rows.append(Row("user", Level.OK, f"{lay.user} (uid {user.pw_uid})"))
        member_of = {g.gr_name for g in grp.getgrall() if lay.user in g.gr_mem}
        with contextlib.suppress(KeyError):
            member_of.add(grp.getgrgid(user.pw_gid).gr_name)
        missing = [g for g in lay.groups if g not in member_of]
        absent = [g for g in missing if not _group_exists(g)]
        if missing:
            rows.append(Row("groups", Level.FAIL, f"{lay.user} is not in: {', '.join(missing)}"
                            + (f" (no such group: {', '.join(absent)})" if absent else ""),
                            f"sudo usermod -aG {','.join(missing)} {lay.user}"))
        else:
            rows.append(Row("groups", Level.OK, ", ".join(lay.groups)))
    for unit in ("kiosk.service",):
        installed = lay.path(f"/etc/systemd/system/{unit}")
        enabled = lay.path(f"/etc/systemd/system/multi-user.target.wants/{unit}")
        if not installed.exists():
            rows.append(Row(unit, Level.FAIL, f"not installed in {installed.parent}",
                            f"sudo cp systemd/{unit} /etc/systemd/system/ && sudo systemctl "
                            "daemon-reload"))
        elif not enabled.exists():
            rows.append(Row(unit, Level.FAIL, "installed but not enabled",
                            f"sudo systemctl enable {unit}"))
        else:
            rows.append(Row(unit, Level.OK, "installed and enabled"))
    for name, where, advice in (
        ("udev rules", "/etc/udev/rules.d/70-kiosk-devices.rules",
         "sudo cp systemd/70-kiosk-devices.rules /etc/udev/rules.d/ && sudo udevadm control "
         "--reload && sudo udevadm trigger"),
        ("polkit rule (pcscd)", "/etc/polkit-1/rules.d/50-kiosk-pcscd.rules",
         "sudo cp systemd/50-kiosk-pcscd.rules /etc/polkit-1/rules.d/"),
    ):
        present = lay.path(where).exists()
        rows.append(Row(name, Level.OK if present else Level.FAIL,
                        f"{where} {'present' if present else 'missing'}",
                        "" if present else advice))
    rows.append(_config_readable_row(lay.path(config_path) if lay.root != Path("/")
                                     else Path(config_path), user))
    data_dir = lay.path("/var/lib/kiosk")
    if not data_dir.is_dir():
        rows.append(Row("data dir", Level.FAIL, f"{data_dir} missing",
                        "it is created by the unit (StateDirectory=kiosk) on first start"))
    elif user is not None and data_dir.stat().st_uid != user.pw_uid:
        rows.append(Row("data dir", Level.FAIL, f"{data_dir} is not owned by {lay.user}",
                        f"sudo chown -R {lay.user}:{lay.user} {data_dir}"))
    else:
        rows.append(Row("data dir", Level.OK, f"{data_dir} present"))
    have = dpkg or _dpkg_installed
    missing_pkgs = [p for p in lay.packages if not have(p)]
    rows.append(Row("Debian packages", Level.FAIL if missing_pkgs else Level.OK,
                    f"missing: {', '.join(missing_pkgs)}" if missing_pkgs else "all present",
                    f"sudo apt install {' '.join(missing_pkgs)}" if missing_pkgs else ""))
    rows += _boot_rows(lay)
    return rows


def _group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True


def _dpkg_installed(package: str) -> bool:
    try:
        done = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package],
                              capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0 and "install ok installed" in done.stdout


def _config_readable_row(path: Path, user: pwd.struct_passwd | None) -> Row:
    if not path.exists():
        return Row("config file", Level.FAIL, f"{path} missing",
                   "sudo install -m 0640 -o root -g kiosk config/kiosk.example.toml "
                   "/etc/kiosk/kiosk.toml, then edit it")
    info = path.stat()
    if info.st_mode & 0o002:
        return Row("config file", Level.FAIL, f"{path} is writable by everyone",
                   f"sudo chmod 0640 {path}")
    if user is not None:
        readable = (info.st_uid == user.pw_uid and info.st_mode & 0o400) or \
            (info.st_gid == user.pw_gid and info.st_mode & 0o040) or info.st_mode & 0o004
        if not readable:
            return Row("config file", Level.FAIL, f"{user.pw_name} cannot read {path}",
                       f"sudo chgrp {user.pw_name} {path} && sudo chmod 0640 {path}")
    return Row("config file", Level.OK, f"{path} readable by the kiosk")


def _boot_rows(lay: InstallLayout) -> list[Row]:
    rows = []
    config_txt = next((p for p in (lay.path("/boot/firmware/config.txt"),
                                   lay.path("/boot/config.txt")) if p.exists()), None)
    cmdline = next((p for p in (lay.path("/boot/firmware/cmdline.txt"),
                                lay.path("/boot/cmdline.txt")) if p.exists()), None)
    if config_txt is None:
        rows.append(Row("KMS display", Level.FAIL, "no /boot/firmware/config.txt (not Raspberry "
                        "Pi OS?)", f"{GUIDE}, step 5"))
    elif "vc4-kms-v3d" in config_txt.read_text(errors="replace"):
        rows.append(Row("KMS display", Level.OK, "dtoverlay=vc4-kms-v3d"))
    else:
        rows.append(Row("KMS display", Level.FAIL, "the KMS driver is not enabled",
                        f"add dtoverlay=vc4-kms-v3d to {config_txt}"))
    if cmdline is None:
        rows.append(Row("screen blanking", Level.FAIL, "no cmdline.txt found", f"{GUIDE}, step 6"))
    elif "consoleblank=0" in cmdline.read_text(errors="replace"):
        rows.append(Row("screen blanking", Level.OK, "consoleblank=0"))
    else:
        rows.append(Row("screen blanking", Level.FAIL, "the console blanks after 10 minutes",
                        f"append consoleblank=0 to the single line in {cmdline}"))
    return rows


# ---- the command ------------------------------------------------------------------------------


def _short(exc: BaseException) -> str:
    text = scrub(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    return text[:160]


def collect(config_path: str, *, install: bool = False,
            layout: InstallLayout | None = None) -> list[Row]:
    settings, rows = check_config(config_path)
    if settings is not None:
        rows += _guarded("journal", lambda: check_journal(settings))
        rows += check_backend(settings)
        rows += check_devices(settings)
    else:
        rows.append(Row("backend, devices", Level.SKIP, "not checked: the config must be "
                        "fixed first"))
    if install:
        rows += _guarded("install", lambda: check_install(config_path, layout))
    return rows


def _guarded(name: str, check: Callable[[], list[Row]]) -> list[Row]:
    try:
        return check()
    except Exception as exc:  # doctor never raises
        log.debug("%s check failed", name, exc_info=True)
        return [Row(name, Level.FAIL, f"check failed: {_short(exc)}", "see kiosk -v doctor")]


def run_doctor(config_path: str, *, install: bool = False, out: TextIO | None = None,
               layout: InstallLayout | None = None) -> int:
    """Print the table; 0 when nothing failed, 1 otherwise."""
    import sys

    stream = out or sys.stdout
    rows = collect(config_path, install=install, layout=layout)
    width = shutil.get_terminal_size((110, 24)).columns
    print(render(rows, width=max(90, width)), file=stream)
    print(file=stream)
    print(summary(rows), file=stream)
    return 1 if any(r.level is Level.FAIL for r in rows) else 0
