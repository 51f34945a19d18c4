"""Kiosk Catalog API v1 client: the `CatalogBackend` the kiosk uses over HTTPS.

Why one module and one Session: a borrow is a handful of small requests, so a kept-alive
connection pool matters more than anything else for speed on a Pi.

Every failure is translated here, at the boundary, into the backend error tree (see
`kiosk.backends.base`); nothing from requests, urllib3, json or socket escapes::

    connection refused / reset, DNS, TLS, timeout ..... BackendUnavailable
    HTTP 5xx, 429 (Retry-After honoured) .............. BackendUnavailable(retry_after=...)
    HTTP 401, 403 ..................................... AuthenticationFailed
    other 4xx, non-JSON, HTML page, wrong types,
    missing fields, unknown reason code ............... MalformedReply (logged)
    HTTP 200 {"ok": false, "reason": ...} ............. Refused(ReasonCode, screen_message)

Patron identifiers never appear in log lines or error messages (they travel in URLs, so errors
name the endpoint, not the URL).
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from typing import Any, NoReturn, TypeVar
from urllib.parse import quote

import requests
import urllib3

from domain.experiments import (
    InvalidExperiment,
    PatronMessage,
    Running,
    category_of,
    message_of,
    running_of,
)
from domain.model import (
    Account,
    Credential,
    Hold,
    Item,
    Loan,
    Outcome,
    Patron,
    ReasonCode,
    ReplayResult,
    ReplayStatus,
    Transaction,
    TransactionKind,
    listable,
)
from domain.privacy import masked_email
from kiosk.backends import rest_deadline
from kiosk.backends.base import (
    AuthenticationFailed,
    BackendStatus,
    BackendUnavailable,
    EndpointMissing,
    MalformedReply,
    Refused,
    StackAnswer,
    one_by_one,
    seam_guard,
    wait_left,
)
from kiosk.backends.rest_deadline import exchange_deadline

log = logging.getLogger(__name__)

BATCH_LIMIT = 500
STACK_LIMIT = 50  # the service's own limit for one stack request


STACK_PATH = "/v1/circulation/stack"
VISITS_PATH = "/v1/visits"
_ADDED_LATER = frozenset({STACK_PATH, VISITS_PATH})  # endpoints an older service may not have


MAX_COUNT = 10**9
# The largest reply the kiosk reads (a 500-row batch answer is ~100 KB): a hostile or broken
# server cannot make a Pi hold more than this in memory.
MAX_REPLY_BYTES = 8 * 1024 * 1024
# urllib3's own errors reach us from the raw body reads (requests wraps them only in its helpers)
_FOREIGN_ERRORS = (requests.RequestException, urllib3.exceptions.HTTPError, OSError, ValueError,
                   http.client.HTTPException)

T = TypeVar("T")
Json = dict[str, Any]


def _never_connected(exc: BaseException) -> bool:
    """Whether the request failed before a connection stood (refused, no route, no name, the
    connect timed out): then it cannot have reached the central service."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(exc, requests.ConnectionError) and isinstance(
        reason, urllib3.exceptions.NewConnectionError | urllib3.exceptions.ConnectTimeoutError)


# ---------------------------------------------------------------- reply parsing


