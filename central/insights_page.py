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

from central import experiments, insights
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


def mount_experiments(app: FastAPI, db: Database, *, who: Callable[[Request], str | None],
                      posted_by_us: Callable[[Request], bool],
                      answer: Callable[..., Response],
                      today: Callable[[], datetime]) -> None:
    """Staff define experiments and read their results (central/experiments.py)."""

    @app.get("/staff/api/experiments", include_in_schema=False)
    def experiments_json(request: Request) -> Response:
        if who(request) is None:
            return answer({"error": {"code": "unauthorized", "message": "log in"}}, 401)
        day = library_day(today())
        return answer({"experiments": [experiments.result(db, e, today=day)
                                       for e in experiments.every(db)],
                       "factors": experiments.FACTORS, "outcomes": experiments.OUTCOMES})

    @app.post("/staff/api/experiments", include_in_schema=False)
    async def define(request: Request) -> Response:
        staff = who(request)
        if staff is None:
            return answer({"error": {"code": "unauthorized", "message": "log in"}}, 401)
        if not posted_by_us(request):
            return answer({"error": {"code": "forbidden",
                                     "message": "missing X-Staff-Request header"}}, 403)
        try:
            raw = await request.json()
            if not isinstance(raw, dict):
                raise experiments.BadExperiment("send the experiment as a JSON object")
            experiment = experiments.parse(raw)
            experiments.save(db, experiment, staff)
        except (ValueError, RecursionError) as exc:  # BadExperiment, or not JSON at all
            message = str(exc) if isinstance(exc, experiments.BadExperiment) else "not JSON"
            return answer({"error": {"code": "invalid_request", "message": message}}, 422)
        return answer({"ok": True, "name": experiment.name}, 201)


_EXPORTS: dict[str, tuple[Callable[[dict[str, Any]], str], str]] = {
    "csv": (insights.export_csv, "text/csv"), "json": (insights.export_json, "application/json")}


def _download(body: str, scope: insights.Scope, suffix: str, media: str) -> Response:
    name = f"kiosk-insights-{scope.start.isoformat()}-{scope.end.isoformat()}.{suffix}"
    return Response(body, media_type=f"{media}; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{name}"',
        "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})
