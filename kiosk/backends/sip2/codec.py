"""SIP2 wire codec: bytes <-> `Message`, pure (no sockets, no clocks).

Kept free of I/O so the same code is exercised by property tests, by the
client on a live socket and by the doctor, and so a protocol fault always
surfaces as one named error (`ProtocolError`) that the client translates.

Error tree of this module::

    ProtocolError (ValueError)   the bytes are not a SIP2 message we understand
    └── ChecksumError            AZ did not verify: ask the peer to resend (97/96)

A frame is ``<2-digit command><fixed fields><variable fields>[AY<n>AZ<xxxx>]``
followed by a terminator (CR, or CRLF on some servers). Fixed fields are
positional and validated strictly because a shifted byte there changes the
meaning of every later flag. Variable fields are ``<2-char id><value>|``;
unknown ids (vendor extensions such as Koha's or Evergreen's) are kept, and
missing "required" ones are tolerated on decode because real servers omit them.
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

CR = b"\r"
LF = b"\n"
DELIMITER = "|"
MAX_FIELD_BYTES = 255  # the 2.00 spec's limit for a variable field


class ProtocolError(ValueError):
    """The bytes are not a valid SIP2 message (says which field and why)."""


class ChecksumError(ProtocolError):
    """The AZ checksum did not match: the frame was damaged in transit."""


# --------------------------------------------------------------------------
# Field and message specifications
# --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FixedField:
    name: str
    width: int
    pattern: str  # full-match regex
    why: str  # what a valid value looks like, for the error message

    def check(self, value: str, code: str) -> None:
        if len(value) != self.width:
            raise ProtocolError(
                f"message {code}: fixed field {self.name!r} must be {self.width} chars, "
                f"got {len(value)}"
            )
        if not _regex(self.pattern).fullmatch(value):
            raise ProtocolError(
                f"message {code}: fixed field {self.name!r} = {value!r} is not {self.why}"
            )


@dataclass(frozen=True, slots=True)
class VarField:
    fid: str
    name: str
    required: bool = False
    repeatable: bool = False


@dataclass(frozen=True, slots=True)
class MessageSpec:
    code: str
    name: str
    fixed: tuple[FixedField, ...]
    fields: tuple[VarField, ...] = ()
    reply: str | None = None  # command code of the expected answer

    @property
    def fixed_width(self) -> int:
        return _fixed_width(self.code)

    def var(self, fid: str) -> VarField | None:
        for f in self.fields:
            if f.fid == fid:
                return f
        return None


def _yn(name: str) -> FixedField:
    return FixedField(name, 1, "[YN]", "Y or N")


def _ynu(name: str) -> FixedField:
    return FixedField(name, 1, "[YNU]", "Y, N or U")


def _ok(name: str = "ok") -> FixedField:
    return FixedField(name, 1, "[01]", "0 or 1")


def _digits(name: str, width: int) -> FixedField:
    return FixedField(name, width, rf"[0-9]{{{width}}}", f"{width} digits")


DATE_PATTERN = r"[0-9]{8}[ A-Z0-9]{4}[0-9]{6}"


def _date(name: str, *, blank_ok: bool = False) -> FixedField:
    pattern = DATE_PATTERN + (r"| {18}" if blank_ok else "")
    return FixedField(name, 18, pattern, "a SIP2 date YYYYMMDDZZZZHHMMSS")


LANGUAGE = _digits("language", 3)
TX_DATE = _date("transaction_date")
PATRON_STATUS = FixedField("patron_status", 14, r"[YN ]{14}", "14 flags of Y or blank")
COUNT4 = FixedField("count", 4, r"[0-9]{4}| {4}", "4 digits or blanks")


def _count(name: str) -> FixedField:
    return FixedField(name, 4, COUNT4.pattern, COUNT4.why)


AO = VarField("AO", "institution_id", required=True)
AA = VarField("AA", "patron_identifier", required=True)
AB = VarField("AB", "item_identifier", required=True)
AC = VarField("AC", "terminal_password")
AD = VarField("AD", "patron_password")
AE = VarField("AE", "personal_name")
AF = VarField("AF", "screen_message", repeatable=True)
AG = VarField("AG", "print_line", repeatable=True)
AJ = VarField("AJ", "title_identifier")
AH = VarField("AH", "due_date")
BH = VarField("BH", "currency_type")
BV = VarField("BV", "fee_amount")
BO = VarField("BO", "fee_acknowledged")
BI = VarField("BI", "cancel")
BK = VarField("BK", "transaction_id")
BL = VarField("BL", "valid_patron")
CQ = VarField("CQ", "valid_patron_password")
CH = VarField("CH", "item_properties")
CK = VarField("CK", "media_type")
BT = VarField("BT", "fee_type")
CI = VarField("CI", "security_inhibit")
_TAIL = (AF, AG)

_SPECS: tuple[MessageSpec, ...] = (
    # ---- requests: self-check (SC) -> library system (ACS) ----
    MessageSpec(
        "93", "login",
        (FixedField("uid_algorithm", 1, "[ -~]", "one printable ASCII character"),
         FixedField("pwd_algorithm", 1, "[ -~]", "one printable ASCII character")),
        (VarField("CN", "login_user_id", required=True),
         VarField("CO", "login_password", required=True),
         VarField("CP", "location_code")),
        reply="94",
    ),
    MessageSpec(
        "99", "sc_status",
        (FixedField("status_code", 1, "[012]", "0, 1 or 2"), _digits("max_print_width", 3),
         FixedField("protocol_version", 4, r"[0-9]\.[0-9]{2}", "a version like 2.00")),
        reply="98",
    ),
    MessageSpec("97", "request_acs_resend", ()),
    MessageSpec(
        "23", "patron_status_request", (LANGUAGE, TX_DATE),
        (AO, AA, VarField("AC", "terminal_password", required=True),
         VarField("AD", "patron_password", required=True)),
        reply="24",
    ),
    MessageSpec(
        "63", "patron_information_request",
        (LANGUAGE, TX_DATE, FixedField("summary", 10, r"[Y ]{10}", "10 flags of Y or blank")),
        (AO, AA, AC, AD, VarField("BP", "start_item"), VarField("BQ", "end_item")),
        reply="64",
    ),
    MessageSpec(
        "17", "item_information_request", (TX_DATE,), (AO, AB, AC), reply="18",
    ),
    MessageSpec(
        "11", "checkout_request",
        (_yn("sc_renewal_policy"), _yn("no_block"), TX_DATE,
         _date("nb_due_date", blank_ok=True)),
        (AO, AA, AB, VarField("AC", "terminal_password", required=True), CH, AD, BO, BI),
        reply="12",
    ),
    MessageSpec(
        "09", "checkin_request",
        (_yn("no_block"), TX_DATE, _date("return_date", blank_ok=True)),
        (VarField("AP", "current_location", required=True), AO, AB,
         VarField("AC", "terminal_password", required=True), CH, BI),
        reply="10",
    ),
    MessageSpec(
        "29", "renew_request",
        (_yn("third_party_allowed"), _yn("no_block"), TX_DATE,
         _date("nb_due_date", blank_ok=True)),
        (AO, AA, AD, VarField("AB", "item_identifier"), AJ, AC, CH, BO),
        reply="30",
    ),
    MessageSpec("65", "renew_all_request", (TX_DATE,), (AO, AA, AD, AC, BO), reply="66"),
    MessageSpec("35", "end_patron_session", (TX_DATE,), (AO, AA, AC, AD), reply="36"),
    MessageSpec(
        "37", "fee_paid",
        (TX_DATE, _digits("fee_type", 2), _digits("payment_type", 2),
         FixedField("currency_type", 3, r"[A-Z]{3}", "a 3-letter currency code")),
        (VarField("BV", "fee_amount", required=True), AO, AA, AC, AD,
         VarField("CG", "fee_identifier"), BK),
        reply="38",
    ),
    # ---- responses: library system (ACS) -> self-check (SC) ----
    MessageSpec("94", "login_response", (_ok(),)),
    MessageSpec(
        "98", "acs_status",
        (_yn("online_status"), _yn("checkin_ok"), _yn("checkout_ok"),
         _yn("acs_renewal_policy"), _yn("status_update_ok"), _yn("offline_ok"),
         _digits("timeout_period", 3), _digits("retries_allowed", 3),
         _date("date_time_sync"),
         FixedField("protocol_version", 4, r"[0-9]\.[0-9]{2}", "a version like 2.00")),
        (AO, VarField("AM", "library_name"), VarField("BX", "supported_messages"),
         VarField("AN", "terminal_location"), *_TAIL),
    ),
    MessageSpec("96", "request_sc_resend", ()),
    MessageSpec(
        "24", "patron_status_response", (PATRON_STATUS, LANGUAGE, TX_DATE),
        (AO, AA, AE, BL, CQ, BH, BV, *_TAIL),
    ),
    MessageSpec(
        "64", "patron_information_response",
        (PATRON_STATUS, LANGUAGE, TX_DATE, _count("hold_items_count"),
         _count("overdue_items_count"), _count("charged_items_count"),
         _count("fine_items_count"), _count("recall_items_count"),
         _count("unavailable_holds_count")),
        (AO, AA, AE, VarField("BZ", "hold_items_limit"), VarField("CA", "overdue_items_limit"),
         VarField("CB", "charged_items_limit"), BL, CQ, BH, BV, VarField("CC", "fee_limit"),
         VarField("AS", "hold_items", repeatable=True),
         VarField("AT", "overdue_items", repeatable=True),
         VarField("AU", "charged_items", repeatable=True),
         VarField("AV", "fine_items", repeatable=True),
         VarField("BU", "recall_items", repeatable=True),
         VarField("CD", "unavailable_hold_items", repeatable=True),
         VarField("BD", "home_address"), VarField("BE", "email_address"),
         VarField("BF", "home_phone_number"), *_TAIL),
    ),
    MessageSpec(
        "18", "item_information_response",
        (_digits("circulation_status", 2), _digits("security_marker", 2),
         _digits("fee_type", 2), TX_DATE),
        (VarField("CF", "hold_queue_length"), AH, VarField("CJ", "recall_date"),
         VarField("CM", "hold_pickup_date"), AB, AJ, VarField("BG", "owner"), BH, BV, CK,
         VarField("AQ", "permanent_location"), VarField("AP", "current_location"), CH,
         *_TAIL),
    ),
    MessageSpec(
        "12", "checkout_response",
        (_ok(), _yn("renewal_ok"), _ynu("magnetic_media"), _ynu("desensitize"), TX_DATE),
        (AO, AA, AB, AJ, AH, BT, CI, BH, BV, CK, CH, BK, *_TAIL),
    ),
    MessageSpec(
        "10", "checkin_response",
        (_ok(), _ynu("resensitize"), _ynu("magnetic_media"), _yn("alert"), TX_DATE),
        (AO, AB, VarField("AQ", "permanent_location"), AJ, VarField("CL", "sort_bin"),
         VarField("AA", "patron_identifier"), CK, CH, *_TAIL),
    ),
    MessageSpec(
        "30", "renew_response",
        (_ok(), _yn("renewal_ok"), _ynu("magnetic_media"), _ynu("desensitize"), TX_DATE),
        (AO, AA, AB, AJ, AH, BT, CI, BH, BV, CK, CH, BK, *_TAIL),
    ),
    MessageSpec(
        "66", "renew_all_response",
        (_ok(), _digits("renewed_count", 4), _digits("unrenewed_count", 4), TX_DATE),
        (AO, VarField("BM", "renewed_items", repeatable=True),
         VarField("BN", "unrenewed_items", repeatable=True), *_TAIL),
    ),
    MessageSpec(
        "36", "end_session_response", (_yn("end_session"), TX_DATE), (AO, AA, *_TAIL),
    ),
    MessageSpec(
        "38", "fee_paid_response", (_yn("payment_accepted"), TX_DATE), (AO, AA, BK, *_TAIL),
    ),
)

SPECS: Mapping[str, MessageSpec] = {spec.code: spec for spec in _SPECS}
CONTROL_CODES = frozenset({"96", "97"})  # carry AZ but no AY, per the spec


@functools.cache
def _fixed_width(code: str) -> int:
    return sum(f.width for f in SPECS[code].fixed)


@functools.cache
def _fixed_widths(code: str) -> tuple[int, ...]:
    return tuple(f.width for f in SPECS[code].fixed)


@functools.cache
def _fixed_regex(code: str) -> re.Pattern[str]:
    """All fixed fields of one message as one pattern: one match on the fast path."""
    return re.compile("".join(f"(?P<{f.name}>{f.pattern})" for f in SPECS[code].fixed))


def _check_fixed(spec: MessageSpec, values: list[str]) -> None:
    if tuple(map(len, values)) != _fixed_widths(spec.code) or not _fixed_regex(
            spec.code).fullmatch("".join(values)):
        for f, value in zip(spec.fixed, values, strict=True):
            f.check(value, spec.code)  # names the first bad field


def spec_for(code: str) -> MessageSpec:
    try:
        return SPECS[code]
    except KeyError:
        raise ProtocolError(f"unknown SIP2 command {code!r}") from None


# --------------------------------------------------------------------------
# The message value
# --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Message:
    """One SIP2 message: command code, fixed fields by name, variable fields in wire order.

    Variable fields are an ordered tuple of (id, value) pairs rather than a dict
    because ids repeat (AF, AU ...) and unknown vendor ids must survive a round
    trip untouched.
    """

    code: str
    fixed: Mapping[str, str] = field(default_factory=dict)
    fields: tuple[tuple[str, str], ...] = ()
    sequence: int | None = None  # AY as received (None when error detection is off)

    @property
    def spec(self) -> MessageSpec:
        return spec_for(self.code)

    def get(self, fid: str, default: str | None = None) -> str | None:
        for key, value in self.fields:
            if key == fid:
                return value
        return default

    def all(self, fid: str) -> list[str]:
        """Every non-blank value of a repeated field, in order. A blank one names nothing (a
        server answering a holds request with 999 empty AS fields has no holds to show)."""
        return [value for key, value in self.fields if key == fid and value.strip()]

    def flag(self, name: str) -> str:
        try:
            return self.fixed[name]
        except KeyError:
            raise ProtocolError(f"message {self.code} has no fixed field {name!r}") from None

    def yes(self, name: str) -> bool:
        return self.flag(name) in ("Y", "1")

    @property
    def screen_message(self) -> str:
        return " ".join(m.strip() for m in self.all("AF") if m.strip())

    def __repr__(self) -> str:  # identifiers and passwords stay out of logs
        ids = ",".join(key for key, _ in self.fields)
        return f"Message({self.code} {self.spec.name}, fields=[{ids}])"


def make(
    code: str,
    fixed: Mapping[str, str] | None = None,
    fields: Iterable[tuple[str, str | None]] = (),
) -> Message:
    """Build a message, checking fixed fields now so a bad value fails at the caller.

    Fields whose value is None are left out, which lets callers write optional
    fields inline (``("AD", pin if send_pin else None)``).
    """
    fixed = dict(fixed or {})
    pairs = tuple((fid, value) for fid, value in fields if value is not None)
    layout = _layout(code)
    if (fixed.keys() != layout.name_set
            or _fast_text(layout, fixed, pairs) is None
            or not layout.required <= {fid for fid, _ in pairs}):
        _explain_make(code, fixed, pairs)
    return Message(code=code, fixed=fixed, fields=pairs)


def _explain_make(code: str, fixed: Mapping[str, str], pairs: tuple[tuple[str, str], ...]) -> None:
    """Field by field: raise the ProtocolError that names what is wrong with `make`'s input."""
    spec = spec_for(code)
    names = {f.name for f in spec.fixed}
    extra = set(fixed) - names
    if extra:
        raise ProtocolError(f"message {code}: unknown fixed field(s) {sorted(extra)}")
    for f in spec.fixed:
        if f.name not in fixed:
            raise ProtocolError(f"message {code}: fixed field {f.name!r} is missing")
        f.check(fixed[f.name], code)
    present = {fid for fid, _ in pairs}
    for var in spec.fields:
        if var.required and var.fid not in present:
            raise ProtocolError(f"message {code}: required field {var.fid} ({var.name}) missing")
    for fid, value in pairs:
        _check_field(code, fid, value)
        if len(value) > MAX_FIELD_BYTES:
            raise ProtocolError(
                f"message {code}: field {fid} is {len(value)} characters, "
                f"over the {MAX_FIELD_BYTES}-byte limit"
            )