class _Reply:
    """One JSON object from the server, with typed accessors that fail as MalformedReply."""

    __slots__ = ("data", "where")

    def __init__(self, data: object, where: str) -> None:
        if not isinstance(data, dict):
            _malformed(f"{where}: expected a JSON object, got {type(data).__name__}")
        self.data: Json = data
        self.where = where

    def _get(self, key: str, kinds: tuple[type, ...], label: str, optional: bool) -> Any:
        if key not in self.data:
            _malformed(f"{self.where}: missing field {key!r}")
        value = self.data[key]
        if value is None and optional:
            return None
        # bool is an int in Python, but never a count or an id in this protocol.
        if isinstance(value, bool) and bool not in kinds:
            _malformed(f"{self.where}: field {key!r} should be {label}, got a boolean")
        if not isinstance(value, kinds):
            _malformed(f"{self.where}: field {key!r} should be {label}, "
                       f"got {type(value).__name__}")
        return value

    def text(self, key: str) -> str:
        return self._get(key, (str,), "a string", False)  # type: ignore[no-any-return]

    def opt_text(self, key: str, default: str = "") -> str:
        if key not in self.data:
            return default
        value = self._get(key, (str,), "a string", True)
        return default if value is None else value

    def flag(self, key: str, default: bool | None = None) -> bool:
        if key not in self.data and default is not None:
            return default
        return self._get(key, (bool,), "true or false", False)  # type: ignore[no-any-return]

    def count(self, key: str) -> int:
        return self._bounded(key, self._get(key, (int,), "an integer", False))

    def opt_count(self, key: str) -> int | None:
        if key not in self.data:
            return None
        value = self._get(key, (int,), "an integer", True)
        return None if value is None else self._bounded(key, value)

    def _bounded(self, key: str, value: int) -> int:
        """Counts, limits and amounts of a library account: anything outside this range is a
        server fault, not a number to show a patron (or to format on a small CPU)."""
        if not -MAX_COUNT <= value <= MAX_COUNT:
            _malformed(f"{self.where}: field {key!r} is out of range")
        return value

    def day(self, key: str, optional: bool = False) -> date | None:
        if optional and key not in self.data:
            return None
        text = self._get(key, (str,), "an ISO date", optional)
        if text is None:
            return None
        try:
            return date.fromisoformat(text[:10]) if "T" in text else date.fromisoformat(text)
        except ValueError:
            _malformed(f"{self.where}: field {key!r} is not an ISO date")

    def moment(self, key: str) -> datetime:
        text = self._get(key, (str,), "an ISO datetime", False)
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            _malformed(f"{self.where}: field {key!r} is not an ISO datetime")
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

    def reason(self, key: str = "reason") -> ReasonCode:
        text = self._get(key, (str,), "a reason code", False)
        try:
            return ReasonCode(text)
        except ValueError:
            _malformed(f"{self.where}: field {key!r} holds an unknown reason code {text[:40]!r}")

    def obj(self, key: str, optional: bool = False) -> _Reply | None:
        value = self._get(key, (dict,), "an object", optional)
        return None if value is None else _Reply(value, f"{self.where}.{key}")

    def entries(self, key: str) -> list[_Reply]:
        value = self._get(key, (list,), "a list", False)
        return [_Reply(entry, f"{self.where}.{key}[{n}]") for n, entry in enumerate(value)]


def _malformed(message: str) -> NoReturn:
    log.error("malformed reply from the central service: %s", message)
    raise MalformedReply(message)


def parse_patron(reply: _Reply) -> Patron:
    block = reply.data.get("block_reason")
    return Patron(
        patron_id=reply.text("patron_id"),
        name=reply.opt_text("name"),
        blocked=reply.flag("blocked"),
        block_reason=reply.reason("block_reason") if block is not None else None,
        loan_count=reply.count("loan_count"),
        loan_limit=reply.opt_count("loan_limit"),
        holds_ready=reply.opt_count("holds_ready") or 0,  # older servers do not say
        email_hint=masked_email(reply.opt_text("email_hint")),  # masked again: trust no server
        category=category_of(reply.data.get("category")),
    )


def parse_item(reply: _Reply) -> Item:
    return Item(
        item_id=reply.text("item_id"),
        title=reply.opt_text("title"),
        author=reply.opt_text("author"),
        loanable=reply.flag("loanable"),
        on_loan=reply.flag("on_loan"),
        on_hold_for_other=reply.flag("on_hold_for_other", default=False),
        parts=reply.count("parts"),
    )


def parse_loan(reply: _Reply) -> Loan:
    due = reply.day("due")
    if due is None:  # pragma: no cover - date() without optional never returns None
        _malformed(f"{reply.where}: loan without due date")
    return Loan(item_id=reply.text("item_id"), title=reply.opt_text("title"), due=due,
                renewals=reply.count("renewals"))


def parse_hold(reply: _Reply) -> Hold:
    return Hold(item_id=reply.text("item_id"), title=reply.opt_text("title"),
                ready=reply.flag("ready"), pickup_until=reply.day("pickup_until", True),
                pickup_place=reply.opt_text("pickup_place")[:120])


