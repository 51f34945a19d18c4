"""The staff's insights page and its data: /staff/insights, /staff/api/insights and the exports.

Why apart from central/dashboard.py: the fleet page is about kiosks, this one about patrons'
visits, and everything here goes through central/insights.py, where the privacy rule lives (no
figure under k visits). The routes only parse the scope and ask for the login.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response

from central import experiments, insights, messages
from central.db import Database, get_setting
from central.service import library_day

MAX_DAYS = 3 * 366
DEFAULT_DAYS = 30


class BadScope(ValueError):
    """A period or a kiosk staff cannot ask for."""


def scope_of(db: Database, today: date, start: str = "", end: str = "", kiosk: str = "",
             branch: str = "") -> insights.Scope:
    """The scope a page asks for (default: the last 30 days, the whole library)."""
    try:
        last = date.fromisoformat(end) if end else today
        first = date.fromisoformat(start) if start else last - timedelta(days=DEFAULT_DAYS - 1)
    except ValueError:
        raise BadScope("dates are YYYY-MM-DD") from None
    if first > last or (last - first).days >= MAX_DAYS:
        raise BadScope(f"the period runs forwards and spans at most {MAX_DAYS} days")
    with db.read() as conn:
        if kiosk and conn.execute("SELECT 1 FROM kiosks WHERE kiosk_id = ?",
                                  (kiosk,)).fetchone() is None:
            raise BadScope("no such kiosk")
        if branch and conn.execute("SELECT 1 FROM kiosks WHERE branch = ?",
                                   (branch,)).fetchone() is None:
            raise BadScope("no such branch")
    return insights.Scope(first, last, kiosk_id=kiosk, branch=branch if not kiosk else "")


def page_data(db: Database, scope: insights.Scope) -> dict[str, Any]:
    """Everything the page draws, and what the filters offer."""
    with db.read() as conn:
        kiosks = [{"kiosk_id": r["kiosk_id"], "name": r["name"], "branch": r["branch"]}
                  for r in conn.execute("SELECT kiosk_id, name, branch FROM kiosks"
                                        " ORDER BY branch, name")]
        demo = get_setting(conn, "insights_demo") == "true"
    return {**insights.summary(db, scope), "demo": demo,
            "satisfaction_by_week": insights.satisfaction_by_week(db, scope),
            "kiosk_choices": kiosks,
            "branch_choices": sorted({k["branch"] for k in kiosks})}


def mount_insights(app: FastAPI, db: Database, *, who: Callable[[Request], str | None],
                   page: Callable[[str], Response],
                   answer: Callable[..., Response],
                   today: Callable[[], datetime]) -> None:
    """Add the insights routes; `who` is the logged-in staff member (or None), `page` and
    `answer` the dashboard's own page and JSON responses (same security headers)."""

    def scoped(request: Request) -> insights.Scope | Response:
        if who(request) is None:
            return answer({"error": {"code": "unauthorized",
                                     "message": "log in at /staff/login"}}, 401)
        q = request.query_params
        try:
            return scope_of(db, library_day(today()), q.get("start", ""), q.get("end", ""),
                            q.get("kiosk", ""), q.get("branch", ""))
        except BadScope as exc:
            return answer({"error": {"code": "invalid_request", "message": str(exc)}}, 422)

    @app.get("/staff/insights", include_in_schema=False)
    def insights_page(request: Request) -> Response:
        if who(request) is None:
            return Response(status_code=303, headers={"Location": "/staff/login"})
        return page("insights.html")

    @app.get("/staff/api/insights", include_in_schema=False)
    def insights_json(request: Request) -> Response:
        scope = scoped(request)
        if isinstance(scope, Response):
            return scope
        return answer(page_data(db, scope))

    @app.get("/staff/api/insights/export.{fmt}", include_in_schema=False)
    def export(fmt: str, request: Request) -> Response:
        """The page's figures as CSV or as open-data JSON (the same suppression)."""
        scope = scoped(request)
        if isinstance(scope, Response):
            return scope
        if fmt not in _EXPORTS:
            return answer({"error": {"code": "not_found", "message": "csv or json"}}, 404)
        write, media = _EXPORTS[fmt]
        return _download(write(insights.summary(db, scope)), scope, fmt, media)


