"""Kiosk Catalog API v1: the HTTP face of `central.service`.

Contract, in short (the full schema is `central/openapi.json`):

* Business answers are ALWAYS HTTP 200 with `{"ok": bool, "reason": <ReasonCode>, ...}`. That is
  what lets a replayed transaction return its first answer verbatim, whatever it was.
* 401 `{"error": {"code": "unauthorized", ...}}` for a missing or unknown bearer token, 403 when a
  kiosk speaks for another kiosk, 422 `invalid_request` for a body that is not the protocol.
* 5xx only for faults: 503 with Retry-After when the database is busy, 500 otherwise.

Validation errors never echo the submitted values back (they may hold a PIN).
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from starlette.exceptions import HTTPException as StarletteHTTPException

from central.db import UNAVAILABLE_ERRORS, Database, StorageError
from central.insights import store_visits
from central.service import BATCH_LIMIT, CirculationService, InvalidTx, TxIn, iso, utcnow
from domain import logs
from domain.model import TransactionKind

log = logging.getLogger(__name__)

API_VERSION = "1.0.0"

Id = Annotated[str, Field(min_length=1, max_length=64)]


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# ---------------------------------------------------------------- request bodies


class AccountRequest(BaseModel):
    """In the body, not the URL: URLs end up in reverse-proxy access logs."""

    model_config = ConfigDict(extra="forbid")
    patron_id: Annotated[str, Field(min_length=1, max_length=64)]

    def __repr__(self) -> str:
        return "AccountRequest(patron_id=<hidden>)"


class IdentifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["barcode", "card_uid", "eid"]
    value: Annotated[str, Field(min_length=1, max_length=64)]
    pin: Annotated[str, Field(min_length=1, max_length=32)] | None = None

    def __repr__(self) -> str:
        return f"IdentifyRequest(kind={self.kind})"


class _TxBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    tx_id: Id
    item_id: Id
    created_at: datetime
    kiosk_id: Annotated[str, Field(max_length=64)] = ""

    _aware_created = field_validator("created_at")(_aware)


class CheckoutRequest(_TxBody):
    patron_id: Id


class RenewRequest(_TxBody):
    patron_id: Id


class CheckinRequest(_TxBody):
    patron_id: Annotated[str, Field(max_length=64)] | None = None


STACK_LIMIT = 50  # items a patron can put down at once, with room to spare (a pad holds ~20)


class StackEntry(_TxBody):
    """One item of a stack; `patron_id` may be empty only for a return."""

    kind: Literal["checkout", "checkin", "renew"]
    patron_id: Annotated[str, Field(max_length=64)] | None = None

    @model_validator(mode="after")
    def _patron_for_loans(self) -> StackEntry:
        if self.kind != "checkin" and not self.patron_id:
            raise ValueError(f"a {self.kind} needs a patron_id")
        return self


class StackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    transactions: list[StackEntry] = Field(
        min_length=1, max_length=STACK_LIMIT,
        description="Items a patron put down together, answered in this order, each "
                    "idempotent by (kiosk, tx_id) like a single checkout, checkin or renew.")


class BatchTransaction(BaseModel):
    """One journaled transaction; `ref_tx_id` only for kind `void`."""

    model_config = ConfigDict(extra="ignore")
    tx_id: Id
    kind: TransactionKind
    patron_id: Annotated[str, Field(max_length=64)] | None = None
    item_id: Annotated[str, Field(max_length=64)] | None = None
    created_at: datetime
    offline: bool = False
    ref_tx_id: Annotated[str, Field(max_length=64)] | None = None
    kiosk_id: Annotated[str, Field(max_length=64)] = ""
    # an offline loan: the due date the kiosk promised the patron (honoured when plausible)
    due: date | None = None

    _aware_created = field_validator("created_at")(_aware)


class BatchRequest(BaseModel):
    transactions: list[dict[str, Any]] = Field(
        max_length=BATCH_LIMIT,
        description="Up to 500 BatchTransaction objects, applied in order. An entry that is "
                    "not a valid BatchTransaction is answered `rejected` on its own.",
    )


class HeartbeatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    kiosk_id: Annotated[str, Field(max_length=64)] = ""


# ---------------------------------------------------------------- response bodies


class HealthReply(BaseModel):
    status: str
    server_time: str


class PatronOut(BaseModel):
    patron_id: str
    name: str
    blocked: bool
    block_reason: str | None
    loan_count: int
    loan_limit: int | None
    holds_ready: int = 0
    email_hint: str = ""  # "m•••@example.org" when the library holds an address
    category: str = ""  # the library's patron category (adult, child ...): messages aim at it


class IdentifyReply(BaseModel):
    ok: bool
    reason: str
    patron: PatronOut | None = None


class LoanOut(BaseModel):
    item_id: str
    title: str
    due: str
    renewals: int


class HoldOut(BaseModel):
    item_id: str
    title: str
    ready: bool
    pickup_until: str | None
    pickup_place: str = ""


class AccountReply(BaseModel):
    ok: bool
    reason: str
    patron: PatronOut | None
    loans: list[LoanOut]
    holds: list[HoldOut]
    fines_cents: int


class ContactReply(BaseModel):
    """The address receipts go to: asked for only when one is sent, never kept by a kiosk."""

    ok: bool
    reason: str
    email: str | None


class ItemOut(BaseModel):
    item_id: str
    title: str
    author: str
    loanable: bool
    on_loan: bool
    on_hold_for_other: bool
    parts: int


class ItemReply(BaseModel):
    ok: bool
    reason: str
    item: ItemOut | None = None


class OutcomeOut(BaseModel):
    ok: bool
    reason: str
    tx_id: str
    item_id: str
    title: str
    due: str | None
    screen_message: str
    hold_shelf: bool
    sort_bin: str
    renewed: bool = False  # a checkout of the patron's own loan: renewed instead


class StackReply(BaseModel):
    outcomes: list[OutcomeOut]


class BatchResultOut(BaseModel):
    tx_id: str
    status: Literal["done", "conflict", "rejected"]
    outcome: OutcomeOut | None
    detail: str


class BatchReply(BaseModel):
    results: list[BatchResultOut]


class HeartbeatReply(BaseModel):
    ok: bool
    server_time: str
    checkout_ok: bool
    checkin_ok: bool
    offline_ok: bool
    screen_message: str
    clock_skew_s: float | None = None  # the kiosk's clock minus the server's, when it said
    resolved: list[str] = []  # this kiosk's conflicts staff resolved (last 30 days)
    # the experiments this kiosk runs today (central/experiments.py): name, factor, end,
    # variants [{name, value}]; each visit is assigned one variant of each at random
    experiments: list[dict[str, Any]] = []
    # messages to patrons this kiosk shows today (central/messages.py): message_id, texts,
    # end, audience ("" everyone on the idle screen, else a patron category)
    messages: list[dict[str, Any]] = []
    # this kiosk's central profile (central/profiles.py): {version, settings}, the merge of
    # the library's, its branch's and its own layer; settings {} when none is set
    profile: dict[str, Any] | None = None


class VisitsRequest(BaseModel):
    """Anonymous visit records (domain/visits.py); each is checked on its own, so one a
    newer kiosk writes differently does not hold back the rest."""

    visits: Annotated[list[dict[str, Any]], Field(max_length=500)]


class VisitsReply(BaseModel):
    settled: list[str]  # visit ids the kiosk may forget: stored (now or before) or refused
    stored: int  # new ones
    rejected: int  # not valid visit records (never stored)


class ErrorBody(BaseModel):
    code: str
    message: str


class ErrorReply(BaseModel):
    error: ErrorBody


_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorReply, "description": "Missing or unknown bearer token"},
    403: {"model": ErrorReply, "description": "The token's kiosk may not act for this kiosk"},
    422: {"model": ErrorReply, "description": "The request body is not the protocol"},
    503: {"model": ErrorReply, "description": "Busy; retry after the Retry-After header"},
}

_batch_entry = TypeAdapter(BatchTransaction)
_bearer = HTTPBearer(auto_error=False, description="Per-kiosk token (`kiosk-central add-kiosk`)")


def _error(status: int, code: str, message: str,
           headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status,
                        headers=headers)


def _parse_entry(raw: dict[str, Any]) -> TxIn | InvalidTx:
    tx_id = raw.get("tx_id")
    try:
        entry = _batch_entry.validate_python(raw)
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) or "?" for e in exc.errors())
        return InvalidTx(str(tx_id) if tx_id else "", f"invalid transaction: {fields}")
    if entry.kind is not TransactionKind.VOID and not entry.item_id:
        return InvalidTx(entry.tx_id, "invalid transaction: item_id is required")
    if entry.kind in (TransactionKind.CHECKOUT, TransactionKind.RENEW) and not entry.patron_id:
        return InvalidTx(entry.tx_id, "invalid transaction: patron_id is required")
    return TxIn(tx_id=entry.tx_id, kind=entry.kind, item_id=entry.item_id,
                created_at=entry.created_at, kiosk_id=entry.kiosk_id,
                patron_id=entry.patron_id, offline=entry.offline, ref_tx_id=entry.ref_tx_id,
                due=entry.due)


def _kiosk(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """The authenticated kiosk's id, from its bearer token."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ApiError(401, "unauthorized", "missing bearer token")
    service: CirculationService = request.app.state.service
    kiosk_id = service.authenticate(credentials.credentials)
    if kiosk_id is None:
        raise ApiError(401, "unauthorized", "unknown or revoked token")
    return kiosk_id


