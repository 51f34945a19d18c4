"""The kiosk's own checks, in the order one would debug: the config file, the journal's disk,
the central side (reachable, our credentials accepted, its clock against ours: due dates depend
on it), then each configured device, asked of its own driver."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pwd
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from domain.privacy import scrub
from kiosk import devices
from kiosk.doctor.table import Level, Row, short

if TYPE_CHECKING:
    from kiosk.config import Settings

log = logging.getLogger(__name__)

MAX_CLOCK_DRIFT_S = 60.0
WARN_CLOCK_DRIFT_S = 5.0


# ---- config, journal, disk ----------------------------------------------------------------------


def check_config(path: str) -> tuple[Any | None, list[Row]]:
    from kiosk import config

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
        return [Row("backend", Level.FAIL, f"TLS to {url} failed: {short(exc)}",
                    "check the certificate (or the kiosk clock: a wrong date breaks TLS)")]
    except requests.Timeout:
        return [Row("backend", Level.FAIL, f"{url} did not answer within {timeout[1]:.0f} s",
                    "check the network and that the central service runs")]
    except requests.ConnectionError:
        return [Row("backend", Level.FAIL, f"{url} cannot be reached (refused, no route or "
                    "unknown host)",
                    "check backend.url, the network cable or Wi-Fi, and the firewall")]
    except requests.RequestException as exc:
        return [Row("backend", Level.FAIL, f"{url} answered with an error: {short(exc)}",
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
        rows.append(Row("authentication", Level.FAIL, f"no answer: {short(exc)}",
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
        return [Row("backend", Level.FAIL, f"check failed: {short(exc)}", "see kiosk -v doctor")]


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
                            f"check failed: {short(exc)}", ""))
    if not rows:
        rows.append(Row("devices", Level.WARN, "no devices configured",
                        "add [devices.card_reader], [devices.rfid], [devices.printer] ..."))
    return rows


