# The here-build's builder for omnibus/: the OLDEST release in kit.toml (bookworm: its
# glibc 2.36 is the floor the package runs on), a C toolchain and the tools the step
# scripts call — and none of the libraries the project embeds (no zlib1g-dev, libssl-dev,
# libffi-dev, libsqlite3-dev, liblzma-dev, libbz2-dev): a step that reached for the
# system's copy would fail to build rather than pass the health check by accident.
# Build (omnibus/build.sh does it, docker's cache keeps it):
#   docker build -q -f omnibus/builder.Dockerfile --build-arg BASE=debian:bookworm-slim \
#     -t kit/omnibus-builder:bookworm omnibus/
ARG BASE=debian:bookworm-slim
FROM ${BASE}
# Versions are the release's own (a release is the pin), hence no `pkg=version`.
#   autoconf automake libtool libltdl-dev (LT_SYS_SYMBOL_USCORE): libffi from Debian's orig (the git tree) runs autogen.sh
#   tcl: SQLite's canonical tree (Debian's orig) generates its amalgamation with tclsh
#   perl: OpenSSL's Configure; file: the health check finds ELF files
#   dpkg-dev, rpm, rpm2cpio, cpio: the .deb and the .rpm of one payload, compared
# hadolint ignore=DL3008
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential autoconf automake libtool libltdl-dev pkg-config tcl perl file xz-utils \
      dpkg-dev rpm rpm2cpio cpio \
 && rm -rf /var/lib/apt/lists/*
