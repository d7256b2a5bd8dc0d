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
# assembles the source tree, runs dpkg-buildpackage (network off) and
# lintian --fail-on error,warning.
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

builder="kit/deb-builder:$KIT_DISTRO"
step "builder image $builder (docker cache)"
cmd=(docker build -q -f "$here/builder.Dockerfile" --build-arg "DISTRO=$KIT_DISTRO" -t "$builder" "$here")
show "${cmd[@]}"
"${cmd[@]}" >/dev/null || die "building $builder failed" \
  "check that http://deb.debian.org is reachable from containers"

step "dpkg-buildpackage + lintian inside $builder (network off)"
cmd=(docker run --rm --network none
  -v "$BUILD_DIR:/in/build:ro" -v "$here:/in/deb:ro" -v "$work:/in/work:ro" -v "$OUT:/out"
  "$builder" bash /in/deb/build-in-container.sh "$(id -u):$(id -g)")
show "${cmd[@]}"
"${cmd[@]}" || die "the package build failed (log above)" \
  "fix the rendered debian/ in $KIT_RENDERED/debian via its template deb/debian/*.j2, then rebuild"

step "done: $(cd "$OUT" && ls -- *.deb)"
