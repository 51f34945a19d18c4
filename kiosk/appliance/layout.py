"""Where an installed kiosk keeps its files, under a root that is "/" on a kiosk and a
throwaway folder in tests (`--root`): the installer writes this layout, the doctor checks it.

The user's groups and the Debian packages come from the files the kiosk ships
(systemd/kiosk.sysusers, requirements/debian-pi.txt), so the installer, the doctor and the
guide cannot drift apart. Accounts are read from the root's own /etc/passwd and /etc/group
when the root is not "/", since that is where `systemd-sysusers --root` writes them.
"""

from __future__ import annotations

import grp
import pwd
from dataclasses import dataclass, field
from pathlib import Path

from kiosk.shipped_files import requirements_file, systemd_file

UNIT = "/etc/systemd/system/kiosk.service"
UDEV_RULES = "/etc/udev/rules.d/70-kiosk-devices.rules"
POLKIT_RULE = "/etc/polkit-1/rules.d/50-kiosk-pcscd.rules"
SYSUSERS = "/usr/lib/sysusers.d/kiosk.conf"
CONFIG_DIR = "/etc/kiosk"
CONFIG = "/etc/kiosk/kiosk.toml"
TOKEN = "/etc/kiosk/api-token"
DATA_DIR = "/var/lib/kiosk"
APP_DIR = "/opt/kiosk"
# shipped file -> where it is installed
SHIPPED_SYSTEM_FILES = {"kiosk.service": UNIT, "70-kiosk-devices.rules": UDEV_RULES,
                        "50-kiosk-pcscd.rules": POLKIT_RULE, "kiosk.sysusers": SYSUSERS}


def _sysusers_groups(user: str) -> tuple[str, ...]:
    lines = systemd_file("kiosk.sysusers").read_text(encoding="utf-8").splitlines()
    return tuple(parts[2] for parts in (line.split() for line in lines)
                 if len(parts) >= 3 and parts[0] == "m" and parts[1] == user)


def _debian_packages() -> tuple[str, ...]:
    lines = requirements_file("debian-pi.txt").read_text(encoding="utf-8").splitlines()
    return tuple(name for name in (line.split("#")[0].strip() for line in lines) if name)


@dataclass(frozen=True)
class Account:
    name: str
    uid: int
    gid: int
    home: str
    shell: str


@dataclass(frozen=True)
class InstallLayout:
    """Where the guide and the installer put things; tests point it at a temporary root."""

    root: Path = Path("/")
    user: str = "kiosk"
    groups: tuple[str, ...] = field(default_factory=lambda: _sysusers_groups("kiosk"))
    packages: tuple[str, ...] = field(default_factory=_debian_packages)

    def path(self, absolute: str) -> Path:
        return self.root / absolute.lstrip("/")

    @property
    def is_live(self) -> bool:
        """The machine itself, not a folder standing in for one."""
        return self.root.resolve() == Path("/")

    def account(self, name: str | None = None) -> Account | None:
        name = name or self.user
        if self.is_live:
            try:
                p = pwd.getpwnam(name)
            except KeyError:
                return None
            return Account(p.pw_name, p.pw_uid, p.pw_gid, p.pw_dir, p.pw_shell)
        for fields in self._table("/etc/passwd"):
            if len(fields) >= 7 and fields[0] == name:
                return Account(name, int(fields[2]), int(fields[3]), fields[5], fields[6])
        return None

    def group_id(self, name: str) -> int | None:
        if self.is_live:
            try:
                return grp.getgrnam(name).gr_gid
            except KeyError:
                return None
        return next((int(f[2]) for f in self._table("/etc/group")
                     if len(f) >= 3 and f[0] == name), None)

    def groups_of(self, account: Account) -> set[str]:
        """The groups `account` is in: its primary group and every group listing it."""
        if self.is_live:
            member_of = {g.gr_name for g in grp.getgrall() if account.name in g.gr_mem}
            member_of |= {g.gr_name for g in grp.getgrall() if g.gr_gid == account.gid}
            return member_of
        return {f[0] for f in self._table("/etc/group") if len(f) >= 4
                and (account.name in f[3].split(",") or f[2] == str(account.gid))}

    def _table(self, absolute: str) -> list[list[str]]:
        try:
            text = self.path(absolute).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return []
        return [line.split(":") for line in text.splitlines() if line and line[0] != "#"]
