"""A real SMTP relay on 127.0.0.1 (aiosmtpd): STARTTLS required, with a certificate from a
throw-away CA (trustme), and a login, as a library's relay asks for. (Its own module name:
`from conftest import` picks another folder's conftest when the suites run together.)"""

from __future__ import annotations

import contextlib
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

USER, PASSWORD = "kiosk-7", "relay-secret-not-real"


@dataclass
class Inbox:
    messages: list[Message] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)  # addresses the relay rejects

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.original_content))
        return "250 Message accepted"


def _login(server: Any, session: Any, envelope: Any, mechanism: str,
           auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (
        auth_data.login.decode(), auth_data.password.decode()) == (USER, PASSWORD)
    return AuthResult(success=ok)


@dataclass
class Relay:
    host: str
    port: int
    ca_file: Path
    inbox: Inbox


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running_relay(tmp_path: Path) -> Iterator[Relay]:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    ca_file = tmp_path / "relay-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=context,
                            require_starttls=True, auth_require_tls=True,
                            authenticator=_login, auth_required=True)
    controller.start()
    try:
        yield Relay("127.0.0.1", port, ca_file, inbox)
    finally:
        controller.stop()
