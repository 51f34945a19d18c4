"""A small library system behind pysip2's SIP2 server (someone else's ACS code).

Used by the SIP2 tests, by the SIP2 crash-consistency run (tests/sip2/sip2_crash_world.py) and
by bench/sip2_roundtrip.py. The circulation rules are deliberately tiny (a loan period, a loan
limit, holds, fines) but the protocol side is pysip2's own codec and TCP server, so our client is
checked against framing, checksums and field layouts we did not write.

Run as a program it serves in its own process until stdin closes (`serve_until_stdin_closes`);
with ``--crash`` it serves `Library.for_crash()` and then prints that library's `summary()`.
"""

from __future__ import annotations

import json
import sys
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import anyio
from pysip2 import (
    CHECKIN,
    CHECKOUT,
    END_PATRON_SESSION,
    FEE_PAID,
    ITEM_INFORMATION,
    LOGIN,
    PATRON_INFORMATION,
    PATRON_STATUS,
    RENEW,
    RENEW_ALL,
    CheckinRequest,
    CheckinResponse,
    CheckoutRequest,
    CheckoutResponse,
    EndPatronSessionRequest,
    EndSessionResponse,
    FeePaidRequest,
    FeePaidResponse,
    ItemInformationRequest,
    ItemInformationResponse,
    LoginRequest,
    LoginResponse,
    PatronInformationRequest,
    PatronInformationResponse,
    PatronStatusRequest,
    PatronStatusResponse,
    RenewAllRequest,
    RenewAllResponse,
    RenewRequest,
    RenewResponse,
    SIP2Server,
)

from kiosk.backends.sip2.settings import Sip2Settings

LOGIN_USER = "kiosk1"
LOGIN_PASSWORD = "s3cret"
INSTITUTION = "MAIN"
LOAN_DAYS = 21
LOAN_LIMIT = 3
CRASH_PATRON = "P900"
CRASH_ITEMS = tuple(f"C{n:02d}" for n in range(1, 13))

# What the library did with each checkout/checkin, logged per item (`Library.acts`). SIP2 carries
# no transaction id, so exactly-once is judged by these: a checkout of an item the same patron
# already held (most library systems renew it) or a checkin of an item not on loan is a request
# that arrived once too often.
LENT = "O"  # checkout applied to an item that was not on loan
RELENT = "R"  # checkout of an item the same patron already held: applied, in effect a renewal
NOT_LENT = "N"  # checkout refused
RETURNED = "I"  # checkin applied
NOT_ON_LOAN = "X"  # checkin of an item not on loan: refused ("Item not checked out")


def sip_date(moment: datetime) -> str:
    return moment.strftime("%Y%m%d") + "    " + moment.strftime("%H%M%S")


@dataclass
class LibPatron:
    name: str
    pin: str
    charge_denied: bool = False
    fines: str = "0.00"
    email: str | None = None


@dataclass
class LibItem:
    title: str
    loanable: bool = True
    holder: str | None = None  # patron id on loan to
    due: datetime | None = None
    hold_for: str | None = None  # patron id the item waits for on the hold shelf
    reserved_by: str | None = None  # patron id with a hold queued, item not yet available
    renewals: int = 0