Kiosk = Annotated[str, Depends(_kiosk)]


# Request bodies: a kiosk's request is a few hundred bytes, a batch of 500 journal rows ~250 KB.
# Anything larger is refused (413) before it is read, whoever sends it: FastAPI's own limit
# answers from the Content-Length, and counts a chunked body as it arrives.
MAX_BODY_BYTES = 1024 * 1024
MAX_BATCH_BODY_BYTES = 8 * 1024 * 1024


def app_from_environment() -> FastAPI:
    """The app of one worker process of `kiosk-central serve --workers N`: each opens its own
    connections to the database named by $KIOSK_CENTRAL_DB (a fork must not share them), and
    logs as $KIOSK_CENTRAL_LOG_FORMAT says (a spawned worker starts with no handler)."""
    logs.configure(logs.style_from_environment("KIOSK_CENTRAL_LOG_FORMAT"),
                   identifier="kiosk-central")
    return create_app(os.environ["KIOSK_CENTRAL_DB"])


def create_app(db_path: str | Path, *, service: CirculationService | None = None,
               max_body_bytes: int = MAX_BODY_BYTES,
               max_batch_body_bytes: int = MAX_BATCH_BODY_BYTES) -> FastAPI:
    """The service over the database at `db_path` (created and migrated if needed)."""
    if service is None:
        service = CirculationService(Database(db_path))
    circulation = service

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        circulation.db.close()

    app = FastAPI(
        title="Kiosk Catalog API", version=API_VERSION, lifespan=lifespan,
        max_body_size=max_body_bytes,
        description="What a self-service library kiosk needs from the library's central system. "
                    "Business answers are always HTTP 200 with ok/reason; see central/api.py.",
    )
    app.state.service = circulation
    # --- staff fleet dashboard (issue 6): /staff routes live in central/dashboard.py ---
    from central.dashboard import mount_dashboard

    mount_dashboard(app, circulation.db)
    from central.metrics import mount_metrics

    mount_metrics(app, circulation.db)
    _answer_errors(app)
    _patron_routes(app, circulation)
    _circulation_routes(app, circulation, max_batch_body_bytes)
    _insights_routes(app, circulation.db)
    app.openapi = functools.partial(_openapi, app)  # type: ignore[method-assign]
    return app


