# The README's two commands: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip

.PHONY: demo test lint bench clean system-deps screenshots lock

$(VENV)/.demo-installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[demo]'
	touch $@

$(VENV)/.test-installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[demo,pi,postgres,dev]'
	touch $@ $(VENV)/.demo-installed

system-deps:
	sh scripts/install-system-deps.sh

demo: $(VENV)/.demo-installed
	@sh scripts/install-system-deps.sh demo || echo "(no virtual display: the screen tour falls back to SDL offscreen)"
	$(VENV)/bin/kiosk demo

test: system-deps $(VENV)/.test-installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(PY) -m pytest -q -p no:cacheprovider

# the tests write their screenshots to a temporary folder; this writes them into the docs
screenshots: system-deps $(VENV)/.test-installed
	KIOSK_SCREENSHOTS=$(CURDIR)/docs/screenshots $(PY) -m pytest -q -p no:cacheprovider \
		tests/ui/test_screenshots.py tests/ui/test_keypad.py \
		"tests/ui/test_journeys.py::test_borrow_three_items_and_a_refused_one" \
		tests/staff/test_dashboard_browser.py tests/staff/test_insights_browser.py \
		tests/staff/test_experiments_browser.py tests/ui/test_patron_messages.py \
		tests/staff/test_technician_ui.py

# the versions a kiosk installs (scripts/install-pi.sh): Raspberry Pi OS Bookworm's Python on
# a 64-bit Pi, every file's hash; the same pins install on x86-64 for the tests
LOCK_COMMAND := uv pip compile pyproject.toml --extra pi --python-version 3.11 \
	--python-platform aarch64-unknown-linux-gnu --generate-hashes --quiet \
	-o requirements/kiosk-pi.txt
lock: $(VENV)/.test-installed
	UV_CUSTOM_COMPILE_COMMAND="make lock" $(VENV)/bin/$(LOCK_COMMAND)

lint: $(VENV)/.test-installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

bench: $(VENV)/.test-installed
	for b in bench/*.py; do echo "== $$b"; $(PY) $$b | tail -1; done

clean:
	rm -rf $(VENV) demo-output .pytest_cache
