# The Debian build environment for deb/: the target distro itself, so the venv is made
# with that distro's /usr/bin/python3 (the dh-virtualenv practice), plus lintian. It
# carries nothing of the service: one image per distro for every service.
# Build:
#   ./kit build deb --distro trixie, i.e. the raw pair
#   ./kit render deb --distro trixie --version 1.0.0
#   bash deb/build.sh --build-dir .kit/build/deb/trixie/1.0.0 --out dist/deb/trixie/1.0.0
# whose deb/build.sh builds this image (cached by docker's layer cache) with
#   docker build -q -f deb/builder.Dockerfile --build-arg DISTRO=trixie -t kit/deb-builder:trixie deb/
ARG DISTRO=trixie
FROM debian:${DISTRO}-slim
# Versions are the distro release's own (a release is the pin), hence no `pkg=version`.
# hadolint ignore=DL3008
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential debhelper dh-virtualenv python3 python3-venv python3-dev lintian \
 && rm -rf /var/lib/apt/lists/*
