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
# Another CPU (KIT_ARCH=arm64, rendered with --arch arm64: the Pi image's package): the
# same steps in a builder of that architecture, run under qemu-user (binfmt) from the
# local base image kit/debian:<distro>-slim-arm64 — a native build, only slower. Lintian
# reads the .deb and runs no code of it, so it checks it from the host's builder.
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
if [ "$KIT_ARCH" != amd64 ]; then
  base="kit/debian:$KIT_DISTRO-slim-$KIT_ARCH"
  docker image inspect "$base" >/dev/null 2>&1 \
    || die "image $base is missing" "./kit build deb --arch $KIT_ARCH makes it (kit images, mmdebstrap --architectures=$KIT_ARCH)"
  [ -e "/proc/sys/fs/binfmt_misc/qemu-$KIT_MACHINE" ] \
    || die "this host cannot run $KIT_ARCH programs (no binfmt entry qemu-$KIT_MACHINE)" "sudo ./kit doctor --fix (qemu-user-static, binfmt-support)"
  arch_builder="$builder-$KIT_ARCH"
else
  base="debian:$KIT_DISTRO-slim"
  arch_builder="$builder"
fi
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

# builder_image TAG BASE ARCH [LINT] — build (or take from docker's cache) one builder image.
builder_image() {
  step "builder image $1 ($3, from $2; docker cache)"
  cmd=(docker build -q -f "$here/builder.Dockerfile" --build-arg "BASE=$2"
    --build-arg "LINT=${4-lintian}" -t "$1" "$here")
  show "${cmd[@]}"
  "${cmd[@]}" >/dev/null || die "building $1 failed" "check that http://deb.debian.org is reachable from containers"
  # No --platform anywhere: docker 20.10 records the host's architecture on an imported
  # image (import --platform is experimental there); what runs is the image's content —
  # checked here, so a wrong base can never pass as the other architecture.
  local machine
  machine="$(docker run --rm --network none "$1" uname -m)"
  [ "$machine" = "$(case "$3" in amd64) echo x86_64 ;; arm64) echo aarch64 ;; *) echo "$3" ;; esac)" ] \
    || die "$1 runs $machine programs, not $3" "rebuild its base: ./kit images --distro $KIT_DISTRO (or ./kit build deb --arch $3)"
}
builder_image "$builder" "debian:$KIT_DISTRO-slim" amd64
[ "$arch_builder" = "$builder" ] || builder_image "$arch_builder" "$base" "$KIT_ARCH" ""

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
