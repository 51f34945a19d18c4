"""`check_connection`: a technician's step-by-step look at one SIP2 server.

Each step is a row that says what was tried, what happened and what to do
about it, in the order a technician would debug it (network, TLS, login,
status, clock, supported messages), so the first failing row is the one to
fix. It never raises: a failure is a row. `kiosk doctor` prints these rows.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime

from kiosk.backends.base import AuthenticationFailed, BackendError, status_flags_advice
from kiosk.backends.sip2.client import BX_ORDER, MESSAGE_NAMES, AcsStatus, Sip2Client
from kiosk.backends.sip2.settings import Sip2Settings

MAX_CLOCK_DRIFT_S = 300
# What the kiosk loses when the server does not support a message.
NEEDED = {
    "63": "patrons cannot identify or see their account",
    "17": "titles and due dates of loans cannot be shown",
    "11": "patrons cannot borrow",
    "09": "patrons cannot return items",
    "29": "patrons cannot renew",
    "35": "sessions are not closed on the server (usually harmless)",
    "99": "the kiosk cannot read the server's status",
}


@dataclass(frozen=True, slots=True)
class CheckRow:
    check: str
    result: str
    advice: str = ""
    ok: bool = True


def check_connection(settings: Sip2Settings) -> list[CheckRow]:
    """Log in, read the ACS status and list what the server supports, as rows."""
    rows: list[CheckRow] = []
    where = f"{settings.host}:{settings.port}"
    if not _network(settings, where, rows):
        return rows
    if settings.tls and not _tls(settings, where, rows):
        return rows
    with Sip2Client(settings) as client:
        try:
            status = client.status(refresh=False)
        except AuthenticationFailed:
            rows.append(CheckRow(
                "Login (93)", f"refused for user {settings.login_user!r}",
                "Check login_user, login_password and location_code against the SIP2 "
                "account the library created for this kiosk.", ok=False))
            return rows
        except BackendError as exc:
            rows.append(CheckRow(
                "Login and status (93/99)", f"failed: {exc}",
                "The server accepted the connection but did not answer SIP2. Check the port "
                "is the SIP2 port, the terminator (CR/CRLF), the charset and error_detection.",
                ok=False))
            return rows
    rows.append(CheckRow("Login (93)", "accepted" if settings.login_required
                         else "not used (login_required = false)"))
    rows.extend(_status_rows(status, settings))
    rows.extend(_supported_rows(status, settings))
    return rows


def _network(settings: Sip2Settings, where: str, rows: list[CheckRow]) -> bool:
    try:
        socket.create_connection((settings.host, settings.port),
                                 timeout=settings.connect_timeout_s).close()  # reachable?
    except OSError as exc:
        rows.append(CheckRow(
            f"Connect to {where}", f"failed: {exc.strerror or exc}",
            "Check host and port in [sip2], that the SIP2 service (or its stunnel) is "
            "running, and that a firewall lets this kiosk through.", ok=False))
        return False
    rows.append(CheckRow(f"Connect to {where}", "ok"))
    return True


def _tls(settings: Sip2Settings, where: str, rows: list[CheckRow]) -> bool:
    context = ssl.create_default_context(cafile=settings.tls_ca_file or None)
    if not settings.tls_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((settings.host, settings.port),
                                      timeout=settings.connect_timeout_s) as raw, \
                context.wrap_socket(raw, server_hostname=settings.tls_server_name
                                    or settings.host) as tls:
            version = tls.version() or "TLS"
            with contextlib.suppress(OSError):
                tls.unwrap()
    except (OSError, ValueError) as exc:
        rows.append(CheckRow(
            f"TLS with {where}", f"failed: {exc}",
            "If the certificate is not trusted, set tls_ca_file to the library's CA "
            "certificate (or tls_server_name to the name in the certificate). Is this "
            "port really TLS (stunnel), not plain SIP2?", ok=False))
        return False
    verified = "certificate verified" if settings.tls_verify else "certificate NOT verified"
    rows.append(CheckRow(
        f"TLS with {where}", f"{version}, {verified}",
        "" if settings.tls_verify else "tls_verify = false: anyone on the network path "
        "could read patron data. Install the CA certificate and turn verification on.",
        ok=settings.tls_verify))
    return True


def _yes(flag: bool) -> str:
    return "yes" if flag else "NO"


def _status_rows(status: AcsStatus, settings: Sip2Settings) -> list[CheckRow]:
    rows = [CheckRow(
        "Server status (98)",
        f"online {_yes(status.online)}, checkout {_yes(status.checkout_ok)}, "
        f"checkin {_yes(status.checkin_ok)}, offline allowed {_yes(status.offline_ok)}, "
        f"protocol {status.protocol_version}"
        + (f", library {status.library_name!r}" if status.library_name else ""),
        status_flags_advice(online=status.online, checkout_ok=status.checkout_ok,
                            checkin_ok=status.checkin_ok),
        ok=status.online)]
    if status.institution_id and settings.institution_id and \
            status.institution_id != settings.institution_id:
        rows.append(CheckRow(
            "Institution id (AO)",
            f"server says {status.institution_id!r}, kiosk sends {settings.institution_id!r}",
            "Most servers reject transactions for another institution: fix institution_id.",
            ok=False))
    timeout = f"{status.timeout_s:.1f} s" if status.timeout_s else "not given"
    retries = str(status.retries) if status.retries is not None else "not given"
    rows.append(CheckRow("Timeout and retries", f"server: {timeout}, {retries} retries",
                         "" if status.timeout_s else
                         f"The kiosk uses timeout_s = {settings.timeout_s:g} from config."))
    if status.server_time is None:
        rows.append(CheckRow("Server clock", "not readable", ok=True))
    else:
        drift = (status.server_time - datetime.now(UTC)).total_seconds()
        ok = abs(drift) <= MAX_CLOCK_DRIFT_S
        rows.append(CheckRow(
            "Server clock", f"{status.server_time.isoformat()} ({drift:+.0f} s from the kiosk)",
            "" if ok else "Large difference: set server_timezone in [sip2] to the server's "
            "zone, and check that both machines use NTP.", ok=ok))
    return rows


def _supported_rows(status: AcsStatus, settings: Sip2Settings) -> list[CheckRow]:
    if not status.bx:
        return [CheckRow("Supported messages (BX)", "not reported by the server",
                         "A SIP2 1.00 server? The kiosk will try each message anyway.")]
    rows: list[CheckRow] = []
    for code in BX_ORDER:
        supported = code in status.supported
        needed = NEEDED.get(code)
        advice = "" if supported or needed is None else f"Without it {needed}."
        if code == "93" and settings.login_required and not supported:
            needed = advice = ("login_required = true but the server lists no login; "
                               "if logging in fails, try login_required = false.")
        rows.append(CheckRow(f"Supports {MESSAGE_NAMES[code]} ({code})",
                             "yes" if supported else "no", advice,
                             ok=supported or needed is None))
    return rows