def parse_account(reply: _Reply) -> Account:
    patron = reply.obj("patron")
    if patron is None:  # pragma: no cover - obj() without optional never returns None
        _malformed(f"{reply.where}: account without patron")
    return Account(
        patron=parse_patron(patron),
        loans=_listed(parse_loan(x) for x in reply.entries("loans")),
        holds=_listed(parse_hold(x) for x in reply.entries("holds")),
        fines_cents=reply.count("fines_cents"),
    )


L = TypeVar("L", Loan, Hold)


def _listed(entries: Iterable[L]) -> tuple[L, ...]:
    """What the account screen can show: entries with an identifier, each once, capped."""
    by_id = {e.item_id: e for e in entries if e.item_id.strip()}
    return tuple(by_id[i] for i in listable(list(by_id)))


def parse_outcome(reply: _Reply) -> Outcome:
    return Outcome(
        ok=reply.flag("ok"),
        reason=reply.reason(),
        item_id=reply.opt_text("item_id"),
        title=reply.opt_text("title"),
        due=reply.day("due", optional=True),
        screen_message=reply.opt_text("screen_message"),
        hold_shelf=reply.flag("hold_shelf", default=False),
        sort_bin=reply.opt_text("sort_bin"),
        tx_id=reply.opt_text("tx_id"),
        renewed=reply.flag("renewed", default=False),
    )


def parse_replay_result(reply: _Reply) -> ReplayResult:
    status_text = reply.text("status")
    try:
        status = ReplayStatus(status_text)
    except ValueError:
        _malformed(f"{reply.where}: unknown replay status {status_text[:40]!r}")
    outcome = reply.obj("outcome", optional=True) if "outcome" in reply.data else None
    return ReplayResult(tx_id=reply.text("tx_id"), status=status,
                        outcome=parse_outcome(outcome) if outcome else None,
                        detail=reply.opt_text("detail"))


def parse_status(reply: _Reply) -> BackendStatus:
    return BackendStatus(
        online=True,
        server_time=reply.moment("server_time"),
        checkout_ok=reply.flag("checkout_ok", default=True),
        checkin_ok=reply.flag("checkin_ok", default=True),
        offline_ok=reply.flag("offline_ok", default=True),
        screen_message=reply.opt_text("screen_message"),
        resolved=_resolved(reply),
        experiments=_experiments(reply),
        messages=_messages(reply),
        profile=_profile(reply),
    )


def _profile(reply: _Reply) -> tuple[str, dict[str, Any]] | None:
    """The central profile (optional): its version and settings, checked by the kiosk
    (kiosk/profile.py) before anything is applied. A profile the kiosk cannot read is left
    out and logged: it must not make the heartbeat, and so the kiosk, go offline."""
    value = reply.data.get("profile")
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("version"), str) \
            or not isinstance(value.get("settings"), dict):
        log.warning("%s: left out a profile that is not {version, settings}", reply.where)
        return None
    return value["version"][:64], value["settings"]


def _experiments(reply: _Reply) -> tuple[Running, ...] | None:
    """The experiments to run (optional; servers before them send none)."""
    return _optional(reply, "experiments", running_of, 20)


def _messages(reply: _Reply) -> tuple[PatronMessage, ...] | None:
    """Messages to patrons (optional, like the experiments)."""
    return _optional(reply, "messages", message_of, 50)


def _optional(reply: _Reply, key: str, parse: Callable[[Any], T],
              most: int) -> tuple[T, ...] | None:
    """A list field of things the service may change on the kiosk: None when the service does
    not send it; one entry the kiosk cannot use is left out and logged, never half used."""
    value = reply.data.get(key)
    if value is None:
        return None
    if not isinstance(value, list):
        _malformed(f"{reply.where}: field {key!r} should be a list")
    kept: list[T] = []
    for raw in value[:most]:
        try:
            kept.append(parse(raw))
        except InvalidExperiment as exc:
            log.warning("heartbeat: left out one of the %s: %s", key, exc)
    return tuple(kept)


