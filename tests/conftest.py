"""Shared fixtures: a real, seeded reference catalog on a loopback port behind a fault proxy,
and kiosk cores (journal + REST client + circulation + sync) wired to it."""

from __future__ import annotations

import itertools
import os
import ssl
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from engines import ENGINES
from hypothesis import HealthCheck, settings

from central.db import Database, copy_database
from central.faultproxy import FaultProxy
from central.seed import seed
from central.server import start_in_thread
from domain.demo_library import DEMO_KIOSK_ID, DEMO_TOKEN
from kiosk import config
from kiosk.app import Kiosk, build_kiosk
from kiosk.backends.rest import RestBackend
from kiosk.circulation import CirculationService, OfflinePolicy
from kiosk.connectivity import Connectivity
from kiosk.journal import Journal
from kiosk.sync import SyncWorker
from kiosk.testing.in_process import InProcessLibrary
from kiosk.testing.postgres_server import PostgresServer

# A shared CI box can pause a test for a second; Hypothesis' 200 ms per-example deadline would
# then report a flaky failure that says nothing about the code. Tests that care set their own.
settings.register_profile("kiosk", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("kiosk")

# tests/hardware needs a real card reader on a kiosk: a technician asks for it by name
# (KIOSK_HARDWARE=1, see that folder), so the suite everywhere else neither skips nor fakes it.
collect_ignore = [] if os.environ.get("KIOSK_HARDWARE") else ["hardware"]


@dataclass(frozen=True)
class SiteCertificate:
    """A self-signed certificate for 127.0.0.1, as a library's IT makes for stunnel or nginx."""

    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context


@pytest.fixture(scope="session")
def site_certificate(tmp_path_factory: pytest.TempPathFactory) -> SiteCertificate:
    d = tmp_path_factory.mktemp("site-tls")
    cert, key = d / "site-ca.pem", d / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=30)
    return SiteCertificate(cert, key)


@dataclass
class Library:
    """The central side as a kiosk sees it: `url` goes through `proxy`, `direct_url` does not.
    `db_path` is where its database is: a SQLite file, or a PostgreSQL URL."""

    url: str
    direct_url: str
    proxy: FaultProxy
    db_path: Any


# The central service's tests run on both engines (issue 15): a test in these folders that
# uses the service's database (`engine`, through `library`, `twin` or `db_path`) runs twice,
# unless it is about SQLite itself (marked sqlite_only: files, PRAGMAs, copies).
BOTH_ENGINES = ("central", "staff")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    folder = Path(str(metafunc.definition.path)).parent.name
    if "engine" in metafunc.fixturenames and folder in BOTH_ENGINES \
            and not metafunc.definition.get_closest_marker("sqlite_only"):
        metafunc.parametrize("engine", ENGINES, indirect=True)


@pytest.fixture
def engine(request: pytest.FixtureRequest) -> str:
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One real PostgreSQL server for the run, started the first time a test needs it."""
    with PostgresServer() as server:
        yield server


@pytest.fixture(scope="session")
def seeded_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo library, seeded once per run; tests copy it (seeding hashes 25 PINs)."""
    path = tmp_path_factory.mktemp("library-template") / "seeded.db"
    with Database(path) as db:
        seed(db)
    return path


@pytest.fixture(scope="session")
def seeded_postgres(postgres: PostgresServer) -> str:
    """The same on PostgreSQL: a database that tests' databases are created from."""
    with Database(postgres.create("seeded")) as db:
        seed(db)
    return "seeded"


_databases = itertools.count()


@pytest.fixture
def central_location(engine: str, request: pytest.FixtureRequest, seeded_template: Path,
                     tmp_path: Path) -> Iterator[Any]:
    """A fresh copy of the seeded library for one test: a SQLite file or a PostgreSQL URL."""
    if engine == "sqlite":
        yield copy_database(seeded_template, tmp_path / "central.db")
        return
    server: PostgresServer = request.getfixturevalue("postgres")
    template = request.getfixturevalue("seeded_postgres")
    name = f"test_{next(_databases)}"
    yield server.create(name, template=template)
    server.drop(name)


@pytest.fixture
def library(central_location: Any) -> Iterator[Library]:
    with start_in_thread(central_location) as server, \
            FaultProxy("127.0.0.1", server.port) as proxy:
        yield Library(url=proxy.url, direct_url=server.url, proxy=proxy,
                      db_path=central_location)


@dataclass
class KioskCore:
    """The parts of a kiosk the core's tests drive: `backend` is the REST client itself (a
    test may shorten its timeout), the rest as `build_kiosk` made them."""

    journal: Journal
    backend: RestBackend
    connectivity: Connectivity
    circulation: CirculationService
    sync: SyncWorker
    kiosk: Kiosk


@pytest.fixture
def twin(central_location: Any) -> Iterator[InProcessLibrary]:
    """The demo library in this process: the reference service behind a transport adapter,
    no server thread and no socket (kiosk/testing/in_process.py). For the core's tests; what
    needs a real wire (stalls, cut replies) uses `library` and its fault proxy."""
    with InProcessLibrary(central_location) as lib:
        yield lib


@pytest.fixture
def make_core(request: pytest.FixtureRequest,
              tmp_path: Path) -> Iterator[Callable[..., KioskCore]]:
    """A kiosk core (journal, REST client, circulation, sync). On the real server behind the
    fault proxy (`library`) by default; `make_core(on=twin)` puts it on the in-process twin."""
    made: list[KioskCore] = []

    def make(*, policy: OfflinePolicy | None = None, journal_path: Path | None = None,
             timeout: tuple[float, float] = (2.0, 10.0), batch_size: int = 100,
             url: str | None = None, poison_after: int = 5,
             on: InProcessLibrary | None = None,
             library_section: config.LibrarySection | None = None) -> KioskCore:
        if on is not None:
            backend = on.backend(timeout=timeout)
        else:
            library: Library = request.getfixturevalue("library")
            backend = RestBackend(url or library.url, DEMO_TOKEN, kiosk_id=DEMO_KIOSK_ID,
                                  timeout=timeout)
        kiosk_settings = config.Settings(
            kiosk=config.KioskSection(id=DEMO_KIOSK_ID, data_dir=str(tmp_path)),
            journal=config.JournalSection(
                path=str(journal_path or tmp_path / f"journal-{len(made)}.db")),
            sync=config.SyncSection(batch_size=batch_size, heartbeat_s=0.05, backoff_base_s=0.01,
                                    backoff_max_s=0.05, recheck_s=0.0, poison_after=poison_after),
            offline=policy or OfflinePolicy(),
            library=library_section or config.LibrarySection(),
        )
        kiosk = build_kiosk(kiosk_settings, backend=backend)  # not started: the tests drive it
        core = KioskCore(kiosk.journal, backend, kiosk.connectivity, kiosk.circulation,
                         kiosk.sync, kiosk)
        made.append(core)
        return core

    yield make
    for core in made:
        core.kiosk.close()