@dataclass
class Library:
    patrons: dict[str, LibPatron] = field(default_factory=dict)
    items: dict[str, LibItem] = field(default_factory=dict)
    requests: list[object] = field(default_factory=list)  # every decoded request, in order
    acts: dict[str, list[str]] = field(default_factory=dict)  # item -> LENT, RETURNED ... in order
    logins: int = 0
    loan_limit: int = LOAN_LIMIT
    # how long the ILS works on one checkout or checkin (real ones: 50-300 ms); the server is
    # async, so requests on several connections overlap as they do in a real ILS
    work_s: float = 0.0
    # an ILS that allows one login per kiosk account: later logins are refused
    max_logins: int | None = None
    # Like Evergreen's default: AS lists every hold. Otherwise (Koha-like) AS lists the
    # holds waiting on the shelf and CD the ones not yet available.
    list_all_holds_in_as: bool = False

    @classmethod
    def sample(cls) -> Library:
        lib = cls()
        lib.patrons = {
            "P100": LibPatron("Ann Reader", "1234", email="ann.reader@example.org"),
            "P200": LibPatron("Bob Blocked", "0000", charge_denied=True, fines="12.50"),
            "P300": LibPatron("Cem Holds", "4321"),
        }
        lib.items = {
            "I001": LibItem("De Avonden"),
            "I002": LibItem("Max Havelaar"),
            "I003": LibItem("Het Achterhuis"),
            "I004": LibItem("Reference Atlas", loanable=False),
            "I005": LibItem("Kaas", hold_for="P300"),
            "I006": LibItem("Tirza"),
            "I007": LibItem("Het Diner", reserved_by="P300"),
        }
        now = datetime.now()
        lib.items["I006"].holder = "P100"
        lib.items["I006"].due = now + timedelta(days=5)
        return lib

    @classmethod
    def for_crash(cls) -> Library:
        """The crash-consistency run's library: one patron, eight plain items, and a loan limit
        that never gets in the way (the run judges what was applied, not the rules)."""
        lib = cls(patrons={CRASH_PATRON: LibPatron("Crash Tester", "9000")},
                  items={iid: LibItem(f"Crash title {iid}") for iid in CRASH_ITEMS})
        lib.loan_limit = len(CRASH_ITEMS)
        return lib

    def loans_of(self, patron_id: str) -> list[str]:
        return [iid for iid, item in self.items.items() if item.holder == patron_id]

    def act(self, item_id: str, code: str) -> None:
        self.acts.setdefault(item_id, []).append(code)

    def summary(self) -> dict[str, Any]:
        """The library's state and what it did, JSON-ready: who holds each item, each item's acts
        (as a string of LENT, RELENT ... codes), the checkouts and checkins applied, and the
        requests that arrived once too often (`checkouts_of_held`, `checkins_not_on_loan`)."""
        acts = {iid: "".join(codes) for iid, codes in self.acts.items()}
        every = "".join(acts.values())
        return {
            "holders": {iid: item.holder for iid, item in self.items.items()},
            "acts": acts,
            "checkouts": every.count(LENT) + every.count(RELENT),
            "checkins": every.count(RETURNED),
            "checkouts_of_held": every.count(RELENT),
            "checkins_not_on_loan": every.count(NOT_ON_LOAN),
        }


def build_server(lib: Library, *, without: tuple[str, ...] = (),
                 **server_kwargs: object) -> SIP2Server:
    """pysip2's server with handlers over `lib` (async: they never block).

    Commands listed in `without` get no handler, so the server reports them
    unsupported in BX and answers them with pysip2's fallback refusal.
    """
    kwargs: dict[str, object] = {"institution_id": INSTITUTION, "library_name": "Test Library",
                                 "login_required": True}
    kwargs.update(server_kwargs)
    server = SIP2Server(**kwargs)  # type: ignore[arg-type]
    acs = _LibraryAcs(lib)
    for route, handler in (
            (LOGIN, acs.login),
            (PATRON_INFORMATION, acs.patron_info),
            (PATRON_STATUS, acs.patron_status),
            (ITEM_INFORMATION, acs.item_info),
            (CHECKOUT, acs.checkout),
            (CHECKIN, acs.checkin),
            (RENEW, acs.renew),
            (RENEW_ALL, acs.renew_all),
            (END_PATRON_SESSION, acs.end_session),
            (FEE_PAID, acs.fee_paid),
    ):
        if route.command_id not in without:
            server.route(route)(handler)
    return server


def _status_flags(p: LibPatron | None) -> str:
    flags = [" "] * 14
    if p is not None and p.charge_denied:
        flags[0] = "Y"
        flags[10] = "Y"
    return "".join(flags)


