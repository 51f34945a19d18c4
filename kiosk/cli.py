"""The `kiosk` command: run, demo, config check, queue, sync (and doctor).

Every subcommand exits non-zero when something is wrong and prints plain sentences, never a
traceback: a technician reads this on a kiosk in a branch library.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from domain import logs
from kiosk import config
from kiosk.shipped_files import config_file

DEFAULT_CONFIG = "/etc/kiosk/kiosk.toml"
log = logging.getLogger("kiosk")


def _config_path(value: str | None) -> str:
    return value or os.environ.get("KIOSK_CONFIG") or DEFAULT_CONFIG


def _load(value: str | None) -> config.Settings:
    path = _config_path(value)
    try:
        return config.load(path)
    except config.ConfigError as exc:
        print(f"The configuration has {len(exc.problems)} problem(s):")
        for problem in exc.problems:
            print(f"  - {problem}")
        raise SystemExit(1) from None


def cmd_config_check(args: argparse.Namespace) -> int:
    from kiosk import devices

    path = _config_path(args.file)
    try:
        devices.load_checked(path)
    except config.ConfigError as exc:
        problems = exc.problems
    else:
        problems = []
    if not problems:
        print(f"{path}: OK")
        return 0
    print(f"{path}: {len(problems)} problem(s)")
    for problem in problems:
        print(f"  - {problem.key or '(file)'}: {problem.message}")
    return 1


def cmd_queue(args: argparse.Namespace) -> int:
    from kiosk.journal import Journal

    settings = _load(args.config)
    with Journal(settings.journal_path) as journal:
        if args.release:
            released = journal.release_quarantine()
            print(f"{released} quarantined transaction(s) back in the queue, in their order.")
        if args.clear_salvage:
            journal.clear_salvage()
            print("The report of the damaged journal is cleared.")
        rows = journal.rows()
        oldest = journal.oldest_pending()
        salvage = journal.salvage
    if salvage is not None:
        print(f"journal replaced after a {salvage.reason}: {salvage.recovered} transaction(s) "
              f"recovered from {salvage.moved_to}"
              + ("" if salvage.complete else "; SOME COULD NOT BE READ (compare the library's "
                 "records, then `kiosk queue --clear-salvage`)"))
    if not rows:
        print("The queue is empty: every transaction has reached the central side.")
        return 0
    print(f"{'#':>5}  {'kind':8}  {'state':11}  {'item':16}  {'patron*':10}  {'when (UTC)':19}  "
          f"{'tries':>5}  last error")
    for r in rows:
        print(f"{r.seq:>5}  {r.kind:8}  {r.state:11}  {r.item_id[:16]:16}  {r.patron_ref:10}  "
              f"{r.created_at[:19]:19}  {r.attempts:>5}  {r.last_error[:60]}")
    print("* patron shown as a pseudonym; the card number is never displayed")
    if oldest is not None:
        print(f"oldest pending: {oldest.isoformat(timespec='seconds')}")
    return 0


def cmd_sync(args: argparse.Namespace) -> int:
    from kiosk.app import build_backend
    from kiosk.connectivity import Connectivity
    from kiosk.journal import Journal
    from kiosk.sync import DrainReport, SyncWorker

    settings = _load(args.config)
    with Journal(settings.journal_path) as journal:
        total = journal.pending_count()
        if total == 0:
            print("Nothing to send.")
            return 0
        backend = build_backend(settings)
        worker = SyncWorker(journal, backend, batch_size=settings.sync.batch_size,
                            connectivity=Connectivity())
        tty = sys.stdout.isatty()

        def progress(report: DrainReport) -> None:
            if tty:
                done = total - report.remaining
                bar = "#" * int(30 * done / max(total, 1))
                print(f"\r[{bar:30}] {done}/{total}", end="", flush=True)

        try:
            report = worker.drain(progress=progress)
        finally:
            backend.close()
        if tty:
            print()
    print(f"sent {report.sent}: {report.done} done, {report.conflicts} conflict(s), "
          f"{report.rejected} rejected; {report.remaining} still pending")
    if report.error:
        print(f"stopped: the central side did not answer ({report.error})")
        return 2
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from kiosk.profile import ProfileKeeper
    from kiosk.runner import run_kiosk

    local = _load(args.config)
    profiles = ProfileKeeper(Path(local.source), Path(local.kiosk.data_dir))
    return run_kiosk(profiles.startup(local), headless=args.headless, profiles=profiles)


def cmd_demo(args: argparse.Namespace) -> int:
    from domain.extras import explain_missing

    try:
        from kiosk.demo import run_demo
    except ModuleNotFoundError as exc:  # a kiosk's install: no embedded service to run
        return explain_missing(exc, "kiosk demo", "demo")

    return run_demo(Path(args.config), tour=args.tour, output=Path(args.output))


def cmd_doctor(args: argparse.Namespace) -> int:
    from kiosk.appliance.layout import InstallLayout
    from kiosk.doctor import run_doctor

    layout = InstallLayout(root=Path(args.root)) if args.root else None
    return run_doctor(_config_path(args.config), install=args.install or bool(args.root),
                      layout=layout)


def cmd_install(args: argparse.Namespace) -> int:
    from kiosk.appliance.install import Choices, InstallError, install
    from kiosk.appliance.layout import CONFIG, InstallLayout
    from kiosk.doctor import run_doctor

    layout = InstallLayout(root=Path(args.root))
    choices = Choices(kiosk_id=args.kiosk_id, backend_url=args.backend_url,
                      token_from=Path(args.token_from) if args.token_from else None)
    try:
        install(layout, choices)
    except InstallError as exc:
        print(f"kiosk install: {exc}", file=sys.stderr)
        return 1
    print("\nInstalled. What the doctor finds (FAIL rows are the next steps):\n")
    status = run_doctor(CONFIG, install=True, layout=layout)
    if status and not args.strict:
        print("\nThe install itself is done; fix the rows above, then: "
              "sudo systemctl restart kiosk")
        return 0
    return status


def cmd_update(args: argparse.Namespace) -> int:
    from kiosk.appliance.layout import InstallLayout
    from kiosk.appliance.releases import ReleaseError, Releases
    from kiosk.appliance.update import Bounds, Systemd, idle_by_status, update
    from kiosk.status import parse_listen, read_token

    settings = _load(args.config)
    host, port = parse_listen(settings.status.listen)
    idle = idle_by_status(f"http://{host}:{port}/status", read_token(settings.status))
    try:
        outcome = update(Releases(InstallLayout(root=Path(args.root))), Path(args.wheel),
                         Systemd(), idle, report=Path(settings.kiosk.data_dir) / "update.json",
                         bounds=Bounds(ready_within_s=args.ready_within,
                                       settle_s=args.settle))
    except ReleaseError as exc:
        print(f"kiosk update: {exc}", file=sys.stderr)
        return 1
    return 0 if outcome.ok else 1


def cmd_set_pin(args: argparse.Namespace) -> int:
    from kiosk.technician.pin import set_pin_command

    return set_pin_command(_config_path(args.file))


def _appliance_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`kiosk install` and `kiosk update` (kiosk/appliance)."""
    p = sub.add_parser("install", help="put the kiosk's user, units, rules and config in place "
                       "(run by scripts/install-pi.sh; safe to run again)")
    p.add_argument("--root", default="/", help="install under this folder instead of /")
    p.add_argument("--kiosk-id", default="", help="this kiosk's id (default: the host name)")
    p.add_argument("--backend-url", default="", help="the central side's address")
    p.add_argument("--token-from", help="a file holding this kiosk's API token")
    p.add_argument("--strict", action="store_true",
                   help="exit 1 when the doctor still finds a FAIL row after installing")
    p.set_defaults(func=cmd_install)

    p = sub.add_parser("update", help="install a new version beside this one, switch to it "
                       "when no patron is at the kiosk, go back if it does not come up")
    p.add_argument("wheel", help="the new version's wheel (library_kiosk-<version>-....whl)")
    p.add_argument("--config")
    p.add_argument("--root", default="/")
    p.add_argument("--ready-within", type=float, default=120.0,
                   help="seconds the new version has to report ready (default 120)")
    p.add_argument("--settle", type=float, default=60.0,
                   help="seconds it must then keep running without a restart (default 60)")
    p.set_defaults(func=cmd_update)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kiosk", description="Self-service library kiosk")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="run the kiosk (UI, devices, sync)")
    p.add_argument("--config", help=f"config file (default $KIOSK_CONFIG or {DEFAULT_CONFIG})")
    p.add_argument("--headless", action="store_true", help="no screen: devices and sync only")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("demo", help="embedded catalog + simulated devices")
    p.add_argument("--config", default=str(config_file("demo.toml")))
    p.add_argument("--tour", action="store_true",
                   help="play the scripted tour and exit (the default without a display)")
    p.add_argument("--output", default="demo-output", help="where the transcript goes")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("config", help="configuration tools")
    config_sub = p.add_subparsers(dest="config_command", required=True)
    c = config_sub.add_parser("check", help="validate a config file, listing every problem")
    c.add_argument("file", nargs="?")
    c.set_defaults(func=cmd_config_check)
    c = config_sub.add_parser("set-pin", help="set the technician PIN (stored only as a hash)")
    c.add_argument("file", nargs="?")
    c.set_defaults(func=cmd_set_pin)

    p = sub.add_parser("queue", help="transactions waiting for the central side, and conflicts")
    p.add_argument("--config")
    p.add_argument("--release", action="store_true",
                   help="put quarantined transactions back in the queue (the cause is fixed)")
    p.add_argument("--clear-salvage", action="store_true",
                   help="clear the report of a damaged journal (records were compared)")
    p.set_defaults(func=cmd_queue)

    p = sub.add_parser("sync", help="send pending transactions now (one shot)")
    p.add_argument("--config")
    p.set_defaults(func=cmd_sync)

    p = sub.add_parser("doctor", help="check config, backend, devices and disk")
    p.add_argument("--config")
    p.add_argument("--install", action="store_true",
                   help="also check this machine against docs/raspberry-pi.md")
    p.add_argument("--root", help="check the install under this folder (an SD card's root) "
                   "instead of this machine; implies --install")
    p.set_defaults(func=cmd_doctor)

    _appliance_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logs.configure(logs.style_from_environment("KIOSK_LOG_FORMAT"), identifier="kiosk",
                   level="debug" if args.verbose else "info")
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
    except SystemExit:
        raise
    except Exception as exc:  # a technician gets a sentence; the details go to the log
        log.debug("command failed", exc_info=True)
        print(f"kiosk {args.command}: failed: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