def _resolved(reply: _Reply) -> tuple[str, ...]:
    """Conflicts staff resolved (optional; servers before this field send none)."""
    value = reply.data.get("resolved")
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        _malformed(f"{reply.where}: field 'resolved' should be a list of transaction ids")
    return tuple(v for v in value[:1000] if v.strip())


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: either a number of seconds or an HTTP date (RFC 9110)."""
    if not value:
        return None
    value = value.strip()
    if re.fullmatch(r"[+-]?\d+(\.\d+)?", value):
        return max(0.0, float(value))
    try:
        when = parsedate_to_datetime(value)
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
    except (TypeError, ValueError, IndexError, OverflowError):  # e.g. a year 2200000000
        return None


def transaction_json(tx: Transaction, kiosk_id: str) -> Json:
    body: Json = {
        "tx_id": tx.tx_id, "kind": tx.kind.value, "patron_id": tx.patron_id,
        "item_id": tx.item_id, "created_at": tx.created_at.isoformat(), "offline": tx.offline,
        "ref_tx_id": tx.ref_tx_id, "kiosk_id": tx.kiosk_id or kiosk_id,
    }
    if tx.promised_due is not None:
        body["due"] = tx.promised_due.isoformat()
    return body


# ---------------------------------------------------------------- the client


def session_from_environment(
        base_url: str, verify: bool | str) -> tuple[requests.Session, bool | str]:
    """A Session that reads the environment once, at start, not on every request.

    requests' default (`trust_env`) looks up the proxy variables and ~/.netrc for every
    request: about 90 us each on a quiet x86 core, more on a Pi. Worse, a ~/.netrc entry for the
    central host silently replaces the kiosk's Bearer token with Basic auth, and every request
    then fails with 401. A kiosk's environment is fixed for its lifetime (systemd sets it), so
    the proxy for the central host (HTTPS_PROXY / HTTP_PROXY / NO_PROXY) and a CA bundle named in
    REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE (when `verify` is plain True) are resolved here once.
    The kiosk authenticates with its token only; .netrc is never read.
    """
    session = requests.Session()
    session.trust_env = False
    session.proxies.update(requests.utils.get_environ_proxies(base_url))
    if verify is True:
        verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    return session, verify


@seam_guard
class RestBackend:
    """`CatalogBackend` over the Kiosk Catalog API v1 (see central/openapi.json)."""

    replay_batch_limit: int | None = None  # the client splits into BATCH_LIMIT requests itself

    def __init__(self, base_url: str, token: str, *, kiosk_id: str,
                 timeout: float | tuple[float, float] = (3.05, 10.0), verify: bool | str = True,
                 session: requests.Session | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.kiosk_id = kiosk_id
        self._stacks = True  # False once the service said it has no stack endpoint
        self.timeout = timeout
        self._own_session = session is None
        if session is None:
            session, verify = session_from_environment(self.base_url, verify)
            rest_deadline.install(session)
        self.verify = verify
        self._session = session
        self._headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
            "Content-Type": "application/json",
        }

    def __repr__(self) -> str:  # the token stays out of logs
        return f"RestBackend({self.base_url!r}, kiosk_id={self.kiosk_id!r})"

    # -- transport

    def _call(self, method: str, path: str, what: str, body: object = None) -> _Reply:
        """One request; `what` names the endpoint in errors (the path may hold a patron id).

        The read timeout of requests is per read, so a server that drips a byte a second never
        trips it: the body is read here in chunks against one deadline for the whole exchange
        (cut to the patron's wait, see `patron_wait`) and against `MAX_REPLY_BYTES`."""
        connect_s, read_s = self.timeout if isinstance(self.timeout, tuple) else (
            self.timeout, self.timeout)
        budget = wait_left(connect_s + read_s)
        deadline = time.monotonic() + budget
        try:
            data = None if body is None else json.dumps(body, default=str)
            with exchange_deadline(deadline):
                response = self._session.request(
                    method, self.base_url + path, data=data, headers=self._headers,
                    timeout=(min(connect_s, budget), min(read_s, budget)), verify=self.verify,
                    allow_redirects=False, stream=True)
                try:
                    status = response.status_code
                    headers = response.headers
                    content = _read_body(response, deadline, what)
                finally:
                    response.close()
        except requests.Timeout as exc:
            raise BackendUnavailable(f"{what}: central service timed out",
                                     reached=not _never_connected(exc)) from exc
        except _FOREIGN_ERRORS as exc:
            raise BackendUnavailable(
                f"{what}: central service unreachable ({type(exc).__name__})",
                reached=not _never_connected(exc)) from exc
        if status in (401, 403):
            log.error("%s: central service rejected this kiosk's token (HTTP %d)", what, status)
            raise AuthenticationFailed(f"{what}: HTTP {status}: kiosk token rejected")
        if status == 429 or status >= 500:
            raise BackendUnavailable(
                f"{what}: central service answered HTTP {status}",
                retry_after=retry_after_seconds(headers.get("Retry-After")))
        if status in (404, 405) and path in _ADDED_LATER:
            raise EndpointMissing(f"{what}: HTTP {status}")
        if status != 200:
            _malformed(f"{what}: unexpected HTTP {status}{_error_message(content)}")
        content_type = headers.get("Content-Type", "")
        if "json" not in content_type:
            _malformed(f"{what}: expected JSON, got {content_type or 'no content type'!s:.60}")
        try:
            parsed = json.loads(content)
        except (ValueError, RecursionError):  # RecursionError: JSON nested a thousand deep
            _malformed(f"{what}: reply is not valid JSON")
        return _Reply(parsed, what)

    @staticmethod
    def _business(reply: _Reply, parse: Callable[[_Reply], T]) -> T:
        if not reply.flag("ok"):
            raise Refused(reply.reason(), reply.opt_text("screen_message"),
                          title=reply.opt_text("title"))
        return parse(reply)

    # -- CatalogBackend

    def identify(self, credential: Credential, pin: str | None = None) -> Patron:
        reply = self._call("POST", "/v1/patrons/identify", "identify",
                           {"kind": credential.kind.value, "value": credential.value, "pin": pin})

        def patron(r: _Reply) -> Patron:
            obj = r.obj("patron")
            if obj is None:  # pragma: no cover - obj() without optional never returns None
                _malformed("identify: ok without patron")
            return parse_patron(obj)

        return self._business(reply, patron)

    def account(self, patron_id: str) -> Account:
        reply = self._call("POST", "/v1/patrons/account", "account", {"patron_id": patron_id})
        return self._business(reply, parse_account)

    def email_of(self, patron_id: str) -> str | None:
        reply = self._call("POST", "/v1/patrons/contact", "contact", {"patron_id": patron_id})
        address = self._business(reply, lambda r: r.opt_text("email"))
        return address.strip() or None

    def item(self, item_id: str) -> Item:
        reply = self._call("GET", f"/v1/items/{quote(item_id, safe='')}", "item")

        def item(r: _Reply) -> Item:
            obj = r.obj("item")
            if obj is None:  # pragma: no cover - obj() without optional never returns None
                _malformed("item: ok without item")
            return parse_item(obj)

        return self._business(reply, item)

    def _transact(self, path: str, tx: Transaction, expected: TransactionKind) -> Outcome:
        body = {"tx_id": tx.tx_id, "patron_id": tx.patron_id, "item_id": tx.item_id,
                "created_at": tx.created_at.isoformat(), "kiosk_id": tx.kiosk_id or self.kiosk_id}
        reply = self._call("POST", path, expected.value, body)
        return self._business(reply, parse_outcome)

    def checkout(self, tx: Transaction) -> Outcome:
        return self._transact("/v1/checkout", tx, TransactionKind.CHECKOUT)

    def checkin(self, tx: Transaction) -> Outcome:
        return self._transact("/v1/checkin", tx, TransactionKind.CHECKIN)

    def renew(self, tx: Transaction) -> Outcome:
        return self._transact("/v1/renew", tx, TransactionKind.RENEW)

    def send_stack(self, txs: Sequence[Transaction]) -> Iterator[list[StackAnswer]]:
        """One request per stack (`/v1/circulation/stack`, up to STACK_LIMIT items each); a
        single item, or a service from before stacks (404), goes the one-by-one way."""
        for start in range(0, len(txs), STACK_LIMIT):
            chunk = txs[start:start + STACK_LIMIT]
            if len(chunk) == 1 or not self._stacks:
                yield from one_by_one(self, chunk)
                continue
            try:
                answers = self._stack(chunk)
            except EndpointMissing:
                log.warning("the central service has no stack endpoint (an older version): "
                            "sending items one by one")
                self._stacks = False
                yield from one_by_one(self, chunk)
                continue
            except BackendUnavailable as exc:
                yield [(tx, exc) for tx in txs[start:]]
                return
            yield answers

    def _stack(self, chunk: Sequence[Transaction]) -> list[StackAnswer]:
        reply = self._call("POST", STACK_PATH, "stack", {"transactions": [
            {"tx_id": tx.tx_id, "kind": tx.kind.value, "patron_id": tx.patron_id,
             "item_id": tx.item_id, "created_at": tx.created_at.isoformat(),
             "kiosk_id": tx.kiosk_id or self.kiosk_id} for tx in chunk]})
        entries = reply.entries("outcomes")
        if len(entries) != len(chunk):
            _malformed(f"stack: answered {len(entries)} outcomes for {len(chunk)} items")
        answers: list[StackAnswer] = []
        for tx, entry in zip(chunk, entries, strict=True):
            if entry.opt_text("tx_id") not in ("", tx.tx_id):
                _malformed("stack: outcomes answered in another order")
            try:
                answers.append((tx, self._business(entry, parse_outcome)))
            except Refused as refusal:
                answers.append((tx, refusal))
        return answers

    def replay(self, transactions: Sequence[Transaction]) -> list[ReplayResult]:
        results: list[ReplayResult] = []
        for start in range(0, len(transactions), BATCH_LIMIT):
            chunk = transactions[start:start + BATCH_LIMIT]
            reply = self._call("POST", "/v1/transactions/batch", "replay", {
                "transactions": [transaction_json(tx, self.kiosk_id) for tx in chunk]})
            answers = [parse_replay_result(x) for x in reply.entries("results")]
            if [a.tx_id for a in answers] != [tx.tx_id for tx in chunk]:
                _malformed(f"replay: answered {len(answers)} results for {len(chunk)} "
                           "transactions, or in another order")
            results.extend(answers)
        return results

    def send_visits(self, records: Sequence[str]) -> list[str]:
        """Anonymous visit records (JSON, domain/visits.py) to the service; returns the visit
        ids it has settled (stored, now or before, or refused for good)."""
        reply = self._call("POST", VISITS_PATH, "visits",
                           {"visits": [json.loads(r) for r in records]})
        settled = reply.data.get("settled")
        if not isinstance(settled, list) or not all(isinstance(v, str) for v in settled):
            _malformed("visits: settled must be a list of visit ids")
        return list(settled)

    def end_session(self, patron_id: str) -> None:
        """The REST API is stateless: nothing to tell the central side."""

    def heartbeat(self, status: Mapping[str, object]) -> BackendStatus:
        reply = self._call("POST", "/v1/heartbeat", "heartbeat",
                           {**status, "kiosk_id": self.kiosk_id})
        return parse_status(reply)

    def close(self) -> None:
        if self._own_session:
            self._session.close()

    def __enter__(self) -> RestBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _read_body(response: requests.Response, deadline: float, what: str) -> bytes:
    """The whole body, or BackendUnavailable when it comes too slowly or is too large."""
    chunks: list[bytes] = []
    size = 0
    raw = response.raw
    while True:
        chunk = raw.read1(64 * 1024, decode_content=True) if hasattr(raw, "read1") \
            else raw.read(64 * 1024, decode_content=True)
        if not chunk:
            break
        size += len(chunk)
        if size > MAX_REPLY_BYTES:
            raise MalformedReply(f"{what}: reply larger than {MAX_REPLY_BYTES} bytes")
        chunks.append(chunk)
        if time.monotonic() > deadline:
            raise BackendUnavailable(f"{what}: central service answered too slowly")
    return b"".join(chunks)


def _error_message(content: bytes) -> str:
    """The service's own error message, if the body is our error JSON."""
    try:
        message = json.loads(content)["error"]["message"]
    except (ValueError, KeyError, TypeError, RecursionError):
        return ""
    return f" ({str(message)[:200]})"