_FIELD_ID = re.compile(r"[A-Z0-9]{2}")
_FORBIDDEN = re.compile(r"[|\r\n\0]")


@functools.cache
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _check_field(code: str, fid: str, value: str) -> None:
    if not _FIELD_ID.fullmatch(fid):
        raise ProtocolError(f"message {code}: field id {fid!r} is not two capitals or digits")
    if fid in ("AY", "AZ"):
        raise ProtocolError(f"message {code}: {fid} is added by the codec, not by callers")
    if _FORBIDDEN.search(value):
        raise ProtocolError(
            f"message {code}: field {fid} contains '|', a line break or NUL, "
            "which would split the message"
        )


# --------------------------------------------------------------------------
# Checksum
# --------------------------------------------------------------------------


def checksum(data: bytes) -> str:
    """Four hex digits: the two's complement of the 16-bit byte sum of `data`.

    `data` runs from the first byte of the message up to and including "AZ";
    a receiver adds the checksum's value to the same sum and must get zero.
    """
    return f"{(-sum(data)) & 0xFFFF:04X}"


# --------------------------------------------------------------------------
# Encoding
# --------------------------------------------------------------------------


def encode(
    message: Message,
    *,
    charset: str = "cp850",
    error_detection: bool = False,
    sequence: int = 0,
    terminator: bytes = CR,
) -> bytes:
    """The wire bytes of `message`, with AY/AZ when error detection is on.

    The common case (valid, ASCII) is checked with one whole-message regex match
    (`_fast_text`, the same check `make` runs); only when it fails do we walk
    field by field to name the problem.
    """
    layout = _layout(message.code)
    text = _fast_text(layout, message.fixed, message.fields)
    if text is None or not text.isascii():
        _explain(message, charset)  # raises a named ProtocolError unless only non-ASCII text
        text = message.code + "".join(message.fixed[name] for name in layout.names) + "".join(
            [f"{fid}{value}|" for fid, value in message.fields])
    try:
        # All three charsets are ASCII supersets; ASCII is the common case and far cheaper.
        out = text.encode("ascii") if text.isascii() else text.encode(charset)
    except UnicodeEncodeError:  # find the field to name it
        for fid, value in message.fields:
            _encode_text(value, charset, message.code, fid)
        raise ProtocolError(f"message {message.code}: text {charset} cannot carry") from None
    except LookupError as exc:
        raise ProtocolError(f"unknown character set {charset!r}") from exc
    if error_detection:
        if message.code not in CONTROL_CODES:
            if not 0 <= sequence <= 9:
                raise ProtocolError(f"sequence number {sequence} is not a single digit")
            out += b"AY%dAZ" % sequence
        else:
            out += b"AZ"
        out += b"%04X" % ((-sum(out)) & 0xFFFF)
    return out + terminator


