# The tap-gitlab connector image: the Singer tap (`tap-gitlab`) and the Estuary Flow capture adapter
# (`flow-source-gitlab`, the entry point) in one Python virtualenv. See docs/flow.md.
#
#   docker build -t tap-gitlab .                                  # anywhere with a registry
#   scripts/podman-build                                          # on this project's offline machines
#   docker run --rm --entrypoint tap-gitlab tap-gitlab --about    # the plain Singer tap
#
# The base image is a build argument: elsewhere it is the public slim Python image; here, where no registry
# can be reached, scripts/podman-setup makes a Debian + python3-venv base locally. Both stages use the same
# base, so the virtualenv's interpreter path is valid in the final image.
ARG BASE_IMAGE=python:3.12-slim

FROM ${BASE_IMAGE} AS build
# Lets scripts/podman-build prune superseded build stages (`podman image prune --filter label=…`).
LABEL org.opencontainers.image.title="tap-gitlab-build"
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore
# Use the system CA store, not pip's bundled one: builds behind a TLS-inspecting proxy need the host's CA,
# which a locally made base image carries in /etc/ssl/certs.
RUN python3 -m venv /opt/venv \
 && if [ -f /etc/ssl/certs/ca-certificates.crt ]; then \
      /opt/venv/bin/pip config --site set global.cert /etc/ssl/certs/ca-certificates.crt; fi
WORKDIR /src
COPY pyproject.toml README.md ./
COPY tap_gitlab ./tap_gitlab
# Install (no dev extras), then drop what only installing needs (pip, setuptools, the pip config) and
# compile bytecode once, so that the non-root user never needs to write into the venv. The last two
# commands are smoke tests of both entry points.
RUN /opt/venv/bin/pip install --no-compile . \
 && /opt/venv/bin/pip uninstall --yes --quiet pip setuptools \
 && rm -f /opt/venv/pip.conf \
 && /opt/venv/bin/python -m compileall -q -j 0 /opt/venv/lib >/dev/null \
 && /opt/venv/bin/tap-gitlab --about >/dev/null \
 && echo '{"spec":{"connectorType":"IMAGE","config":{}}}' | /opt/venv/bin/flow-source-gitlab >/dev/null

FROM ${BASE_IMAGE}
COPY --from=build /opt/venv /opt/venv
RUN groupadd --gid 10001 connector \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin connector \
 && rm -rf /root/.cache
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
USER 10001:10001
WORKDIR /tmp
LABEL FLOW_RUNTIME_PROTOCOL=capture
LABEL FLOW_RUNTIME_CODEC=json
LABEL org.opencontainers.image.title="tap-gitlab" \
      org.opencontainers.image.description="GitLab capture for Estuary Flow (the Singer tap tap-gitlab behind a Flow capture adapter)"
ENTRYPOINT ["/opt/venv/bin/flow-source-gitlab"]