class _LibraryAcs:
    """The library system's answers, over a `Library` (one handler per SIP2 request)."""

    def __init__(self, lib: Library) -> None:
        self.lib = lib


    async def login(self, req: LoginRequest, ctx: object) -> LoginResponse:
        self.lib.requests.append(req)
        self.lib.logins += 1
        ok = req.login_user_id == LOGIN_USER and req.login_password == LOGIN_PASSWORD
        if self.lib.max_logins is not None and self.lib.logins > self.lib.max_logins:
            ok = False
        return LoginResponse(ok="1" if ok else "0")

    async def patron_info(self, req: PatronInformationRequest,
                          ctx: object) -> PatronInformationResponse:
        self.lib.requests.append(req)
        p = self.lib.patrons.get(req.patron_identifier)
        loans = self.lib.loans_of(req.patron_identifier)
        ready = [iid for iid, it in self.lib.items.items() if it.hold_for == req.patron_identifier]
        queued = [iid for iid, it in self.lib.items.items()
                  if it.reserved_by == req.patron_identifier]
        listed = ready + queued if self.lib.list_all_holds_in_as else ready
        now = datetime.now()
        overdue = [iid for iid in loans if (self.lib.items[iid].due or now) < now]
        want = req.summary
        return PatronInformationResponse(
            patron_status=_status_flags(p),
            language=req.language,
            transaction_date=sip_date(now),
            hold_items_count=f"{len(listed):04d}",
            overdue_items_count=f"{len(overdue):04d}",
            charged_items_count=f"{len(loans):04d}",
            fine_items_count="0000",
            recall_items_count="0000",
            unavailable_holds_count=f"{len(queued):04d}",
            institution_id=req.institution_id,
            patron_identifier=req.patron_identifier,
            personal_name=p.name if p else "",
            charged_items_limit=f"{self.lib.loan_limit:04d}",
            valid_patron="Y" if p else "N",
            valid_patron_password="Y" if p and req.patron_password == p.pin else "N",
            currency_type="EUR",
            fee_amount=p.fines if p else None,
            email_address=p.email if p else None,
            hold_items=tuple(listed) if want[0] == "Y" else (),
            unavailable_hold_items=tuple(queued) if want[5] == "Y" else (),
            charged_items=tuple(loans) if want[2] == "Y" else (),
            screen_message=() if p else ("Invalid patron",),
        )

    async def patron_status(self, req: PatronStatusRequest, ctx: object) -> PatronStatusResponse:
        self.lib.requests.append(req)
        p = self.lib.patrons.get(req.patron_identifier)
        return PatronStatusResponse(
            patron_status=_status_flags(p), language=req.language,
            transaction_date=sip_date(datetime.now()), institution_id=req.institution_id,
            patron_identifier=req.patron_identifier, personal_name=p.name if p else "",
            valid_patron="Y" if p else "N",
            valid_patron_password="Y" if p and req.patron_password == p.pin else "N",
        )

    async def item_info(self, req: ItemInformationRequest, ctx: object) -> ItemInformationResponse:
        self.lib.requests.append(req)
        it = self.lib.items.get(req.item_identifier)
        now = datetime.now()
        if it is None:
            return ItemInformationResponse(
                circulation_status="01", security_marker="00", fee_type="01",
                transaction_date=sip_date(now), item_identifier=req.item_identifier,
                title_identifier="", screen_message=("Item not found",))
        status = "04" if it.holder else ("08" if it.hold_for else "03")
        return ItemInformationResponse(
            circulation_status=status, security_marker="02", fee_type="01",
            transaction_date=sip_date(now),
            due_date=sip_date(it.due) if it.due else None,
            hold_pickup_date=sip_date(now + timedelta(days=7)) if it.hold_for else None,
            item_identifier=req.item_identifier, title_identifier=it.title,
        )

    async def checkout(self, req: CheckoutRequest, ctx: object) -> CheckoutResponse:
        self.lib.requests.append(req)
        await anyio.sleep(self.lib.work_s)
        now = datetime.now()
        p = self.lib.patrons.get(req.patron_identifier)
        it = self.lib.items.get(req.item_identifier)

        def no(message: str) -> CheckoutResponse:
            self.lib.act(req.item_identifier, NOT_LENT)
            return CheckoutResponse(
                ok="0", renewal_ok="N", magnetic_media="N", desensitize="N",
                transaction_date=sip_date(now), institution_id=req.institution_id,
                patron_identifier=req.patron_identifier, item_identifier=req.item_identifier,
                title_identifier=it.title if it else "", due_date="",
                screen_message=(message,))

        blocks = req.no_block != "Y"
        if p is None:
            return no("Invalid patron barcode")
        if it is None:
            return no("Invalid item barcode")
        if blocks and p.charge_denied:
            return no("Patron blocked: outstanding fines")
        if blocks and not it.loanable:
            return no("Item not for loan")
        if blocks and it.hold_for and it.hold_for != req.patron_identifier:
            return no("Item on hold for another patron")
        if it.holder and it.holder != req.patron_identifier:
            return no("Item already checked out to another patron")
        if blocks and len(self.lib.loans_of(req.patron_identifier)) >= self.lib.loan_limit:
            return no("Too many items checked out")
        self.lib.act(req.item_identifier, RELENT if it.holder else LENT)
        it.holder = req.patron_identifier
        it.hold_for = None
        it.due = now + timedelta(days=LOAN_DAYS)
        return CheckoutResponse(
            ok="1", renewal_ok="N", magnetic_media="N", desensitize="Y",
            transaction_date=sip_date(now), institution_id=req.institution_id,
            patron_identifier=req.patron_identifier, item_identifier=req.item_identifier,
            title_identifier=it.title, due_date=sip_date(it.due),
            screen_message=("Enjoy your book",))

    async def checkin(self, req: CheckinRequest, ctx: object) -> CheckinResponse:
        self.lib.requests.append(req)
        await anyio.sleep(self.lib.work_s)
        now = datetime.now()
        it = self.lib.items.get(req.item_identifier)
        if it is None or it.holder is None:
            self.lib.act(req.item_identifier, NOT_ON_LOAN)
            return CheckinResponse(
                ok="0", resensitize="N", magnetic_media="N", alert="Y",
                transaction_date=sip_date(now), institution_id=req.institution_id,
                item_identifier=req.item_identifier, permanent_location="Main",
                screen_message=("Item not checked out",))
        self.lib.act(req.item_identifier, RETURNED)
        it.holder = None
        it.due = None
        waiting = "P300" if req.item_identifier == "I003" else None  # a hold for someone else
        it.hold_for = waiting
        return CheckinResponse(
            ok="1", resensitize="Y", magnetic_media="N", alert="Y" if waiting else "N",
            transaction_date=sip_date(now), institution_id=req.institution_id,
            item_identifier=req.item_identifier, permanent_location="Main",
            title_identifier=it.title, sort_bin="B2" if waiting else "A1",
            screen_message=("Item on hold: put on hold shelf",) if waiting else ())

    async def renew(self, req: RenewRequest, ctx: object) -> RenewResponse:
        self.lib.requests.append(req)
        now = datetime.now()
        it = self.lib.items.get(req.item_identifier or "")
        ok = it is not None and it.holder == req.patron_identifier and it.renewals < 1
        if ok and it is not None:
            it.renewals += 1
            it.due = (it.due or now) + timedelta(days=LOAN_DAYS)
        return RenewResponse(
            ok="1" if ok else "0", renewal_ok="Y" if ok else "N", magnetic_media="N",
            desensitize="N", transaction_date=sip_date(now), institution_id=req.institution_id,
            patron_identifier=req.patron_identifier, item_identifier=req.item_identifier or "",
            title_identifier=it.title if it else "",
            due_date=sip_date(it.due) if ok and it and it.due else "",
            screen_message=() if ok else ("Renewal limit reached",))

    async def renew_all(self, req: RenewAllRequest, ctx: object) -> RenewAllResponse:
        self.lib.requests.append(req)
        loans = self.lib.loans_of(req.patron_identifier)
        return RenewAllResponse(
            ok="1", renewed_count=f"{len(loans):04d}", unrenewed_count="0000",
            transaction_date=sip_date(datetime.now()), institution_id=req.institution_id,
            renewed_items=tuple(loans))

    async def end_session(self, req: EndPatronSessionRequest, ctx: object) -> EndSessionResponse:
        self.lib.requests.append(req)
        return EndSessionResponse(
            end_session="Y", transaction_date=sip_date(datetime.now()),
            institution_id=req.institution_id, patron_identifier=req.patron_identifier)

    async def fee_paid(self, req: FeePaidRequest, ctx: object) -> FeePaidResponse:
        self.lib.requests.append(req)
        return FeePaidResponse(
            payment_accepted="Y", transaction_date=sip_date(datetime.now()),
            institution_id=req.institution_id, patron_identifier=req.patron_identifier)


