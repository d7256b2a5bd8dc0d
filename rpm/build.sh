#!/usr/bin/env bash
# RPM layer: the service + its venv as an RPM for the company's own rpmdb and prefix
# (<acme_root>/<name>, db <acme_root>/var/lib/rpm). Three steps:
#   1. the hash-checked wheelhouse, resolved on this host (wheel/build.sh; needs PyPI);
#   2. the builder image: debian:<distro>-slim + rpm + rpmlint + python3-venv (docker
#      caches it; needs the Debian mirror over plain HTTP);
#   3. rpmbuild + rpmlint inside it with --network none (the build is offline).
#
# Build (exact commands; `./kit build rpm` runs the same pair):
#   ./kit render rpm --distro trixie --version 1.0.0
#   bash rpm/build.sh --build-dir .kit/build/rpm/trixie/1.0.0 --out dist/rpm/trixie/1.0.0
#
# Every fact (name, version, distro, its Python, SOURCE_DATE_EPOCH, …) comes from the
# build dir's kit.env; the spec is the build dir's rendered/<name>.spec (from
# rpm/PACKAGE.spec.j2). The spec's knobs go through as rpmbuild defines, e.g.
#   bash rpm/build.sh --build-dir … --out … --define 'svc_release 2'
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib/build.sh
. "$here/../lib/build.sh"
KIT_USAGE_EXTRA="[--define 'MACRO VALUE']..."
kit_args "$@"

# The builder image's repository (tag: the distro).
builder_repo=kit/rpm-builder

defines=()
set -- "${KIT_EXTRA[@]}"
while [ $# -gt 0 ]; do
  [ "$1" = --define ] && [ $# -ge 2 ] \
    || die "unknown argument '$1'" "pass --build-dir DIR --out DIR, and spec knobs as --define 'MACRO VALUE' (rpm/README.md lists them)"
  defines+=(--define "$2")
  shift 2
done

spec="$KIT_RENDERED/$KIT_NAME.spec"
[ -f "$spec" ] || die "$spec not found" "render the build dir: ./kit render rpm --distro $KIT_DISTRO --version $KIT_VERSION (rpm/layer.toml lists PACKAGE.spec.j2)"
[ -f "$KIT_RENDERED/runtime/unit.service" ] || die "$KIT_RENDERED/runtime/unit.service not found" "render the build dir again: ./kit render rpm --distro $KIT_DISTRO --version $KIT_VERSION"
[ -f "$KIT_ROOT/wheel/build.sh" ] || die "$KIT_ROOT/wheel/build.sh not found" "copy wheel/ too (it makes the wheelhouse): kit adopt PATH --layers rpm"
kit_require_docker
base="debian:$KIT_DISTRO-slim"
kit_require_image "$base"

kit_work
mkdir -p "$work/SOURCES" "$work/SPECS" "$work/RPMS"

step "wheelhouse for cp${KIT_PYTHON_VERSION/./} (hash-checked, resolved on this host): wheel/build.sh"
show bash "$KIT_ROOT/wheel/build.sh" --build-dir "$BUILD_DIR" --out "$work/SOURCES"
bash "$KIT_ROOT/wheel/build.sh" --build-dir "$BUILD_DIR" --out "$work/SOURCES" | sed 's/^/    /' \
  || die "the wheelhouse failed (above)" "check that PyPI is reachable (PIP_INDEX_URL / PIP_CERT) and the lock is current"
rm -f "$work/SOURCES/"*.sha256
cp "$spec" "$work/SPECS/"
cp "$KIT_RENDERED/runtime/"* "$KIT_RENDERED/check-imports.py" "$KIT_RENDERED/rpmlintrc" \
  "$KIT_RENDERED/rpmlint.toml" "$work/SOURCES/"

builder="$builder_repo:$KIT_DISTRO"
step "builder image $builder (FROM $base; cached by docker layers)"
show docker build -q -t "$builder" --build-arg "DISTRO=$KIT_DISTRO" -f "$here/builder.Dockerfile" "$here"
docker build -q -t "$builder" --build-arg "DISTRO=$KIT_DISTRO" -f "$here/builder.Dockerfile" "$here" >/dev/null \
  || die "the builder image failed" "check that containers reach the Debian mirror over plain HTTP (./kit doctor)"

rpmbuild=(rpmbuild -bb --define '_topdir /build/rpmbuild' --define '_buildhost rpm-builder'
  "${defines[@]}" "/build/rpmbuild/SPECS/$KIT_NAME.spec")
step "rpmbuild in $builder, offline (--network none), SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH"
show "${rpmbuild[@]}"
docker run --rm --network none --hostname rpm-builder -e SOURCE_DATE_EPOCH \
  -v "$work:/build/rpmbuild" "$builder" sh -c '"$@" >/build/rpmbuild/rpmbuild.log 2>&1 || { tail -40 /build/rpmbuild/rpmbuild.log; exit 1; }' \
  rpmbuild "${rpmbuild[@]}" \
  || die "rpmbuild failed (last lines above)" "read the error; the spec is $spec (edit rpm/PACKAGE.spec.j2, then ./kit build rpm)"
grep -E '^(Wrote|warning|Executing|check-imports)' "$work/rpmbuild.log" | sed 's/^/    /' || true

rpms=("$work/RPMS/"*/*.rpm)
[ -f "${rpms[0]}" ] || die "rpmbuild left no .rpm" "check the %files section of $spec"
rel="${rpms[0]#"$work/RPMS/"}"
file="$(basename "$rel")"

step "rpmlint (0 errors required; warnings are explained in rpm/README.md)"
show rpmlint -c "$KIT_RENDERED/rpmlint.toml" -r "$KIT_RENDERED/rpmlintrc" "$file" "$spec"
docker run --rm --network none -v "$work:/build/rpmbuild" "$builder" \
  rpmlint -c /build/rpmbuild/SOURCES/rpmlint.toml -r /build/rpmbuild/SOURCES/rpmlintrc \
  "/build/rpmbuild/RPMS/$rel" "/build/rpmbuild/SPECS/$KIT_NAME.spec" \
  | sed 's/^/    /' \
  || die "rpmlint found errors" "the lines marked E: above (or, if one is intended, filter it with the reason: rpm/rpmlintrc.j2, or rpm/rpmlint.toml if not every build triggers it)"

step "copy $file to $OUT"
cp "${rpms[0]}" "$OUT/"
(cd "$OUT" && sha256sum "$file" >"$file.sha256")
size=$(stat -c %s "$OUT/$file")
installed=$(docker run --rm --network none -v "$OUT:/out:ro" "$builder" \
  rpm --dbpath /tmp/db -qp --qf '%{SIZE}' "/out/$file")
step "done: $file $((size / 1024)) KiB, installs $((installed / 1024)) KiB, sha256 $(cut -c1-16 "$OUT/$file.sha256")…"
