"""`kiosk queue` and `kiosk sync` as a technician runs them, against a real journal and service."""

from __future__ import annotations

import subprocess
import sys

from domain.demo_library import AVAILABLE_ITEMS, DEMO_TOKEN, SEED_PATRONS
from domain.model import Credential, CredentialKind
from kiosk.circulation import CirculationService, OfflinePolicy
from kiosk.connectivity import Connectivity
from kiosk.journal import Journal

PATRON = SEED_PATRONS[14]


def _kiosk(tmp_path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    cfg = tmp_path / "kiosk.toml"
    cfg.write_text(f'[kiosk]\nid = "demo-kiosk-1"\ndata_dir = "{tmp_path}"\n'
                   f'[backend]\nurl = "{url}"\ntoken_env = "T"\n')
    return subprocess.run([sys.executable, "-m", "kiosk.cli", *args, "--config", str(cfg)],
                          capture_output=True, text=True, timeout=60,
                          env={"T": DEMO_TOKEN, "PATH": "/usr/bin:/bin"})


def test_queue_lists_offline_work_without_card_numbers_then_sync_sends_it(library, tmp_path):
    journal = Journal(tmp_path / "journal.db")
    from kiosk.backends.rest import RestBackend

    backend = RestBackend(library.url, DEMO_TOKEN, kiosk_id="demo-kiosk-1", timeout=(0.5, 1))
    circulation = CirculationService(backend, journal, connectivity=Connectivity(),
                                     policy=OfflinePolicy(patron_check="format"),
                                     kiosk_id="demo-kiosk-1")
    library.proxy.cut()
    patron = circulation.identify(Credential(CredentialKind.BARCODE, PATRON.barcode)).patron
    for item in AVAILABLE_ITEMS[60:63]:
        assert circulation.checkout(patron, item).offline
    journal.close()
    backend.close()

    listing = _kiosk(tmp_path, library.url, "queue")
    assert listing.returncode == 0, listing.stderr
    assert listing.stdout.count("checkout") == 3 and "pending" in listing.stdout
    assert PATRON.barcode not in listing.stdout and PATRON.patron_id not in listing.stdout

    failed = _kiosk(tmp_path, library.url, "sync")  # still cut off
    assert failed.returncode == 2 and "did not answer" in failed.stdout
    library.proxy.restore()
    sent = _kiosk(tmp_path, library.url, "sync")
    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert "3 done" in sent.stdout and "0 still pending" in sent.stdout
    assert "empty" in _kiosk(tmp_path, library.url, "queue").stdout
    assert "Traceback" not in failed.stderr + sent.stderr + listing.stderr


def test_queue_accounts_for_quarantined_rows_and_a_damaged_journal(library, tmp_path):
    """Every row a technician must know about is in `kiosk queue`: quarantined with their
    evidence, released in their order by --release; a damaged journal's salvage report until
    --clear-salvage."""
    import sqlite3

    from domain.model import Transaction, TransactionKind
    from kiosk.journal import State

    with Journal(tmp_path / "journal.db") as journal:
        ids = []
        for item in AVAILABLE_ITEMS[64:67]:
            tx = Transaction(TransactionKind.CHECKOUT, PATRON.patron_id, item, offline=True)
            journal.record(tx, State.PENDING)
            ids.append(tx.tx_id)
        journal.quarantine(ids[1], "quarantined: the server failed on this transaction")
    listing = _kiosk(tmp_path, library.url, "queue").stdout
    assert listing.count(" quarantined ") == 1 and listing.count(" pending ") == 2
    assert "the server failed on this transaction" in listing  # the evidence, for staff
    released = _kiosk(tmp_path, library.url, "queue", "--release").stdout
    assert "1 quarantined transaction(s) back in the queue" in released
    with sqlite3.connect(tmp_path / "journal.db") as db:
        db.execute("PRAGMA user_version = 99")  # written by a newer kiosk: moved aside
    damaged = _kiosk(tmp_path, library.url, "queue").stdout
    assert "3 transaction(s) recovered" in damaged and damaged.count(" pending ") == 3
    cleared = _kiosk(tmp_path, library.url, "queue", "--clear-salvage").stdout
    assert "cleared" in cleared and "recovered" not in cleared.split("cleared")[1]
