# The cross builder for deb/: the host's own builder (kit/deb-builder:<distro>, from
# deb/builder.Dockerfile) plus what a cross build for another CPU needs — and no emulation:
# debhelper, dh-virtualenv and pip run natively; the other CPU's code comes only as the
# compiled wheels of the hash-checked wheelhouse (wheel/build.sh downloads them for it).
#   - binutils for that CPU: dh_strip strips the wheels' extension modules with them;
#   - that CPU's libc6 and libgcc-s1 (multiarch, beside the host's): their shlibs files
#     are what dpkg-shlibdeps turns the extension modules' NEEDED entries into Depends.
# Build:
#   ./kit build deb --arch arm64, i.e. the raw pair
#   ./kit render deb --distro trixie --version 1.0.0 --arch arm64
#   bash deb/build.sh --build-dir .kit/build/deb/trixie/1.0.0-arm64 --out dist/deb/trixie/1.0.0-arm64
# whose deb/build.sh builds this image (cached by docker's layer cache) with
#   docker build -q -f deb/cross.Dockerfile --build-arg BUILDER=kit/deb-builder:trixie \
#     --build-arg ARCH=arm64 -t kit/deb-builder:trixie-cross-arm64 deb/
ARG BUILDER=kit/deb-builder:trixie
FROM ${BUILDER}
ARG ARCH=arm64
# Versions are the distro release's own (a release is the pin), hence no `pkg=version`.
# hadolint ignore=DL3008
RUN triplet="$(dpkg-architecture -a"${ARCH}" -qDEB_HOST_GNU_TYPE 2>/dev/null)" \
 && dpkg --add-architecture "${ARCH}" \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      "binutils-${triplet}" "libc6:${ARCH}" "libgcc-s1:${ARCH}" \
 && rm -rf /var/lib/apt/lists/*
