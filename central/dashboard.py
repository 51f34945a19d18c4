"""The staff fleet dashboard: every kiosk's health, open conflicts, loans and returns today.

Why here and not in each kiosk: staff at the desk want one page that says which kiosk needs a
visit (silent, offline, printer out of paper, a long queue) and which offline loans the
library system could not apply, so someone can sort them out with the patron.

Pages (HTML in central/templates, JS and CSS in central/static; the page fetches JSON and
refreshes itself every few seconds):

    GET  /staff/                         fleet table + conflicts (login required)
    GET  /staff/login                    login form
    GET  /staff/api/fleet                kiosks as JSON
    GET  /staff/api/strings              the pages' words in the chosen language (no login)
    GET  /staff/api/series?span=24h|7d   kiosks online, queue, loans and returns over time
    GET  /staff/api/conflicts            open conflicts (?all=1: resolved ones too)
    POST /staff/api/conflicts/{id}/resolve
    POST /staff/api/login, /staff/api/logout

A kiosk is "online" while its heartbeats arrive and it says it reaches the catalog,
"offline" while its heartbeats say it cannot, and "silent" when no heartbeat came for three of
its own heartbeat intervals (each kiosk reports `heartbeat_s`; 90 s when it does not).

Privacy: the fleet view has counts, states and device names only. The conflict view shows the
patron id of the transaction, which staff need to fix the loan; never a PIN or card number.
Every POST needs the `X-Staff-Request: 1` header, which a cross-site form cannot send.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from central import fleet_series, staff_i18n
from central.db import Database
from central.insights_page import (
    StaffForms,
    mount_experiments,
    mount_insights,
    mount_messages,
)
from central.profiles_page import (
    mount_profiles,
)
from central.service import library_day
from central.shared_limits import SharedBucket
from central.staff import StaffAuth

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
COOKIE = "kiosk_staff"
DEFAULT_HEARTBEAT_S = 30.0
SILENT_AFTER_BEATS = 3.0
MIN_SILENT_S = 5.0
_STATIC_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
                 ".svg": "image/svg+xml"}
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
                               "form-action 'self'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


# At most this many password checks a second, whoever asks (after a burst of HASH_BURST): a
# storm of wrong passwords then costs the service a fifth of a core of hashing (~50 ms each),
# and the rest gets a 429. Staff log in a few times a day; this is not their limit.
HASHES_PER_S = 4.0
HASH_BURST = 10


def _lowest_priority() -> None:
    """Linux schedules threads one by one: the staff login hasher runs as SCHED_IDLE (a kiosk
    request that wakes up preempts it at once; nice 19 alone still waits for the scheduler's
    wake-up granularity, a few ms at p99), or at nice 19 where SCHED_IDLE is not allowed."""
    tid = threading.get_native_id()
    try:
        os.sched_setscheduler(tid, os.SCHED_IDLE, os.sched_param(0))
    except (OSError, AttributeError):
        with contextlib.suppress(OSError, AttributeError):
            os.setpriority(os.PRIO_PROCESS, tid, 19)


CLOCK_FLAG_S = 120.0  # a kiosk clock further off than this is flagged for staff


def _now() -> datetime:
    return datetime.now(UTC)


def _parse(moment: str | None) -> datetime | None:
    if not moment:
        return None
    try:
        value = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _status(raw: str | None) -> dict[str, Any]:
    try:
        value = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def kiosk_state(last_seen: datetime | None, status: dict[str, Any],
                now: datetime) -> tuple[str, float | None]:
    """("online" | "offline" | "silent", seconds since the last heartbeat)."""
    if last_seen is None:
        return "silent", None
    age = max(0.0, (now - last_seen).total_seconds())
    try:
        beat = float(status.get("heartbeat_s") or DEFAULT_HEARTBEAT_S)
    except (TypeError, ValueError):
        beat = DEFAULT_HEARTBEAT_S
    if age > max(MIN_SILENT_S, SILENT_AFTER_BEATS * beat):
        return "silent", age
    return ("offline" if status.get("online") is False else "online"), age


def fleet(db: Database, *, now: datetime | None = None) -> dict[str, Any]:
    now = now or _now()
    today = library_day(now).isoformat()
    with db.read() as conn:
        kiosks = conn.execute("SELECT kiosk_id, name, branch, last_seen, last_status, "
                              "clock_skew_s, status_problem "
                              "FROM kiosks ORDER BY branch, name, kiosk_id").fetchall()
        conflicts = dict(conn.execute("SELECT kiosk_id, COUNT(*) FROM conflicts WHERE "
                                      "resolved_at IS NULL GROUP BY kiosk_id").fetchall())
        events: dict[tuple[str, str], int] = {
            (row[0], row[1]): row[2] for row in conn.execute(
                "SELECT kiosk_id, kind, COUNT(*) FROM events WHERE day = ? "
                "GROUP BY kiosk_id, kind", (today,))}
    rows = []
    for k in kiosks:
        try:
            rows.append(_fleet_row(k, conflicts, events, now))
        except Exception as exc:
            log.error("fleet: kiosk %s has a status the dashboard cannot show: %s",
                      k["kiosk_id"], type(exc).__name__)
            rows.append({"kiosk_id": k["kiosk_id"], "name": k["name"], "branch": k["branch"],
                         "state": "unknown", "last_seen": None, "silent_for_s": None,
                         "queue_depth": 0, "quarantined": 0, "oldest_pending_age_s": None,
                         "faults": ["status unreadable"], "clock_skew_s": None,
                         "status_problem": "status unreadable", "conflicts": 0,
                         "loans_today": 0, "returns_today": 0, "renewals_today": 0,
                         "version": "", "update_failed": None, "profile": None})
    return {"generated_at": now.isoformat(timespec="seconds"), "day": today, "kiosks": rows}


def _fleet_row(k: Any, conflicts: dict[str, int], events: dict[tuple[str, str], int],
               now: datetime) -> dict[str, Any]:
    status = _status(k["last_status"])
    last_seen = _parse(k["last_seen"])
    state, age = kiosk_state(last_seen, status, now)
    raw_queue = status.get("queue")
    queue: dict[str, Any] = raw_queue if isinstance(raw_queue, dict) else {}
    faults = [str(f) for f in status.get("faults") or [] if isinstance(f, str)][:20]
    skew = k["clock_skew_s"]
    if skew is not None and abs(skew) > CLOCK_FLAG_S:
        faults.append("clock")
    return {
        "kiosk_id": k["kiosk_id"], "name": k["name"], "branch": k["branch"],
        "state": state, "last_seen": k["last_seen"],
        "silent_for_s": round(age, 1) if age is not None else None,
        "queue_depth": _int(queue.get("pending")),
        "quarantined": _int(queue.get("quarantined")),
        "oldest_pending_age_s": queue.get("oldest_pending_age_s"),
        "faults": faults,
        "clock_skew_s": skew,
        "status_problem": k["status_problem"],
        "conflicts": int(conflicts.get(k["kiosk_id"], 0)),
        "loans_today": events.get((k["kiosk_id"], "checkout"), 0),
        "returns_today": events.get((k["kiosk_id"], "checkin"), 0),
        "renewals_today": events.get((k["kiosk_id"], "renew"), 0),
        "version": str(status.get("version", ""))[:40],
        "update_failed": _update_failed(status.get("last_update")),
        "profile": _profile(status.get("profile")),
    }


def _profile(state: Any) -> dict[str, Any] | None:
    """The central profile a kiosk runs with, the one waiting, and a refusal or rollback."""
    if not isinstance(state, dict):
        return None
    last = state.get("last")
    problem = None
    if isinstance(last, dict) and last.get("outcome") in ("refused", "rolled back") \
            and last.get("version") != state.get("running"):
        problem = {"version": str(last.get("version", ""))[:16],
                   "outcome": str(last["outcome"]), "why": str(last.get("why", ""))[:300]}
    pending = state.get("pending")
    return {"running": str(state.get("running", ""))[:16],
            "pending": str(pending)[:16] if pending else None, "problem": problem}


def _update_failed(last: Any) -> dict[str, str] | None:
    """The version a kiosk tried and went back from, and why; None when its last update
    went well (or it never had one). A kiosk's words, so cut short and kept as text."""
    if not isinstance(last, dict) or last.get("ok") is not False:
        return None
    return {"tried": str(last.get("tried", ""))[:40], "reason": str(last.get("reason", ""))[:200],
            "at": str(last.get("at", ""))[:40]}


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def conflicts(db: Database, *, include_resolved: bool = False) -> list[dict[str, Any]]:
    where = "" if include_resolved else "WHERE c.resolved_at IS NULL"
    with db.read() as conn:
        rows = conn.execute(
            "SELECT c.conflict_id, c.tx_id, c.tx, c.reason, c.kiosk_id, c.created, "
            "c.resolved_at, c.resolved_by, k.name AS kiosk_name, k.branch "
            f"FROM conflicts c LEFT JOIN kiosks k ON k.kiosk_id = c.kiosk_id {where} "
            "ORDER BY c.resolved_at IS NOT NULL, c.created, c.conflict_id").fetchall()
        titles: dict[str, str] = {}
        result = []
        for r in rows:
            tx = _status(r["tx"])
            item_id = str(tx.get("item_id") or "")
            if item_id and item_id not in titles:
                found = conn.execute("SELECT title FROM items WHERE item_id = ?",
                                     (item_id,)).fetchone()
                titles[item_id] = str(found["title"]) if found else ""
            result.append({
                "conflict_id": r["conflict_id"], "tx_id": r["tx_id"],
                "kind": str(tx.get("kind") or ""), "item_id": item_id,
                "title": titles.get(item_id, ""), "patron_id": tx.get("patron_id"),
                "happened_at": tx.get("created_at"), "offline": bool(tx.get("offline")),
                "reason": r["reason"], "kiosk_id": r["kiosk_id"],
                "kiosk_name": r["kiosk_name"] or r["kiosk_id"], "branch": r["branch"] or "",
                "received_at": r["created"], "resolved_at": r["resolved_at"],
                "resolved_by": r["resolved_by"],
            })
    return result