class StaffForms:
    """What every staff page and form route does first: the login, the CSRF header, the JSON
    body, and a form error as a 422 that says what to change."""

    def __init__(self, *, who: Callable[[Request], str | None],
                 page: Callable[[str], Response], posted_by_us: Callable[[Request], bool],
                 answer: Callable[..., Response]) -> None:
        self.who, self.page, self.posted_by_us, self.answer = who, page, posted_by_us, answer

    def show(self, request: Request, name: str) -> Response:
        if self.who(request) is None:
            return Response(status_code=303, headers={"Location": "/staff/login"})
        return self.page(name)

    def refused(self, request: Request) -> Response | None:
        if self.who(request) is None:
            return self.answer({"error": {"code": "unauthorized", "message": "log in"}}, 401)
        return None

    async def create(self, request: Request, make: Callable[[dict[str, Any], str], Any],
                     invalid: type[ValueError]) -> Response:
        """`make(body, staff)` parses and saves; its `invalid` errors are the form's."""
        staff = self.who(request)
        if staff is None:
            return self.answer({"error": {"code": "unauthorized", "message": "log in"}}, 401)
        if not self.posted_by_us(request):
            return self.answer({"error": {"code": "forbidden",
                                          "message": "missing X-Staff-Request header"}}, 403)
        try:
            raw = await request.json()
            if not isinstance(raw, dict):
                raise invalid("send a JSON object")
            made = make(raw, staff)
        except (ValueError, RecursionError) as exc:  # the form's own error, or not JSON
            text = str(exc) if isinstance(exc, invalid) else "not JSON"
            return self.answer({"error": {"code": "invalid_request", "message": text}}, 422)
        return self.answer({"ok": True, **made}, 201)


def mount_experiments(app: FastAPI, db: Database, forms: StaffForms, *,
                      today: Callable[[], datetime]) -> None:
    """Staff define experiments and read their results (central/experiments.py)."""

    @app.get("/staff/experiments", include_in_schema=False)
    def experiments_page(request: Request) -> Response:
        return forms.show(request, "experiments.html")

    @app.get("/staff/api/experiments", include_in_schema=False)
    def experiments_json(request: Request) -> Response:
        day = library_day(today())
        return forms.refused(request) or forms.answer({
            "experiments": [experiments.result(db, e, today=day) for e in experiments.every(db)],
            "factors": experiments.FACTORS, "outcomes": experiments.OUTCOMES})

    def define(raw: dict[str, Any], staff: str) -> dict[str, Any]:
        experiment = experiments.parse(raw)
        experiments.save(db, experiment, staff)
        return {"name": experiment.name}

    @app.post("/staff/api/experiments", include_in_schema=False)
    async def define_route(request: Request) -> Response:
        return await forms.create(request, define, experiments.BadExperiment)


def mount_messages(app: FastAPI, db: Database, forms: StaffForms) -> None:
    """Staff publish messages to patrons and see how often each was shown."""

    @app.get("/staff/messages", include_in_schema=False)
    def messages_page(request: Request) -> Response:
        return forms.show(request, "messages.html")

    @app.get("/staff/api/messages", include_in_schema=False)
    def messages_json(request: Request) -> Response:
        return forms.refused(request) or forms.answer({"messages": [m.as_sent() | {
            "start": m.start.isoformat(), "kiosks": list(m.kiosks),
            "branches": list(m.branches), "shown": m.shown} for m in messages.every(db)]})

    def publish(raw: dict[str, Any], staff: str) -> dict[str, Any]:
        return {"message_id": messages.publish(db, messages.parse(raw), staff)}

    @app.post("/staff/api/messages", include_in_schema=False)
    async def publish_route(request: Request) -> Response:
        return await forms.create(request, publish, messages.BadMessage)


_EXPORTS: dict[str, tuple[Callable[[dict[str, Any]], str], str]] = {
    "csv": (insights.export_csv, "text/csv"), "json": (insights.export_json, "application/json")}


def _download(body: str, scope: insights.Scope, suffix: str, media: str) -> Response:
    name = f"kiosk-insights-{scope.start.isoformat()}-{scope.end.isoformat()}.{suffix}"
    return Response(body, media_type=f"{media}; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{name}"',
        "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})