# Variable fields as encoded: id (not AY/AZ, which the codec adds), value, '|'.
_VARS = r"(?:(?!A[YZ])[A-Z0-9]{2}[^|\r\n\x00]{0,255}\|)*+"


@dataclass(frozen=True, slots=True)
class _Layout:
    code: str
    names: tuple[str, ...]
    name_set: frozenset[str]
    widths: tuple[int, ...]
    width: int
    regex: re.Pattern[str]  # the fixed fields, one named group each (decode)
    text: re.Pattern[str]  # fixed fields + variable fields as encoded, after the code
    values: Callable[[Mapping[str, str]], tuple[str, ...]]  # the fixed values in wire order
    required: frozenset[str]


def _layout(code: str) -> _Layout:
    try:
        return _LAYOUTS[code]
    except KeyError:
        raise ProtocolError(f"unknown SIP2 command {code!r}") from None


def _fast_text(layout: _Layout, fixed: Mapping[str, str],
               fields: tuple[tuple[str, str], ...]) -> str | None:
    """The message as text when every field is well formed, else None (then explain why).

    One whole-message regex instead of one check per field: the codec's only per-request work
    before a frame can be sent, so it is kept to a handful of C calls. The widths are compared
    value by value because a long value next to a short one would still match as a whole.
    """
    try:
        values = layout.values(fixed)
    except KeyError:
        return None
    var_text = "".join([f"{fid}{value}|" for fid, value in fields])
    if tuple(map(len, values)) != layout.widths or var_text.count("|") != len(fields):
        return None
    text = layout.code + "".join(values) + var_text
    return text if layout.text.fullmatch(text, 2) else None


