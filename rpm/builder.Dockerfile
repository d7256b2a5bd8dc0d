# The RPM builder: the target distro's own userland (its python3, its rpm), so the venv
# inside the package is made from the interpreter the target runs — never the build
# host's. rpm/build.sh builds this image (docker caches it) and runs rpmbuild in it with
# --network none.
#   docker build -t kit/rpm-builder:trixie --build-arg DISTRO=trixie -f rpm/builder.Dockerfile rpm
ARG DISTRO=trixie
FROM debian:${DISTRO}-slim

# rpm: rpmbuild + rpm; rpmlint: the linter; python3-venv: the venv + a pip to drive it
# (pip is not shipped in the package). Plain-HTTP apt works behind TLS interception.
# Versions are the distro release's own (a release is the pin), hence no `pkg=version`.
# hadolint ignore=DL3008
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      rpm rpmlint python3 python3-venv \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /build
