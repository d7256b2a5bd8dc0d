#!/usr/bin/env bash
# RPM layer: the service + its venv as an RPM for the company's own rpmdb and prefix
# (/opt/acme/<name>, db /opt/acme/var/lib/rpm). Three steps:
#   1. the hash-checked wheelhouse, resolved on this host (wheel/build.sh; needs PyPI);
#   2. the builder image: debian:<distro>-slim + rpm + rpmlint + python3-venv (docker
#      caches it; needs the Debian mirror over plain HTTP);
#   3. rpmbuild + rpmlint inside it with --network none (the build is offline).
#
# Build (exact command; `./kit build rpm` runs the same):
#   bash rpm/build.sh --distro trixie --version 1.0.0 --out dist/rpm/trixie/1.0.0 --name sample-service --python-package sample_service --user sample-service --uid 990 --gid 990 --port 8080
set -euo pipefail

distro=trixie
version=""
out=""
name=sample-service            # CHANGE ME: your package name (rpm/<name>.spec must exist)
python_package=sample_service  # CHANGE ME: your import name
user=""                        # default: the package name
uid=990
gid=990
port=8080
acme_root=/opt/acme            # CHANGE ME: your company root (prefix + rpmdb live under it)
builder_repo=kit/rpm-builder

usage() {
  echo "usage: $0 --distro trixie|bookworm --version X.Y.Z --out DIR [--name NAME]" \
    "[--python-package PKG] [--user USER] [--uid N] [--gid N] [--port N] [--acme-root DIR]" >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case "$1" in
    --distro) distro="$2"; shift 2 ;;
    --version) version="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --name) name="$2"; shift 2 ;;
    --python-package) python_package="$2"; shift 2 ;;
    --user) user="$2"; shift 2 ;;
    --uid) uid="$2"; shift 2 ;;
    --gid) gid="$2"; shift 2 ;;
    --port) port="$2"; shift 2 ;;
    --acme-root) acme_root="$2"; shift 2 ;;
    *) echo "build.sh: unknown argument '$1'" >&2; usage ;;
  esac
done
[ -n "$version" ] && [ -n "$out" ] || usage
user="${user:-$name}"

case "$distro" in
  trixie) py=3.13 ;;
  bookworm) py=3.11 ;;
  *) echo "build.sh: --distro $distro is not supported — fix: use trixie or bookworm" >&2; exit 2 ;;
esac
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
spec="$here/$name.spec"
[ -f "$spec" ] || { echo "build.sh: $spec not found — fix: name the spec after the package (--name $name)" >&2; exit 2; }
[ -f "$root/wheel/build.sh" ] || { echo "build.sh: $root/wheel/build.sh not found — fix: copy wheel/build.sh too (it makes the wheelhouse)" >&2; exit 2; }
command -v docker >/dev/null || { echo "build.sh: docker not found — fix: ./kit doctor --fix (or apt-get install docker.io)" >&2; exit 2; }
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac

t0=$SECONDS
step() { echo "▶ [$((SECONDS - t0)) s] $*"; }
show() { printf '  $'; printf ' %q' "$@"; printf '\n'; }

# Reproducible: the same commit builds the same bytes (wheel zips, tar, rpm header+payload).
SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git -C "$root" log -1 --format=%ct 2>/dev/null || echo 1700000000)}"
export SOURCE_DATE_EPOCH

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$out" "$work/SOURCES" "$work/SPECS" "$work/RPMS"

step "wheelhouse for cp${py/./} (hash-checked, resolved on this host): wheel/build.sh"
show bash wheel/build.sh --distro "$distro" --version "$version" --out "$work/SOURCES" --name "$name"
if ! (cd "$root" && bash wheel/build.sh --distro "$distro" --version "$version" --out "$work/SOURCES" --name "$name") |
  sed 's/^/    /'; then
  echo "build.sh: the wheelhouse failed (above) — fix: check that PyPI is reachable (PIP_INDEX_URL / PIP_CERT) and the lock is current" >&2
  exit 1
