"""The kiosk's environment as a technician leaves it: a ~/.netrc, a proxy, a CA bundle variable.

The environment is read once, when the backend is built (see `session_from_environment`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from central.server import RunningServer
from domain.demo_library import DEMO_KIOSK_ID, DEMO_TOKEN, PATRONS_BY_ROLE
from kiosk.backends.base import BackendUnavailable
from kiosk.backends.rest import RestBackend

if TYPE_CHECKING:
    from conftest import RawServer, SiteCertificate  # tests/rest/ and tests/conftest.py

JAN = PATRONS_BY_ROLE["card"]


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No proxy or CA variables from the machine running the tests; a HOME of our own."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE",
                 "CURL_CA_BUNDLE", "NETRC"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


def test_a_netrc_entry_for_the_central_host_does_not_replace_the_kiosk_token(
        server: RunningServer, clean_environment: Path) -> None:
    # A technician who keeps curl credentials for the central host in ~/.netrc: requests'
    # default would send those as Basic auth instead of the kiosk's token (HTTP 401).
    netrc = clean_environment / ".netrc"
    netrc.write_text("machine 127.0.0.1 login technician password not-the-token\n")
    netrc.chmod(0o600)
    with RestBackend(server.url, DEMO_TOKEN, kiosk_id=DEMO_KIOSK_ID) as backend:
        status = backend.heartbeat({"queue_length": 0})
        assert status.online
        assert backend.account(JAN.patron_id).patron.patron_id == JAN.patron_id


def test_the_proxy_from_the_environment_carries_every_request(
        raw_server: RawServer, clean_environment: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    raw_server.respond("503 Service Unavailable", '{"detail": "proxy: upstream down"}')
    monkeypatch.setenv("HTTP_PROXY", raw_server.url)
    seen = len(raw_server.requests)
    # central.invalid cannot resolve: only a proxy can carry this request anywhere.
    with RestBackend("http://central.invalid:8080", DEMO_TOKEN, kiosk_id=DEMO_KIOSK_ID,
                     timeout=(1.0, 1.0)) as backend:
        monkeypatch.delenv("HTTP_PROXY")  # read once, when the backend was built
        for _ in range(2):
            with pytest.raises(BackendUnavailable, match="HTTP 503"):
                backend.heartbeat({"queue_length": 0})
    through_proxy = raw_server.requests[seen:]
    assert len(through_proxy) == 2
    for request in through_proxy:
        assert request.startswith(b"POST http://central.invalid:8080/v1/heartbeat HTTP/1.1")
        assert f"Authorization: Bearer {DEMO_TOKEN}".encode() in request


def test_no_proxy_keeps_the_central_host_direct(
        server: RunningServer, clean_environment: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens on the discard port
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    with RestBackend(server.url, DEMO_TOKEN, kiosk_id=DEMO_KIOSK_ID) as backend:
        assert backend.heartbeat({"queue_length": 0}).online


def test_a_ca_bundle_variable_lets_the_kiosk_trust_the_sites_certificate(
        tls_server: RawServer, site_certificate: SiteCertificate, clean_environment: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    server, cert = tls_server, site_certificate.cert
    with RestBackend(server.url, DEMO_TOKEN, kiosk_id=DEMO_KIOSK_ID,
                     timeout=(1.0, 1.0)) as backend, \
            pytest.raises(BackendUnavailable, match=r"unreachable \(SSLError\)"):
        backend.heartbeat({"queue_length": 0})  # the public CAs do not know this certificate
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    with RestBackend(server.url, DEMO_TOKEN, kiosk_id=DEMO_KIOSK_ID,
                     timeout=(1.0, 1.0)) as backend, \
            pytest.raises(BackendUnavailable, match="HTTP 503"):  # TLS passed: the server spoke
        backend.heartbeat({"queue_length": 0})
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(clean_environment / "other-ca.pem"))
    with RestBackend(server.url, DEMO_TOKEN, kiosk_id=DEMO_KIOSK_ID, timeout=(1.0, 1.0),
                     verify=str(cert)) as backend, \
            pytest.raises(BackendUnavailable, match="HTTP 503"):  # the kiosk's own setting wins
        backend.heartbeat({"queue_length": 0})
