# Two commands on a fresh machine: `make demo` and `make test`. Each sets up .venv first.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
export MAESTRO_HOME ?= $(CURDIR)/.maestro
# Ray's and Airflow's start-up chatter is not ours to print.
export RAY_USAGE_STATS_ENABLED := 0
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup test e2e demo lint bench lock clean

setup: $(STAMP)

# Debian packages that tests and benches drive (not Python dependencies): chromium and chromium-driver for the
# review page's browser test, fluidsynth for bench/engine.py's peer comparison. Installed when apt-get is here and
# we are root; otherwise those checks skip and say what is missing.
SYSTEM_PACKAGES := chromium chromium-driver fluidsynth
SYSTEM_BINARIES := chromium chromedriver fluidsynth
# The composer's default SoundFont: FluidR3_GM (MIT), Debian's fluid-soundfont-gm. Installed when the file is missing
# (and apt-get is here and we are root); without it the engine falls back to TimGM6mb (GPL-2.0-only) with a warning.
SOUNDFONT_PACKAGE := fluid-soundfont-gm
SOUNDFONT_FILE := /usr/share/sounds/sf2/FluidR3_GM.sf2

$(STAMP): pyproject.toml constraints.txt
	@if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  for b in $(SYSTEM_BINARIES); do command -v $$b >/dev/null || missing=1; done; \
	  if [ -n "$$missing" ]; then \
	    (DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(SYSTEM_PACKAGES) >/dev/null 2>&1 || \
	     (apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(SYSTEM_PACKAGES) >/dev/null)) \
	    || echo "warning: could not apt-get install $(SYSTEM_PACKAGES); the browser test and the FluidSynth bench will skip"; \
	  fi; \
	  if [ ! -f $(SOUNDFONT_FILE) ]; then \
	    (DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(SOUNDFONT_PACKAGE) >/dev/null 2>&1 || \
	     (apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(SOUNDFONT_PACKAGE) >/dev/null)) \
	    || echo "warning: could not apt-get install $(SOUNDFONT_PACKAGE); the composer falls back to TimGM6mb (GPL-2.0-only)"; \
	  fi; \
	fi
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch is pinned to the CPU build that lies on this machine's disk (see README).
	$(PY) -m pip install -q -c constraints.txt -e '.[test]'
	# tinysoundfont lists pyaudio, which does not build here and is not needed for offline rendering.
	$(PY) -m pip install -q --no-deps tinysoundfont==0.3.7
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q

# Real services on loopback (see tests/e2e/conftest.py); each test bounds its waits and stops what it started.
e2e: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider tests/e2e

demo: $(STAMP)
	$(PY) -m maestro_ai.cli demo

lint: $(STAMP)
	$(VENV)/bin/ruff check maestro_core inference jobs maestro_pipeline maestro_ai dags tests bench scripts
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

bench: $(STAMP)
	for b in bench/*.py; do $(PY) $$b || exit 1; done

lock: $(STAMP)
	$(PY) -m pip freeze --exclude-editable | grep -v '^tinysoundfont' > constraints.txt

clean:
	rm -rf $(VENV) .maestro .pytest_cache