fi
rm -f "$work/SOURCES/"*.sha256
cp "$spec" "$work/SPECS/"
cp "$here/$name.service" "$here/config.toml" "$work/SOURCES/"

base="debian:$distro-slim"
if ! docker image inspect "$base" >/dev/null 2>&1 && [ -x "$root/kit" ]; then
  # No registry here: make the upstream-named base image locally (kitcli/images.py).
  step "make $base locally (no registry reachable): ./kit images --variant slim --distro $distro"
  "$root/kit" images --variant slim --distro "$distro"
fi
builder="$builder_repo:$distro"
step "builder image $builder (FROM $base; cached by docker layers)"
show docker build -q -t "$builder" --build-arg "DISTRO=$distro" -f rpm/builder.Dockerfile rpm
if ! docker build -q -t "$builder" --build-arg "DISTRO=$distro" -f "$here/builder.Dockerfile" "$here" >/dev/null; then
  echo "build.sh: the builder image failed — fix: check that containers reach the Debian mirror over plain HTTP (./kit doctor) and that $base exists (./kit images --variant slim --distro $distro)" >&2
  exit 1
fi

rpmbuild=(rpmbuild -bb
  --define '_topdir /build/rpmbuild' --define '_buildhost rpm-builder'
  --define "svc_version $version" --define "distro $distro" --define "python_version $py"
  --define "python_package $python_package" --define "svc_user $user"
  --define "svc_uid $uid" --define "svc_gid $gid" --define "svc_port $port"
  --define "acme_root $acme_root" "/build/rpmbuild/SPECS/$name.spec")
step "rpmbuild in $builder, offline (--network none), SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH"
show "${rpmbuild[@]}"
docker run --rm --network none --hostname rpm-builder -e SOURCE_DATE_EPOCH \
  -v "$work:/build/rpmbuild" "$builder" sh -c '"$@" >/build/rpmbuild/rpmbuild.log 2>&1 || { tail -40 /build/rpmbuild/rpmbuild.log; exit 1; }' \
  rpmbuild "${rpmbuild[@]}" || {
  echo "build.sh: rpmbuild failed (last lines above) — fix: read the error, then rerun; the spec is $spec" >&2
  exit 1
}
grep -E '^(Wrote|warning|Executing)' "$work/rpmbuild.log" | sed 's/^/    /' || true

rpms=("$work/RPMS/"*/*.rpm)
[ -f "${rpms[0]}" ] || { echo "build.sh: rpmbuild left no .rpm — fix: check the %files section of $spec" >&2; exit 1; }
rel="${rpms[0]#"$work/RPMS/"}"

step "rpmlint (0 errors required; warnings are explained in rpm/README.md)"
show rpmlint -r rpm/rpmlintrc "$(basename "$rel")" "rpm/$name.spec"
cp "$here/rpmlintrc" "$work/SOURCES/rpmlintrc"
if ! docker run --rm --network none -v "$work:/build/rpmbuild" "$builder" \
  rpmlint -r /build/rpmbuild/SOURCES/rpmlintrc "/build/rpmbuild/RPMS/$rel" "/build/rpmbuild/SPECS/$name.spec" |
  sed 's/^/    /'; then
  echo "build.sh: rpmlint found errors — fix: the lines marked E: above (or, if one is intended, filter it in rpm/rpmlintrc with the reason)" >&2
  exit 1
fi

step "copy $(basename "$rel") to $out"
cp "${rpms[0]}" "$out/"
(cd "$out" && sha256sum "$(basename "$rel")" >"$(basename "$rel").sha256")
size=$(stat -c %s "$out/$(basename "$rel")")
installed=$(docker run --rm --network none -v "$out:/out:ro" "$builder" \
  rpm --dbpath /tmp/db -qp --qf '%{SIZE}' "/out/$(basename "$rel")")
step "done: $(basename "$rel") $((size / 1024)) KiB, installs $((installed / 1024)) KiB, sha256 $(cut -c1-16 "$out/$(basename "$rel").sha256")…"
