"""Hand-made SessionViews, one per screen, full of the longest texts a patron may see.

The layout and screenshot tests render these directly: they test how the UI *draws* state
(every size, language and text mode), while the journeys test the real chain.
"""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

from domain.model import Account, Hold, Loan, Patron, ReasonCode
from kiosk.session import ItemLine, Screen, SessionView

# a fixed day, so that the pictures do not change with the date they are taken on (the app's
# own day is pinned to it too: the `pinned_day` fixture)
TODAY = date(2026, 12, 3)
DUE = TODAY + timedelta(days=21)

BORROWED = (
    ItemLine("3700000000512", "Het begijnhof van oma Rosa", True, due=DUE),
    ItemLine("3700000000529", "Les enfants de la Meuse et les saisons oubliées (boek + 2 cd's)",
             True, due=DUE),
    ItemLine("3700000000536", "Fien en de vuurtoren", True, due=DUE, security_failed=True,
             put_back=True),
    ItemLine("3700000000426", "", False, reason=ReasonCode.ON_HOLD_FOR_OTHER),
    ItemLine("3700000000543", "", True, offline=True, due=DUE),  # never seen online: no title
    ItemLine("3700000000550", "", False, reason=ReasonCode.INCOMPLETE_SET, pending=True),
)
RETURNED = (
    ItemLine("3700000000174", "De verloren rivier", True, hold_shelf=True, sort_bin="R"),
    ItemLine("3700000000181", "La maison endormie", True, sort_bin="J2"),
    ItemLine("3700000000198", "", False, reason=ReasonCode.NOT_ON_LOAN),
    ItemLine("3700000000204", "", False, working=True),  # part of a pile, not answered yet
)
ACCOUNT = Account(
    patron=Patron("P0004", "Sofie Jacobs"),
    loans=(
        Loan("3700000000123", "De donkere kathedraal", TODAY - timedelta(days=9)),
        Loan("3700000000130", "Le voyage lointain", TODAY + timedelta(days=4), renewals=1),
        Loan("3700000000147", "Mats en de polder", TODAY + timedelta(days=12)),
    ),
    holds=(Hold("3700000000402", "Het dagboek van Gent", True, TODAY + timedelta(days=5),
                pickup_place="reserveringsrek bij de ingang"),
           Hold("3700000000419", "La gare perdue", False)),
    fines_cents=250,
)
RENEWALS = (
    ItemLine("3700000000130", "Le voyage lointain", True, due=DUE),
    ItemLine("3700000000123", "De donkere kathedraal", False, reason=ReasonCode.RENEW_LIMIT),
)

VIEWS: dict[str, SessionView] = {
    "idle": SessionView(),
    # an experiment's line under the instruction (the longest the service lets staff write)
    "idle-message": SessionView(
        idle_message="Fijn dat u er bent! Vandaag zijn we open tot 19 uur, en morgen is er "
                     "voorleesuurtje om 14 uur in de jeugdafdeling op de eerste verdieping.",
        idle_messages=((1, "Op 25 en 26 december is de bibliotheek gesloten; de "
                           "inleverbus aan de zijingang blijft open voor uw boeken."),)),
    "pin": SessionView(screen=Screen.PIN, message=ReasonCode.WRONG_PIN),
    "home": SessionView(screen=Screen.HOME, patron_name="Sofie",
                        message=ReasonCode.FINES_TOO_HIGH, holds_ready=2),
    # the library's message for this patron's category, beside a hold
    "home-message": SessionView(screen=Screen.HOME, patron_name="Sofie", holds_ready=2,
                                patron_messages=((2, "Woensdag om 14 uur: voorleesuurtje in "
                                                     "de jeugdafdeling op de eerste "
                                                     "verdieping!"),)),
    "borrow": SessionView(screen=Screen.BORROW, patron_name="Sofie", items=BORROWED,
                          offline=True),
    "return": SessionView(screen=Screen.RETURN, items=RETURNED, devices_down=("scanner",)),
    "account": SessionView(screen=Screen.ACCOUNT, patron_name="Sofie", account=ACCOUNT,
                           renewals=RENEWALS),
    "receipt": SessionView(screen=Screen.RECEIPT, items=BORROWED, receipt_available=True,
                           email_hint="m\u2022\u2022\u2022@example.org"),
    "goodbye": SessionView(screen=Screen.GOODBYE),
    "goodbye-feedback": SessionView(screen=Screen.GOODBYE, feedback="ask"),
    "goodbye-why": SessionView(screen=Screen.GOODBYE, feedback="why"),
    "timeout": SessionView(screen=Screen.BORROW, patron_name="Sofie", items=BORROWED[:2],
                           warning_seconds_left=7),
}


def in_language(name: str, language: str) -> SessionView:
    return dataclasses.replace(VIEWS[name], language=language)