def _explain(message: Message, charset: str) -> None:
    """Field by field: raise the ProtocolError that names what is wrong."""
    spec = spec_for(message.code)
    values = []
    for f in spec.fixed:
        value = message.fixed.get(f.name)
        if value is None:
            raise ProtocolError(f"message {message.code}: fixed field {f.name!r} is missing")
        values.append(value)
    _check_fixed(spec, values)
    for fid, value in message.fields:
        _check_field(message.code, fid, value)
        size = len(value) if value.isascii() else len(
            _encode_text(value, charset, message.code, fid))
        if size > MAX_FIELD_BYTES:
            raise ProtocolError(
                f"message {message.code}: field {fid} is {size} bytes, "
                f"over the {MAX_FIELD_BYTES}-byte limit"
            )


def _encode_text(value: str, charset: str, code: str, where: str) -> bytes:
    try:
        return value.encode(charset)
    except UnicodeEncodeError as exc:
        raise ProtocolError(
            f"message {code}: field {where} has characters {charset} cannot carry"
        ) from exc


# --------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------

_HEX4 = re.compile(rb"[0-9A-Fa-f]{4}")


def decode(frame: bytes, *, charset: str = "cp850", verify: bool = True) -> Message:
    """Parse one frame (terminator optional) into a `Message`.

    Raises `ChecksumError` when AZ is present and wrong (if `verify`), and
    `ProtocolError` for anything else that is not SIP2.
    """
    body = frame.strip(b"\r\n")  # the LF of a CRLF peer may lead the next frame
    if b"\r" in body or b"\0" in body:
        raise ProtocolError("frame contains an embedded CR or NUL")
    sequence = None
    if body[-6:-4] == b"AZ" and _HEX4.fullmatch(body, len(body) - 4):
        digits = body[-4:]
        if verify and (sum(body[:-4]) + int(digits, 16)) & 0xFFFF:
            raise ChecksumError(f"checksum {digits.decode('ascii')} does not verify")
        body = body[:-6]
        if body[-3:-1] == b"AY" and 0x30 <= body[-1] <= 0x39:
            sequence = body[-1] - 0x30
            body = body[:-3]
        if body.endswith(b"|"):
            body = body[:-1]
    if len(body) < 2:
        raise ProtocolError("frame too short to hold a command code")
    code = body[:2].decode("latin-1")
    layout = _LAYOUTS.get(code)
    if layout is None:
        raise ProtocolError(f"unknown SIP2 command {code!r}")
    try:
        text = body[2:].decode("ascii") if body.isascii() else body[2:].decode(charset)
    except UnicodeDecodeError as exc:
        raise ProtocolError(f"message {code}: bytes are not valid {charset}") from exc
    except LookupError as exc:
        raise ProtocolError(f"unknown character set {charset!r}") from exc
    width = layout.width
    matched = layout.regex.fullmatch(text, 0, width)
    fixed = matched.groupdict() if matched is not None else _fixed_slow(SPECS[code], text)
    fields = _split_fields(code, text[width:])
    return Message(code=code, fixed=fixed, fields=fields, sequence=sequence)


