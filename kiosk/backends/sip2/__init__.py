"""SIP2 backend: pure codec, socket/TLS client, mapping to `CatalogBackend`, doctor.

Build it from the kiosk config's `[sip2]` table::

    backend = Sip2Backend(Sip2Settings.from_mapping(config["sip2"]))
    rows = check_connection(Sip2Settings.from_mapping(config["sip2"]))  # `kiosk doctor`
"""

from kiosk.backends.sip2.backend import Sip2Backend
from kiosk.backends.sip2.client import AcsStatus, Sip2Client
from kiosk.backends.sip2.codec import ChecksumError, Message, ProtocolError
from kiosk.backends.sip2.doctor import CheckRow, check_connection
from kiosk.backends.sip2.settings import (
    HoldCounting,
    PatronPasswordMode,
    Sip2ConfigError,
    Sip2Settings,
)

__all__ = [
    "AcsStatus",
    "CheckRow",
    "ChecksumError",
    "HoldCounting",
    "Message",
    "PatronPasswordMode",
    "ProtocolError",
    "Sip2Backend",
    "Sip2Client",
    "Sip2ConfigError",
    "Sip2Settings",
    "check_connection",
]
