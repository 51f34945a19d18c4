#!/bin/sh
# From Raspberry Pi OS Lite (Bookworm, 64-bit, Pi 4 or 5) to a working kiosk in one command,
# run from a checkout or an unpacked release:
#
#     sudo sh scripts/install-pi.sh [--kiosk-id ID] [--backend-url URL] [--token-from FILE]
#                                   [--wheel FILE] [--root DIR]
#
# 1. the Debian packages of requirements/debian-pi.txt;
# 2. a venv of the kiosk's own, /opt/kiosk/releases/<version>, filled from the lock file
#    (requirements/kiosk-pi.txt, every file's hash checked), then the kiosk's wheel, and
#    /opt/kiosk/venv pointed at it (the path the unit runs);
# 3. `kiosk install` from that venv: the kiosk user (systemd-sysusers), kiosk.service, the udev
#    and polkit rules, /etc/kiosk with a config skeleton and a token file of mode 0600, the
#    units enabled, the KMS display and no console blanking; then `kiosk doctor --install`.
#
# Safe to run again: what is in place is left alone, a half-done install is completed.
# --root DIR writes everything under DIR instead of / (an SD card's root, or a test's folder);
# apt then installs nothing (it can only install on this machine) and nothing is started.
set -eu

ROOT=/
WHEEL=
KIOSK_ID=
BACKEND_URL=
TOKEN_FROM=
while [ $# -gt 0 ]; do
    case "$1" in
        --root) ROOT=$2; shift 2 ;;
        --wheel) WHEEL=$2; shift 2 ;;
        --kiosk-id) KIOSK_ID=$2; shift 2 ;;
        --backend-url) BACKEND_URL=$2; shift 2 ;;
        --token-from) TOKEN_FROM=$(realpath "$2"); shift 2 ;;
        -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "install-pi: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

say() { printf '== %s\n' "$*"; }
die() { printf 'install-pi: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root: sudo sh $0"
SRC=$(cd "$(dirname "$0")/.." && pwd)
ROOT=$(cd "$ROOT" 2>/dev/null && pwd) || die "--root: no such folder"
APP="${ROOT%/}/opt/kiosk"

# 1. Debian packages
PKGS=$(sed 's/#.*//' "$SRC/requirements/debian-pi.txt" | tr -s ' \n' '  ')
if [ "$ROOT" = / ]; then
    . /etc/os-release
    [ "${VERSION_CODENAME:-}" = bookworm ] || \
        say "warning: this is ${PRETTY_NAME:-an unknown system}, not Raspberry Pi OS Bookworm"
    say "Debian packages:$PKGS"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086  # one word per package
    apt-get install -y -qq --no-install-recommends $PKGS
else
    say "under --root: no Debian packages installed (apt installs on this machine only):$PKGS"
fi

# 2. the release's venv, from the lock file, then the wheel
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
if [ -z "$WHEEL" ]; then
    say "building the kiosk's wheel from $SRC"
    python3 -m venv "$WORK/build"
    "$WORK/build/bin/pip" wheel -q --disable-pip-version-check --no-deps -w "$WORK" "$SRC"
    WHEEL=$(ls "$WORK"/library_kiosk-*.whl)
fi
# the same code `kiosk update` installs a release with, run here by the system's python3
PYTHONPATH="$SRC" python3 -m kiosk.appliance.releases install --root "$ROOT" "$WHEEL"

# 3. the rest, by the kiosk itself
"$APP/venv/bin/kiosk" install --root "$ROOT" ${KIOSK_ID:+--kiosk-id "$KIOSK_ID"} \
    ${BACKEND_URL:+--backend-url "$BACKEND_URL"} ${TOKEN_FROM:+--token-from "$TOKEN_FROM"}