def resolve_conflict(db: Database, conflict_id: int, staff: str) -> str:
    """"resolved", "already" or "missing"."""
    with db.write() as conn:
        row = conn.execute("SELECT resolved_at FROM conflicts WHERE conflict_id = ?",
                           (conflict_id,)).fetchone()
        if row is None:
            return "missing"
        if row["resolved_at"] is not None:
            return "already"
        conn.execute("UPDATE conflicts SET resolved_at = ?, resolved_by = ? "
                     "WHERE conflict_id = ?",
                     (_now().isoformat(timespec="seconds"), f"staff:{staff}", conflict_id))
    log.info("conflict %d resolved by %s", conflict_id, staff)
    return "resolved"


def _page(name: str) -> Response:
    return FileResponse(TEMPLATES / name, media_type="text/html; charset=utf-8",
                        headers=_SECURITY_HEADERS)


def _json(payload: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(payload, status_code=status, headers=_SECURITY_HEADERS)


def _error(status: int, code: str, message: str) -> JSONResponse:
    return _json({"error": {"code": code, "message": message}}, status)


def mount_dashboard(app: FastAPI, db: Database, *,
                    clock: Callable[[], datetime] = _now) -> StaffAuth:
    """Add the /staff routes to the central service's app."""
    auth = StaffAuth(db)
    app.state.staff_auth = auth
    routes = _StaffRoutes(auth, db, clock)
    routes.pages(app)
    routes.session(app)
    routes.fleet(app)
    routes.history(app)
    routes.words(app)
    mount_insights(app, db, who=routes.who, page=_page, answer=_json, today=clock)
    forms = StaffForms(who=routes.who, page=_page, posted_by_us=routes.posted_by_us,
                       answer=_json)
    mount_experiments(app, db, forms, today=clock)
    mount_messages(app, db, forms)
    mount_profiles(app, db, forms)
    return auth


class _StaffRoutes:
    """The staff side's routes, and who is asking."""

    def __init__(self, auth: StaffAuth, db: Database, clock: Callable[[], datetime]) -> None:
        self.auth = auth
        self.db = db
        self.clock = clock
        # password hashing costs ~50 ms of CPU: never on the event loop, one at a time in a
        # thread of its own at the lowest CPU priority (kiosks' requests go first whenever they
        # need the core), and a queue of more than 8 waiting logins is refused
        self.hasher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="staff-hash",
                                         initializer=_lowest_priority)
        self.waiting = 0
        # one budget for the whole service, however many worker processes share it
        self.budget = SharedBucket(db, "password-checks", rate=HASHES_PER_S, burst=HASH_BURST)

    def bearer(self, request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            return self.auth.api_token(header[7:].strip())
        return None

    def who(self, request: Request) -> str | None:
        return self.bearer(request) or self.auth.session(request.cookies.get(COOKIE))

    def posted_by_us(self, request: Request) -> bool:
        """A state change with the session cookie needs our header, which a cross-site form
        cannot send; one with an API token (no cookie involved) does not."""
        return request.headers.get("x-staff-request") == "1" or self.bearer(request) is not None

    def pages(self, app: FastAPI) -> None:
        """The dashboard and login pages and their static files."""

        @app.get("/staff", include_in_schema=False)
        def staff_root() -> Response:
            return RedirectResponse("/staff/", status_code=303)

        @app.get("/staff/", include_in_schema=False)
        def dashboard_page(request: Request) -> Response:
            if self.who(request) is None:
                return RedirectResponse("/staff/login", status_code=303)
            return _page("dashboard.html")

        @app.get("/staff/login", include_in_schema=False)
        def login_page() -> Response:
            return _page("login.html")

        @app.get("/staff/static/{name}", include_in_schema=False)
        def static(name: str) -> Response:
            return _static(name)

    def session(self, app: FastAPI) -> None:
        """Logging in and out."""

        @app.post("/staff/api/login", include_in_schema=False)
        async def login(request: Request) -> Response:
            if not self.posted_by_us(request):
                return _error(403, "forbidden", "missing X-Staff-Request header")
            try:
                body = await request.json()
                name, password = str(body["name"]), str(body["password"])
            except (ValueError, KeyError, TypeError, RecursionError):
                return _error(422, "invalid_request", "send JSON with name and password")
            return await self._login(request, name, password)

        @app.post("/staff/api/logout", include_in_schema=False)
        def logout(request: Request) -> Response:
            if not self.posted_by_us(request):
                return _error(403, "forbidden", "missing X-Staff-Request header")
            self.auth.logout(request.cookies.get(COOKIE))
            response = _json({"ok": True})
            response.delete_cookie(COOKIE, path="/staff")
            return response

    async def _login(self, request: Request, name: str, password: str) -> Response:
        # both read or write the database: off the event loop, as every query is
        locked = await run_in_threadpool(self.auth.locked_for, name)
        if locked:
            token = None
        elif self.waiting >= 8 or not await run_in_threadpool(self.budget.take):
            return _error(429, "busy", "too many logins at once; try again in a moment")
        else:
            self.waiting += 1
            try:
                token = await asyncio.get_running_loop().run_in_executor(
                    self.hasher, self.auth.login, name, password)
            finally:
                self.waiting -= 1
        if token is None:
            message = (f"too many wrong passwords; try again in {locked:.0f} s" if locked
                       else "wrong name or password")
            return _error(401, "unauthorized", message)
        response = _json({"ok": True, "name": name})
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/staff",
                            secure=request.url.scheme == "https",
                            max_age=int(self.auth._session.total_seconds()))
        return response

    def words(self, app: FastAPI) -> None:
        """The staff pages' words in the staff member's language (central/staff_i18n.py)."""

        @app.get("/staff/api/strings", include_in_schema=False)
        def strings_json(request: Request) -> Response:
            language = staff_i18n.choose(request.cookies.get(staff_i18n.COOKIE),
                                         request.headers.get("accept-language"))
            return _json({"language": language, "languages": staff_i18n.NAMES,
                          "strings": staff_i18n.strings(language)})

    def history(self, app: FastAPI) -> None:
        """The fleet over time, for the charts (central/fleet_series.py)."""

        @app.get("/staff/api/series", include_in_schema=False)
        def series_json(request: Request, span: str = "24h") -> Response:
            if self.who(request) is None:
                return _error(401, "unauthorized", "log in at /staff/login")
            if span not in fleet_series.SPANS:
                return _error(400, "bad_span", f"span is one of {', '.join(fleet_series.SPANS)}")
            return _json(fleet_series.series(self.db, span, self.clock()))

    def fleet(self, app: FastAPI) -> None:
        """The fleet and its conflicts, and staff resolving one."""

        @app.get("/staff/api/fleet", include_in_schema=False)
        def fleet_json(request: Request) -> Response:
            staff = self.who(request)
            if staff is None:
                return _error(401, "unauthorized", "log in at /staff/login")
            return _json({**fleet(self.db, now=self.clock()), "staff": staff})

        @app.get("/staff/api/conflicts", include_in_schema=False)
        def conflicts_json(request: Request, all: int = 0) -> Response:
            if self.who(request) is None:
                return _error(401, "unauthorized", "log in at /staff/login")
            return _json({"conflicts": conflicts(self.db, include_resolved=bool(all))})

        @app.post("/staff/api/conflicts/{conflict_id}/resolve", include_in_schema=False)
        def resolve(conflict_id: int, request: Request) -> Response:
            staff = self.who(request)
            if staff is None:
                return _error(401, "unauthorized", "log in at /staff/login")
            if not self.posted_by_us(request):
                return _error(403, "forbidden", "missing X-Staff-Request header")
            outcome = resolve_conflict(self.db, conflict_id, staff)
            if outcome == "missing":
                return _error(404, "not_found", f"no conflict {conflict_id}")
            if outcome == "already":
                return _error(409, "already_resolved", f"conflict {conflict_id} was resolved "
                              "already")
            return _json({"ok": True, "conflict_id": conflict_id, "resolved_by": staff})


def _static(name: str) -> Response:
    """A file of the staff pages, by name only (no path can leave the folder)."""
    try:
        path = (STATIC / name).resolve()
        found = path.parent == STATIC and path.is_file() and path.suffix in _STATIC_TYPES
    except (ValueError, OSError):  # a NUL byte, a name too long
        found = False
    if not found:
        return _error(404, "not_found", "no such file")
    return FileResponse(path, media_type=_STATIC_TYPES[path.suffix],
                        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})