def _fixed_slow(spec: MessageSpec, text: str) -> dict[str, str]:
    """Field by field, to say which one is wrong (always raises for a bad head)."""
    fixed: dict[str, str] = {}
    pos = 0
    for f in spec.fixed:
        value = text[pos : pos + f.width]
        if len(value) < f.width:
            raise ProtocolError(
                f"message {spec.code}: truncated at fixed field {f.name!r} "
                f"(needs {f.width} chars, {len(value)} left)"
            )
        f.check(value, spec.code)
        fixed[f.name] = value
        pos += f.width
    return fixed


_FIELD = re.compile(r"([A-Za-z0-9]{2})([^|]*)")
_FIELDS = re.compile(r"\|*+(?:[A-Za-z0-9]{2}[^|]*+(?:\|++|$))*+")  # possessive: linear time


def _split_fields(code: str, text: str) -> tuple[tuple[str, str], ...]:
    """(id, value) pairs in wire order; '||' and a final '|' carry nothing and are skipped."""
    if _FIELDS.fullmatch(text):
        return tuple(_FIELD.findall(text))
    for chunk in text.split(DELIMITER):  # say what is wrong
        if chunk and len(chunk) < 2:
            raise ProtocolError(f"message {code}: variable field {chunk!r} has no 2-char id")
        if chunk and not (chunk[:2].isascii() and chunk[:2].isalnum()):
            raise ProtocolError(f"message {code}: {chunk[:2]!r} is not a field id")
    raise ProtocolError(f"message {code}: variable fields are garbled")  # pragma: no cover


