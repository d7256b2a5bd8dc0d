#!/usr/bin/env bash
# The dh-virtualenv Debian package, built INSIDE a container of the target distro.
#
# Build (exact commands; `./kit build deb --distro trixie` runs the same pair):
#   ./kit render deb --distro trixie --version 1.0.0
#   bash deb/build.sh --build-dir .kit/build/deb/trixie/1.0.0 --out dist/deb/trixie/1.0.0
#
# Every name, version, the distro and SOURCE_DATE_EPOCH come from <build dir>/kit.env
# (kit.toml, computed once by the kit); debian/ comes rendered from deb/debian/*.j2 in
# <build dir>/rendered/debian/, the unit, sysusers, tmpfiles and default config from
# <build dir>/rendered/runtime/ (the kit's shared templates/).
#
# Steps: (1) wheel/build.sh makes the hash-checked wheelhouse for the distro's Python;
# (2) the builder image (deb/builder.Dockerfile: the distro + debhelper, dh-virtualenv,
# lintian) is built or taken from docker's cache; (3) inside it, build-in-container.sh
# assembles the source tree and runs dpkg-buildpackage (network off); (4) lintian
# --fail-on error,warning checks the .deb in the host's builder.
#
# Another CPU (KIT_ARCH=arm64, rendered with --arch arm64: the Pi image's package): a
# Debian cross build (dpkg-buildpackage --host-arch) in kit/deb-builder:<distro>-cross-arm64
# (deb/cross.Dockerfile: the host's builder + that CPU's binutils and libc), no emulation:
# the other CPU's code is only the wheelhouse's compiled wheels, made for it, and
# debian/rules checks every ELF file of the venv is for it. (It was built under qemu-user
# before: 261 s against ~50 s, see deb/README.md.)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib/build.sh
. "$here/../lib/build.sh"
kit_args "$@"
[ "${#KIT_EXTRA[@]}" -eq 0 ] \
  || die "unknown argument '${KIT_EXTRA[0]}'" "pass only --build-dir DIR --out DIR (every other fact is in DIR/kit.env)"
[ -f "$KIT_RENDERED/debian/control" ] \
  || die "$KIT_RENDERED/debian/control not found" "render the build dir: ./kit render deb --distro $KIT_DISTRO --version $KIT_VERSION"
kit_require_docker
kit_require_image "debian:$KIT_DISTRO-slim"
builder="kit/deb-builder:$KIT_DISTRO"
host_arch="$(dpkg --print-architecture 2>/dev/null || echo amd64)"
[ "$host_arch" = amd64 ] \
  || die "this host is $host_arch; the kit's builders are amd64 images" "build on an amd64 host"
arch_builder="$builder"
[ "$KIT_ARCH" = amd64 ] || arch_builder="$builder-cross-$KIT_ARCH"
kit_work

step "wheelhouse for $KIT_DISTRO (wheel/build.sh)"
cmd=(bash "$KIT_ROOT/wheel/build.sh" --build-dir "$BUILD_DIR" --out "$work/wheel")
show "${cmd[@]}"
"${cmd[@]}" | sed 's/^/    /'

step "pinned build-time pip into the wheelhouse (hash-checked)"
mkdir -p "$work/extra"
cmd=(python3 -m pip download -q --disable-pip-version-check --require-hashes --only-binary=:all:
  --no-deps -r "$here/build-requirements.lock" -d "$work/extra")
show "${cmd[@]}"
"${cmd[@]}" || die "could not download the pinned pip of deb/build-requirements.lock" \
  "check PyPI access (PIP_INDEX_URL / PIP_CERT)"

# builder_image TAG DOCKERFILE WHAT BUILD-ARG... — build (or take from docker's cache) one
# builder image.
builder_image() {
  local tag="$1" dockerfile="$2" what="$3" arg
  shift 3
  step "builder image $tag ($what; docker cache)"
  cmd=(docker build -q -f "$here/$dockerfile")
  for arg in "$@"; do cmd+=(--build-arg "$arg"); done
  cmd+=(-t "$tag" "$here")
  show "${cmd[@]}"
  "${cmd[@]}" >/dev/null || die "building $tag failed" "check that http://deb.debian.org is reachable from containers"
}
builder_image "$builder" builder.Dockerfile "from debian:$KIT_DISTRO-slim" \
  "BASE=debian:$KIT_DISTRO-slim" LINT=lintian
[ "$arch_builder" = "$builder" ] || builder_image "$arch_builder" cross.Dockerfile \
  "$builder + $KIT_ARCH binutils and libc, for a cross build" "BUILDER=$builder" "ARCH=$KIT_ARCH"

step "dpkg-buildpackage inside $arch_builder (network off)"
cmd=(docker run --rm --network none
  -v "$BUILD_DIR:/in/build:ro" -v "$here:/in/deb:ro" -v "$work:/in/work:ro" -v "$OUT:/out"
  "$arch_builder" bash /in/deb/build-in-container.sh "$(id -u):$(id -g)")
show "${cmd[@]}"
"${cmd[@]}" || die "the package build failed (log above)" \
  "fix the rendered debian/ in $KIT_RENDERED/debian via its template deb/debian/*.j2, then rebuild"

deb="${KIT_NAME}_${KIT_VERSION}_$KIT_ARCH.deb"
step "lintian --fail-on error,warning $deb (in $builder)"
# shellcheck disable=SC2016  # the inner sh expands its own $1..$3
cmd=(docker run --rm --network none -v "$OUT:/out" "$builder" sh -c
  'lintian --allow-root --fail-on error,warning --display-info --tag-display-limit 0 "/out/$1" >"/out/$2"; rc=$?; chown "$3" "/out/$2"; exit $rc'
  sh "$deb" "${KIT_NAME}_${KIT_VERSION}.lintian.txt" "$(id -u):$(id -g)")
show "${cmd[@]}"
lint_rc=0
"${cmd[@]}" || lint_rc=$?
sed 's/^/    /' "$OUT/${KIT_NAME}_${KIT_VERSION}.lintian.txt"
echo "    lintian: $(grep -c '^E:' "$OUT/${KIT_NAME}_${KIT_VERSION}.lintian.txt" || true) errors, $(grep -c '^W:' "$OUT/${KIT_NAME}_${KIT_VERSION}.lintian.txt" || true) warnings, $(grep -c '^I:' "$OUT/${KIT_NAME}_${KIT_VERSION}.lintian.txt" || true) info"
[ "$lint_rc" -eq 0 ] || { rm -f "$OUT/$deb"; die "lintian found errors or warnings in $deb (above)" \
  "fix the packaging in deb/debian/*.j2 (or, for a deliberate exception, an override with its reason)"; }

step "done: $(cd "$OUT" && ls -- *.deb)"
