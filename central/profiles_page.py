"""The staff routes of central profiles: the layers, the audit log, and setting a layer (a
login or an API token, and the X-Staff-Request header like every staff form)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, Response

from central import profiles
from central.db import Database
from central.insights_page import StaffForms


def mount_profiles(app: FastAPI, db: Database, forms: StaffForms) -> None:
    @app.get("/staff/profiles", include_in_schema=False)
    def profiles_page(request: Request) -> Response:
        return forms.show(request, "profiles.html")

    @app.get("/staff/api/profiles", include_in_schema=False)
    def profiles_json(request: Request) -> Response:
        return forms.refused(request) or forms.answer({
            "layers": profiles.layers(db), "changes": profiles.changes(db)})

    def set_layer(raw: dict[str, Any], staff: str) -> dict[str, Any]:
        return profiles.save(db, profiles.parse(raw), staff)

    @app.post("/staff/api/profiles", include_in_schema=False)
    async def set_route(request: Request) -> Response:
        return await forms.create(request, set_layer, profiles.BadProfile)