def split_frames(buffer: bytearray) -> list[bytes]:
    """Remove and return every complete CR-terminated frame from `buffer`."""
    frames: list[bytes] = []
    while True:
        end = buffer.find(CR)
        if end == -1:
            return frames
        frame = bytes(buffer[: end + 1]).lstrip(LF)
        del buffer[: end + 1]
        if frame.strip(b"\r\n"):
            frames.append(frame)


def _values_getter(names: tuple[str, ...]) -> Callable[[Mapping[str, str]], tuple[str, ...]]:
    if len(names) > 1:
        return operator.itemgetter(*names)
    if names:
        return lambda fixed: (fixed[names[0]],)
    return lambda fixed: ()


_LAYOUTS: dict[str, _Layout] = {
    code: _Layout(
        code=code,
        names=tuple(f.name for f in spec.fixed),
        name_set=frozenset(f.name for f in spec.fixed),
        widths=_fixed_widths(code),
        width=_fixed_width(code),
        regex=_fixed_regex(code),
        text=re.compile("".join(f"(?:{f.pattern})" for f in spec.fixed) + _VARS),
        values=_values_getter(tuple(f.name for f in spec.fixed)),
        required=frozenset(v.fid for v in spec.fields if v.required),
    )
    for code, spec in SPECS.items()
}
