# The Debian build environment for deb/: the target distro itself, so the venv is made
# with that distro's /usr/bin/python3 (the dh-virtualenv practice), plus lintian. It
# carries nothing of the service: one image per distro for every service.
# Build:
#   ./kit build deb --distro trixie, i.e. the raw pair
#   ./kit render deb --distro trixie --version 1.0.0
#   bash deb/build.sh --build-dir .kit/build/deb/trixie/1.0.0 --out dist/deb/trixie/1.0.0
# whose deb/build.sh builds this image (cached by docker's layer cache) with
#   docker build -q -f deb/builder.Dockerfile --build-arg BASE=debian:trixie-slim \
#     --build-arg LINT=lintian -t kit/deb-builder:trixie deb/
# (arm64, for the Pi image, run under qemu-user: --build-arg BASE=kit/debian:trixie-slim-arm64
#  --build-arg LINT= -t kit/deb-builder:trixie-arm64)
ARG BASE=debian:trixie-slim
FROM ${BASE}
# lintian only reads a .deb, so the host's builder checks every architecture's package:
# an emulated builder leaves it out (--build-arg LINT=).
ARG LINT=lintian
# Versions are the distro release's own (a release is the pin), hence no `pkg=version`.
# hadolint ignore=DL3008
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential debhelper dh-virtualenv python3 python3-venv python3-dev ${LINT} \
 && rm -rf /var/lib/apt/lists/*
