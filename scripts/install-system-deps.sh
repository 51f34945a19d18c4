#!/bin/sh
# Debian packages the test suite needs (virtual display, PC/SC daemon with a
# virtual reader, pyscard's build deps, systemd-analyze, openssl for the TLS
# tests, a headless browser, espeak-ng for speech, a PostgreSQL server for the
# central tests, promtool for the alert rules, libsystemd-dev to build systemd-python, debootstrap
# for the installer's test in a Debian chroot), or with "demo" only what
# `make demo` wants (a virtual display for the screen tour when there is no screen).
# Runs only as root; elsewhere it lists what is missing and carries on.
set -e
if [ "$1" = "demo" ]; then
    PKGS="xvfb libmtdev1 espeak-ng"
else
    PKGS="xvfb libmtdev1 pcscd vsmartcard-vpcd libpcsclite-dev swig systemd openssl chromium sqlite3 espeak-ng postgresql prometheus libsystemd-dev pkg-config debootstrap"
fi
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != "0" ]; then
    echo "install-system-deps: not root; missing Debian packages:$missing (tests that need them will fail)" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing
