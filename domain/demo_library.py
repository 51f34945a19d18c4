"""The demo library: patrons, items, loans and holds that the reference service seeds
(`kiosk-central seed --db PATH`) and the demo kiosk's keys and tours use.

Everything is generated deterministically (fixed random seed, dates relative to the seeding day),
so tests and the demo can rely on these ids:

Kiosk
    ``demo-kiosk-1`` (branch "Hoofdbibliotheek"), token ``demo-token-not-a-secret``.
    DEMO ONLY: a real library registers kiosks with ``kiosk-central add-kiosk``.

Patrons (25, ids ``P0001``..``P0025``; barcode ``2100000000NN`` + EAN-13 check digit; every
demo patron's PIN is ``1234``; ``require_pin`` is off)
    ========  ======================  =================  ====================================
    id        name                    barcode            role
    ========  ======================  =================  ====================================
    P0001     Jan Peeters             2100000000012      card UID 04A1B2C3D4E5F6, one loan
    P0002     An Janssens             2100000000029      Belgian eID 85073003328
    P0003     Luc Maes                2100000000036      blocked (lost card), one overdue loan
    P0004     Sofie Jacobs            2100000000043      fines 2.50 EUR (may still borrow)
    P0005     Marc Mertens            2100000000050      fines 12.50 EUR (blocked by fines)
    P0006     Els Willems             2100000000067      at the loan limit (10 loans)
    P0007     Pieter Claes            2100000000074      a hold ready for pickup
    P0008     Lotte Goossens          2100000000081      a loan at the renewal limit, and a
                                                         loan someone else waits for
    P0009     Tom Wouters             2100000000098      waits (hold) for Lotte's loan
    P0010..   more patrons, some with card UIDs (``04`` + 6 hex bytes), some with holds ready
    P0025     Ruben Desmet            2100000000258      card expired 10 days before seeding
    ========  ======================  =================  ====================================

Items (240, ids ``37000000NNNN`` + EAN-13 check digit, e.g. ``3700000000013``)
    ``REFERENCE_ITEM`` (not for loan), ``HELD_ITEMS`` (on the hold shelf for another patron),
    ``MULTIPART_ITEMS`` (parts 2..3, "boek + cd"), ``AVAILABLE_ITEMS`` (on the shelf, no hold),
    ``RENEW_LIMIT_ITEM`` and ``WAITED_FOR_ITEM`` (Lotte's loans), ``PICKUP_ITEM`` (Pieter's hold).
    Collections: "A" adult, "J" youth; the returns sorter sends holds to bin "R".
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date

DEMO_KIOSK_ID = "demo-kiosk-1"
DEMO_BRANCH = "Hoofdbibliotheek"
DEMO_TOKEN = "demo-token-not-a-secret"  # demo only; never use a known token in production
DEMO_PIN = "1234"
# the demo's staff dashboard login (the embedded service only; never a real account)
DEMO_STAFF = ("staff", "demo-staff-not-a-secret")
SEED = 28560


def ean13(base12: str) -> str:
    """`base12` plus its EAN-13 check digit (how library barcodes are commonly printed)."""
    if len(base12) != 12 or not base12.isdigit():
        raise ValueError("EAN-13 needs 12 digits before the check digit")
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(base12))
    return base12 + str((10 - total % 10) % 10)


def eid_number(birth: date, serial: int) -> str:
    """Belgian national register number: YYMMDD + serial + check (97 - n mod 97)."""
    base = f"{birth:%y%m%d}{serial:03d}"
    number = int(base) if birth.year < 2000 else int("2" + base)
    return f"{base}{97 - number % 97:02d}"


@dataclass(frozen=True, slots=True)
class SeedPatron:
    patron_id: str
    name: str
    barcode: str
    role: str = ""
    card_uid: str | None = None
    eid: str | None = None
    blocked: bool = False
    block_note: str = ""
    fines_cents: int = 0
    card_expires_days: int | None = None  # relative to the seeding day; None: never expires
    # the library's patron category (what messages to patrons may target): adult, child ...
    category: str = "adult"

    @property
    def email(self) -> str:
        """The demo address the library holds (example.org: mail to it goes nowhere)."""
        ascii_name = self.name.lower().encode("ascii", "ignore").decode().replace(" ", ".")
        return f"{ascii_name}@example.org"


@dataclass(frozen=True, slots=True)
class SeedItem:
    item_id: str
    title: str
    author: str
    loanable: bool = True
    parts: int = 1
    collection: str = "A"


_NAMES = (
    "Jan Peeters", "An Janssens", "Luc Maes", "Sofie Jacobs", "Marc Mertens", "Els Willems",
    "Pieter Claes", "Lotte Goossens", "Tom Wouters", "Nathalie De Smet", "Bart Dubois",
    "Julie Lambert", "Olivier Dupont", "Camille Leclercq", "Marie Martin", "Thomas Simon",
    "Laura Dumont", "Kevin Lemaire", "Hanne Vermeulen", "Wouter Van den Broeck",
    "Fien De Backer", "Arnaud Renard", "Céline Denis", "Jens Hermans", "Ruben Desmet",
)
_ROLES = {
    1: "card", 2: "eid", 3: "blocked", 4: "small_fine", 5: "high_fine", 6: "at_limit",
    7: "hold_ready", 8: "renew_limit", 9: "waiting", 25: "card_expired",
}


_CATEGORIES = {19: "child", 20: "child", 21: "child", 22: "school"}


def _patrons() -> tuple[SeedPatron, ...]:
    rng = random.Random(SEED)
    patrons = []
    for n, name in enumerate(_NAMES, start=1):
        role = _ROLES.get(n, "")
        card_uid = None
        if n == 1:
            card_uid = "04A1B2C3D4E5F6"
        elif n % 3 == 0 and n > 9:
            card_uid = "04" + "".join(f"{rng.randrange(256):02X}" for _ in range(6))
        patrons.append(SeedPatron(
            patron_id=f"P{n:04d}", name=name, barcode=ean13(f"2100000000{n:02d}"), role=role,
            card_uid=card_uid, eid=eid_number(date(1985, 7, 30), 33) if n == 2 else None,
            blocked=role == "blocked", block_note="lost card reported" if role == "blocked" else "",
            fines_cents={"small_fine": 250, "high_fine": 1250}.get(role, 0),
            card_expires_days=-10 if role == "card_expired" else None,
            category=_CATEGORIES.get(n, "adult"),
        ))
    return tuple(patrons)


_NL_ADJ = ("stille", "verloren", "laatste", "gouden", "donkere", "wilde", "lange", "blauwe",
           "vergeten", "koude", "eerste", "verborgen")
_NL_DE = ("rivier", "zomer", "reis", "stad", "brug", "haven", "tuin", "winter", "kust",
          "vuurtoren", "polder", "kathedraal", "zee")
_NL_HET = ("huis", "geheim", "dagboek", "lied", "land", "eiland", "begijnhof", "belfort")
_NL_OF = ("Brugge", "Gent", "Mechelen", "Oostende", "Leuven", "Antwerpen", "oma Rosa",
          "de molenaar", "de Schelde", "Ieper")
_FR_M = (("silence", "jardin", "voyage", "secret", "chemin", "port"),
         ("oublié", "perdu", "bleu", "endormi", "immobile", "lointain", "dernier"))
_FR_F = (("maison", "rivière", "nuit", "lettre", "forêt", "frontière", "gare"),
         ("oubliée", "perdue", "bleue", "endormie", "silencieuse", "lointaine", "dernière"))
_FR_PL = ("enfants", "jardins", "secrets", "ombres", "lumières", "saisons")
_FR_OF = ("Namur", "Liège", "Dinant", "la Meuse", "Bastogne", "Charleroi", "Mons", "Spa")
_KIDS_NL = ("Fien", "Mats", "Lotte", "Wout", "Noor", "Kobe")
_KIDS_FR = ("Zoé", "Lucas", "Léa", "Hugo", "Inès", "Nathan")
_AUTH_NL = (("Griet", "Koen", "Annelies", "Dirk", "Elke", "Stijn", "Ilse", "Geert"),
            ("Van Damme", "De Wolf", "Verhaegen", "Claeys", "Vandenberghe", "Desmet",
             "Van Acker", "Segers"))
_AUTH_FR = (("Hélène", "Pierre", "Isabelle", "Michel", "Anne", "Jacques", "Sophie", "Luc"),
            ("Lambotte", "Collard", "Piron", "Delvaux", "Lejeune", "Masson", "Gilson",
             "Hubert"))


def _title(rng: random.Random, youth: bool) -> tuple[str, str]:
    french = rng.random() < 0.4
    if youth:
        title = (f"{rng.choice(_KIDS_FR)} et le {rng.choice(_FR_M[0])} {rng.choice(_FR_M[1])}"
                 if french else f"{rng.choice(_KIDS_NL)} en de {rng.choice(_NL_DE)}")
    elif french:
        title = rng.choice((
            lambda: f"Le {rng.choice(_FR_M[0])} {rng.choice(_FR_M[1])}",
            lambda: f"La {rng.choice(_FR_F[0])} {rng.choice(_FR_F[1])}",
            lambda: f"Les {rng.choice(_FR_PL)} de {rng.choice(_FR_OF)}",
        ))()
    else:
        title = rng.choice((
            lambda: f"De {rng.choice(_NL_ADJ)} {rng.choice(_NL_DE)}",
            lambda: f"Het {rng.choice(_NL_HET)} van {rng.choice(_NL_OF)}",
        ))()
    first, last = _AUTH_FR if french else _AUTH_NL
    return title, f"{rng.choice(first)} {rng.choice(last)}"


ITEM_COUNT = 240


def _items() -> tuple[SeedItem, ...]:
    rng = random.Random(SEED + 1)
    items, seen = [], set()
    for n in range(1, ITEM_COUNT + 1):
        youth = n % 4 == 0
        title, author = _title(rng, youth)
        while title in seen:
            title, author = _title(rng, youth)
        seen.add(title)
        parts = 2 + n % 2 if n % 25 == 7 else 1
        if parts > 1:
            title += " (boek + cd)" if parts == 2 else " (boek + 2 cd's)"
        items.append(SeedItem(item_id=ean13(f"37000000{n:04d}"), title=title, author=author,
                              loanable=n != 1, parts=parts, collection="J" if youth else "A"))
    return tuple(items)


SEED_PATRONS: tuple[SeedPatron, ...] = _patrons()
SEED_ITEMS: tuple[SeedItem, ...] = _items()
DEMO_PATRONS: dict[str, str] = {p.name: p.barcode for p in SEED_PATRONS}
PATRONS_BY_ROLE: dict[str, SeedPatron] = {p.role: p for p in SEED_PATRONS if p.role}

REFERENCE_ITEM = SEED_ITEMS[0].item_id
MULTIPART_ITEMS: tuple[str, ...] = tuple(i.item_id for i in SEED_ITEMS if i.parts > 1)

# Loans and holds, by item index into SEED_ITEMS (index 0 is the reference copy).
LOANS: dict[str, tuple[int, ...]] = {
    "P0001": (10,), "P0003": (11,), "P0004": (12,), "P0005": (13, 14),
    "P0006": tuple(range(20, 30)), "P0008": (15, 16), "P0010": (17,), "P0012": (18, 19),
}
OVERDUE = {11, 13, 14}
RENEWALS = {15: 3}
RENEW_LIMIT_ITEM = SEED_ITEMS[15].item_id
WAITED_FOR_ITEM = SEED_ITEMS[16].item_id
PICKUP_ITEM = SEED_ITEMS[40].item_id
# (item index, patron, ready): ready holds sit on the hold shelf.
HOLDS = ((40, "P0007", True), (16, "P0009", False), (41, "P0011", True),
          (42, "P0013", True), (43, "P0014", True), (44, "P0016", True))
HELD_ITEMS: tuple[str, ...] = tuple(SEED_ITEMS[i].item_id for i, who, _ in HOLDS[2:])
AVAILABLE_ITEMS: tuple[str, ...] = tuple(
    item.item_id for index, item in enumerate(SEED_ITEMS)
    if index >= 50 and item.loanable and item.parts == 1
)