def settings_for(port: int, **overrides: object) -> Sip2Settings:
    values: dict[str, object] = {
        "host": "127.0.0.1", "port": port, "login_user": LOGIN_USER,
        "login_password": LOGIN_PASSWORD, "institution_id": INSTITUTION,
        "location_code": "KIOSK1", "terminal_password": "", "timeout_s": 2.0,
        "connect_timeout_s": 2.0,
    }
    values.update(overrides)
    return Sip2Settings.from_mapping(values)


class RunningAcs:
    """pysip2's server on 127.0.0.1 (free port) in its own thread; a context manager."""

    def __init__(self, lib: Library | None = None, *, without: tuple[str, ...] = (),
                 **server_kwargs: object) -> None:
        self.library = lib if lib is not None else Library.sample()
        self.server = build_server(self.library, without=without, **server_kwargs)
        self.port = 0
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="pysip2-acs", daemon=True)

    def _run(self) -> None:
        async def main() -> None:
            async with self.server.start(host="127.0.0.1", port=0) as port:
                self.port = port
                self._ready.set()
                while not self._stop.is_set():
                    await anyio.sleep(0.02)

        try:
            anyio.run(main)
        except BaseException as exc:  # surfaced by __enter__/__exit__
            self._error = exc
            self._ready.set()

    def __enter__(self) -> RunningAcs:
        self._thread.start()
        if not self._ready.wait(10) or self._error is not None:
            raise RuntimeError(f"pysip2 server did not start: {self._error!r}")
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(10)


def serve_until_stdin_closes(library: Library | None = None, *, report: bool = False) -> None:
    """Run as a separate process (the benchmark, the crash run): print the port, serve until
    stdin closes; with `report`, then print the library's `summary()` as one JSON line."""
    lib = library if library is not None else Library.sample()

    async def main() -> None:
        server = build_server(lib)
        async with server.start(host="127.0.0.1", port=0) as port:
            print(port, flush=True)
            await anyio.to_thread.run_sync(sys.stdin.read)

    anyio.run(main)
    if report:
        print(json.dumps(lib.summary()), flush=True)


if __name__ == "__main__":
    crash = "--crash" in sys.argv[1:]
    serve_until_stdin_closes(Library.for_crash() if crash else None, report=crash)
