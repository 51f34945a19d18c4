"""scripts/install-pi.sh for real, not under --root: in a chroot of a fresh Debian Bookworm
(debootstrap, minbase), where apt really installs the Debian packages, systemd-sysusers
really creates the user, pip really builds pyscard, evdev and systemd-python from the lock
file, and systemctl really enables the units. What a chroot cannot show: a booted systemd
starting the kiosk, udev, a Pi's boot partition and its hardware (see docs/raspberry-pi.md).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from install_support import ROOT

MIRROR = "http://deb.debian.org/debian"
BINDS = ("proc", "sys", "dev", "dev/pts")
# what the host knows about its network that a fresh image does not: a name server, a proxy
# and, where the network inspects TLS, the CA bundle pip must trust (kept apart from the
# image's own bundle, which apt's ca-certificates rewrites)
HOST_CA = "etc/host-ca-bundle.pem"
CA_ENV = ("PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")
PASSED_ENV = ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "no_proxy", "NO_PROXY",
              "PIP_INDEX_URL")


def _run(argv: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def chroot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    assert os.geteuid() == 0, "debootstrap and chroot need root"
    assert shutil.which("debootstrap"), "debootstrap is missing (make system-deps installs it)"
    root = tmp_path_factory.mktemp("bookworm") / "root"
    made = _run(["debootstrap", "--variant=minbase", "bookworm", str(root), MIRROR], 900)
    assert made.returncode == 0, made.stdout[-3000:] + made.stderr[-3000:]
    shutil.copy("/etc/resolv.conf", root / "etc/resolv.conf")
    bundle = next((os.environ[k] for k in CA_ENV if os.path.isfile(os.environ.get(k, ""))), "")
    if bundle:
        shutil.copy(bundle, root / HOST_CA)
    # as image builders do: packages installed into an image start no daemon
    (root / "usr/sbin/policy-rc.d").write_text("#!/bin/sh\nexit 101\n")
    (root / "usr/sbin/policy-rc.d").chmod(0o755)
    source = root / "root/library-kiosk"
    files = _run(["git", "-C", str(ROOT), "ls-files", "--cached", "--others",
                  "--exclude-standard"], 60).stdout.split("\n")
    for name in filter(None, files):
        if (ROOT / name).exists() or (ROOT / name).is_symlink():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name, follow_symlinks=False)
    mounted = []
    try:
        for name in BINDS:
            assert _run(["mount", "--bind", f"/{name}", str(root / name)], 30).returncode == 0
            mounted.append(root / name)
        yield root
    finally:
        for where in reversed(mounted):
            if _run(["umount", str(where)], 30).returncode != 0:
                _run(["umount", "-l", str(where)], 30)
    shutil.rmtree(root.parent, ignore_errors=True)


def in_chroot(root: Path, *argv: str, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root", "LANG": "C.UTF-8",
           "COLUMNS": "120", **{k: os.environ[k] for k in PASSED_ENV if k in os.environ}}
    if (root / HOST_CA).exists():
        env.update({k: f"/{HOST_CA}" for k in CA_ENV})
    return subprocess.run(["chroot", str(root), *argv], env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.mark.slow  # debootstrap, apt and pip from the network: about 2 min
def test_the_installer_turns_a_bare_debian_into_a_kiosk_and_can_run_again(chroot: Path) -> None:
    done = in_chroot(chroot, "sh", "/root/library-kiosk/scripts/install-pi.sh",
                     "--kiosk-id", "chroot-1", "--backend-url", "http://127.0.0.1:9/")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "Traceback" not in done.stdout + done.stderr
    table = done.stdout[done.stdout.index("What the doctor finds"):]
    for row in ("python packages", "pi modules", "user", "groups", "kiosk.service",
                "udev rules", "polkit rule (pcscd)", "config file", "data dir",
                "Debian packages"):
        line = next(line for line in table.splitlines() if line.startswith(row + " "))
        assert line.split()[len(row.split())] == "ok", line
    # the empty token file is the one thing left to the technician
    assert "backend.token_file: secret file" in table and "is empty" in table

    assert in_chroot(chroot, "dpkg-query", "-W", "pcscd", "libccid", "espeak-ng"
                     ).returncode == 0
    kiosk = in_chroot(chroot, "/opt/kiosk/venv/bin/kiosk", "--help")
    assert kiosk.returncode == 0 and "install" in kiosk.stdout
    assert (chroot / "etc/systemd/system/multi-user.target.wants/kiosk.service").is_symlink()
    assert (chroot / "etc/systemd/system/sockets.target.wants/pcscd.socket").is_symlink()
    assert in_chroot(chroot, "id", "-nG", "kiosk").stdout.split() >= ["kiosk"]

    again = in_chroot(chroot, "sh", "/root/library-kiosk/scripts/install-pi.sh")
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "release 0.1.0 already installed" in again.stdout
    assert "/etc/kiosk/kiosk.toml: kept as it is" in again.stdout
