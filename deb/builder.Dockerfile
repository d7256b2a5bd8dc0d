# The Debian build environment for deb/: the target distro itself, so the venv is made
# with that distro's /usr/bin/python3 (the dh-virtualenv practice), plus lintian.
# Build (deb/build.sh does this; cached by docker's layer cache):
#   docker build -f deb/builder.Dockerfile --build-arg DISTRO=trixie -t kit/deb-builder:trixie deb/
ARG DISTRO=trixie
FROM debian:${DISTRO}-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential debhelper dh-virtualenv dh-exec python3 python3-venv python3-dev lintian \
 && rm -rf /var/lib/apt/lists/*