def _answer_errors(app: FastAPI) -> None:
    """Every failure as the protocol's error JSON, never a stack trace."""

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(
            exc.status_code, "http_error")
        return _error(exc.status_code, code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        return _error(422, "invalid_request", problems or "invalid request")

    async def busy(_: Request, exc: Exception) -> JSONResponse:
        log.error("database busy or failing: %s", exc)
        return _error(503, "unavailable", "database busy; retry shortly", {"Retry-After": "2"})

    for error in UNAVAILABLE_ERRORS:  # SQLite busy or locked, PostgreSQL gone or pool empty
        app.add_exception_handler(error, busy)

    @app.exception_handler(StorageError)
    async def storage(_: Request, exc: StorageError) -> JSONResponse:
        log.error("storage fault: %s", exc)
        return _error(503, "unavailable", "storage unavailable", {"Retry-After": "5"})

    @app.exception_handler(Exception)
    async def fault(_: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error")
        return _error(500, "internal_error", "internal error; see the service log")


def _acting_for(kiosk_id: str, claimed: str) -> str:
    if claimed and claimed != kiosk_id:
        raise ApiError(403, "forbidden", f"this token belongs to kiosk {kiosk_id!r}")
    return kiosk_id


def _patron_routes(app: FastAPI, circulation: CirculationService) -> None:
    """Health, who a card is, a patron's account, an item."""

    @app.get("/v1/health", response_model=HealthReply, tags=["service"])
    def health() -> dict[str, Any]:
        """Liveness for load balancers and the kiosk's connectivity probe (no auth)."""
        circulation.db.one("SELECT 1")
        return {"status": "ok", "server_time": iso(utcnow())}

    @app.post("/v1/patrons/identify", response_model=IdentifyReply, responses=_ERRORS,
              tags=["patrons"])
    def identify(body: IdentifyRequest, _kiosk: Kiosk) -> dict[str, Any]:
        """Who is this card? ok=false with unknown_patron, pin_required or wrong_pin."""
        return circulation.identify(body.kind, body.value, body.pin)

    @app.post("/v1/patrons/account", response_model=AccountReply, responses=_ERRORS,
              tags=["patrons"])
    def account(body: AccountRequest, _kiosk: Kiosk) -> dict[str, Any]:
        """Loans, holds and fines, for the patron's account screen (patron id in the body,
        never in the URL, so no access log anywhere records who looked)."""
        return circulation.account(body.patron_id)

    @app.post("/v1/patrons/contact", response_model=ContactReply, responses=_ERRORS,
              tags=["patrons"])
    def contact(body: AccountRequest, _kiosk: Kiosk) -> dict[str, Any]:
        """The patron's e-mail address, for a receipt the patron asked for at the kiosk; a
        kiosk asks for it when it sends, and forgets it once sent."""
        return circulation.contact(body.patron_id)

    @app.get("/v1/items/{item_id}", response_model=ItemReply, responses=_ERRORS, tags=["items"])
    def item(item_id: str, _kiosk: Kiosk, patron_id: str | None = None) -> dict[str, Any]:
        """Title, parts and availability; `patron_id` tells whose hold counts as "other"."""
        return circulation.item(item_id, patron_id)


def _circulation_routes(app: FastAPI, circulation: CirculationService,
                        max_batch_body_bytes: int) -> None:
    """Loans, returns, renewals, the offline replay and the kiosk's heartbeat."""

    @app.post("/v1/checkout", response_model=OutcomeOut, responses=_ERRORS,
              tags=["circulation"])
    def checkout(body: CheckoutRequest, kiosk_id: Kiosk) -> dict[str, Any]:
        """Lend an item (renews if the patron already has it). Idempotent by tx_id."""
        return circulation.transact(TxIn(
            tx_id=body.tx_id, kind=TransactionKind.CHECKOUT, item_id=body.item_id,
            created_at=body.created_at, kiosk_id=_acting_for(kiosk_id, body.kiosk_id),
            patron_id=body.patron_id))

    @app.post("/v1/checkin", response_model=OutcomeOut, responses=_ERRORS,
              tags=["circulation"])
    def checkin(body: CheckinRequest, kiosk_id: Kiosk) -> dict[str, Any]:
        """Take an item back; says whether it goes to the hold shelf and which bin."""
        return circulation.transact(TxIn(
            tx_id=body.tx_id, kind=TransactionKind.CHECKIN, item_id=body.item_id,
            created_at=body.created_at, kiosk_id=_acting_for(kiosk_id, body.kiosk_id),
            patron_id=body.patron_id))

    @app.post("/v1/renew", response_model=OutcomeOut, responses=_ERRORS, tags=["circulation"])
    def renew(body: RenewRequest, kiosk_id: Kiosk) -> dict[str, Any]:
        """Extend a loan; refused past the renewal limit or when someone waits for it."""
        return circulation.transact(TxIn(
            tx_id=body.tx_id, kind=TransactionKind.RENEW, item_id=body.item_id,
            created_at=body.created_at, kiosk_id=_acting_for(kiosk_id, body.kiosk_id),
            patron_id=body.patron_id))

    @app.post("/v1/circulation/stack", response_model=StackReply, responses=_ERRORS,
              tags=["circulation"])
    def stack(body: StackRequest, kiosk_id: Kiosk) -> dict[str, Any]:
        """Lend, take back or renew the items a patron put down together, in one request and
        one database transaction: one answer per item, in order (a refusal is an answer)."""
        return {"outcomes": circulation.transact_stack([TxIn(
            tx_id=e.tx_id, kind=TransactionKind(e.kind), item_id=e.item_id,
            created_at=e.created_at, kiosk_id=_acting_for(kiosk_id, e.kiosk_id),
            patron_id=e.patron_id or None) for e in body.transactions])}

    @app.post("/v1/transactions/batch", response_model=BatchReply, responses=_ERRORS,
              tags=["circulation"], max_body_size=max_batch_body_bytes)
    def batch(body: BatchRequest, kiosk_id: Kiosk) -> dict[str, Any]:
        """Replay a kiosk's journal (offline loans, returns, renewals and voids), in order."""
        entries = [_parse_entry(raw) for raw in body.transactions]
        return {"results": circulation.batch(entries, kiosk_id)}

    @app.post("/v1/heartbeat", response_model=HeartbeatReply, responses=_ERRORS,
              tags=["service"])
    def heartbeat(body: HeartbeatRequest, kiosk_id: Kiosk) -> dict[str, Any]:
        """The kiosk's status for the staff dashboard; answers with the server's clock."""
        _acting_for(kiosk_id, body.kiosk_id)
        return circulation.heartbeat(kiosk_id, body.model_dump())


def _insights_routes(app: FastAPI, db: Database) -> None:
    """What kiosks tell the library about their visits (central/insights.py)."""

    @app.post("/v1/visits", response_model=VisitsReply, responses=_ERRORS, tags=["insights"])
    def visits(body: VisitsRequest, kiosk_id: Kiosk) -> dict[str, Any]:
        """Store a kiosk's anonymous visit records once each (by visit id); a record sent
        again after a lost answer is acknowledged and not counted twice."""
        stored = store_visits(db, kiosk_id, body.visits)
        if stored.rejected:
            log.warning("visits from %s: %d record(s) refused as invalid", kiosk_id,
                        stored.rejected)
        return {"settled": stored.settled, "stored": stored.new, "rejected": stored.rejected}


def _openapi(app: FastAPI) -> dict[str, Any]:
    # Batch entries are validated one by one (a bad one must not block the queue), so the
    # request model holds plain objects; publish their real schema all the same.
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version,
                             description=app.description, routes=app.routes)
        entry = BatchTransaction.model_json_schema(
            ref_template="#/components/schemas/{model}")
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(entry.pop("$defs", {}))
        components["BatchTransaction"] = entry
        components["BatchRequest"]["properties"]["transactions"]["items"] = {
            "$ref": "#/components/schemas/BatchTransaction"}
        app.openapi_schema = schema
    return app.openapi_schema
