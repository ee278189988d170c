# echohub: two commands to know.
#   make run   set up .venv, install echohub, create dev certificates, run it
#   make test  set up .venv with the test extras and run the whole suite
# More: make check (ruff + mypy), make devcert, make clean.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
CERTS  ?= devcerts

SOURCES := setup.cfg pyproject.toml echohub.tac $(shell find echohub twisted -type f \( -name '*.py' -o -name '*.html' -o -name '*.typed' \) 2>/dev/null)

# Defaults for `make run`: both services on loopback, plain and TLS.  They are
# passed as ECHOHUB_* variables, so a variable already in your environment, or
# a TOML file named by ECHOHUB_CONFIG, takes their place.
DEV_TLS := privateKey=$(CERTS)/server-key.pem:certKey=$(CERTS)/server.pem
ifndef ECHOHUB_CONFIG
export ECHOHUB_LINE_LISTEN ?= tcp:7007:interface=127.0.0.1 ssl:7443:interface=127.0.0.1:$(DEV_TLS)
export ECHOHUB_WEB_LISTEN ?= tcp:8080:interface=127.0.0.1 ssl:8443:interface=127.0.0.1:$(DEV_TLS)
endif

.PHONY: run test check devcert clean

run: $(VENV)/.installed $(CERTS)/server.pem
	$(BIN)/twistd --pidfile= -ny echohub.tac

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

check: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

devcert $(CERTS)/server.pem: $(VENV)/.installed
	$(BIN)/echohub-devcert $(CERTS)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# A real (non-editable) install, so that twistd/twist find the plugin; the
# plugin cache is rebuilt so a later read-only run does not try to write it.
define install
	$(BIN)/python -m pip install --quiet ".$(1)"
	$(BIN)/python -c "from twisted.plugin import IPlugin, getPlugins; list(getPlugins(IPlugin))"
	touch $@
endef

$(VENV)/.installed: $(BIN)/python $(SOURCES)
	$(call install,)

$(VENV)/.installed-test: $(BIN)/python $(SOURCES)
	$(call install,[test])

$(VENV)/.installed-dev: $(BIN)/python $(SOURCES)
	$(call install,[dev])

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .hypothesis
