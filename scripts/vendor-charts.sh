#!/bin/sh
# Refresh the charting libraries the staff pages use (central/static/VENDORED.md) from npm.
set -e
cd "$(dirname "$0")/../central/static"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "chart.js@${CHARTJS:-4.6.1}" "chartjs-chart-matrix@${MATRIX:-2.1.1}" >/dev/null)
for f in "$tmp"/*.tgz; do tar -xzf "$f" -C "$tmp" && mv "$tmp/package" "${f%.tgz}"; done
cp "$tmp"/chart.js-*/dist/chart.umd.min.js .
cp "$tmp"/chartjs-chart-matrix-*/dist/chartjs-chart-matrix.min.js .
echo "updated: $(head -2 chart.umd.min.js | tail -1) and the matrix plugin; update VENDORED.md"
