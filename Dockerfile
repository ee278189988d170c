# echohub's container image: Python 3.11 and echohub only, no shell, user
# nonroot (65532).
#
# With a registry, from a checkout:
#   docker build -t echohub .        (or podman build -t echohub .)
# builds on Debian 12's Python in gcr.io/distroless/python3-debian12, with
# echohub's dependencies from PyPI.
#
# Without one, `make image` builds both bases from Debian's packages
# (container/build-bases), makes the wheels on the host and passes
#   --network=none --build-arg BUILD_BASE=... --build-arg RUNTIME_BASE=...
#   --build-arg PIP_OPTIONS='--no-index --find-links=/src/build/image/wheels'
#   --build-arg REQUIREMENT=echohub-server
ARG BUILD_BASE=docker.io/library/debian:bookworm-slim
ARG RUNTIME_BASE=gcr.io/distroless/python3-debian12:nonroot

FROM ${BUILD_BASE} AS build
ARG PIP_OPTIONS=""
ARG REQUIREMENT=/src
# Debian's slim image has no Python; the offline build base has it already.
RUN command -v pip3 >/dev/null \
    || { apt-get update && apt-get install -y --no-install-recommends python3-pip; }
COPY . /src
# --target: a plain directory the runtime's python3 reads through
# PYTHONPATH, whatever the path of the build's interpreter.  The plugin
# cache is written now: the image's file system is read-only at run time.
RUN pip3 install --quiet --no-cache-dir --break-system-packages --target /app \
        ${PIP_OPTIONS} ${REQUIREMENT} \
    && PYTHONPATH=/app python3 -c \
        "from twisted.plugin import IPlugin, getPlugins; list(getPlugins(IPlugin))"

FROM ${RUNTIME_BASE}
COPY --from=build /app /app
COPY container/defaults.toml /etc/echohub/defaults.toml
# ECHOHUB_DEFAULTS: the image's defaults (every address, line 7007, web
# 8080) sit beneath ECHOHUB_CONFIG, the ECHOHUB_* variables and options,
# so that each of those changes only what it names.
ENV PYTHONPATH=/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ECHOHUB_DEFAULTS=/etc/echohub/defaults.toml
USER 65532:65532
EXPOSE 7007 8080
# The first tcp: or ssl: web listener of the configuration (from the
# environment and the TOML files: not from the container's arguments).
HEALTHCHECK --interval=10s --timeout=5s --start-period=5s --retries=3 \
    CMD ["/usr/bin/python3", "-m", "echohub", "--healthcheck"]
# --host only places the --*-port shortcuts: `podman run IMAGE --web-port
# 9000` listens on every address too.
ENTRYPOINT ["/usr/bin/python3", "-m", "echohub", "--host", "0.0.0.0"]
