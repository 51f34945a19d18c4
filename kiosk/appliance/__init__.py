"""The kiosk as an appliance: where an installed kiosk keeps its files, and `kiosk install`,
which puts them there (scripts/install-pi.sh calls it from the kiosk's new venv)."""
