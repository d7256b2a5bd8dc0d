#!/usr/bin/env bash
# The dh-virtualenv Debian package, built INSIDE a container of the target distro.
#
# Build (exact command; `./kit build deb` runs the same):
#   bash deb/build.sh --distro trixie --version 1.0.0 --out dist/deb/trixie/1.0.0
#
# Steps: (1) wheel/build.sh makes the hash-checked wheelhouse for the distro's Python;
# (2) the builder image (deb/builder.Dockerfile: the distro + debhelper, dh-virtualenv,
# lintian) is built or taken from docker's cache; (3) inside it, build-in-container.sh
# runs dpkg-buildpackage (no network needed) and lintian --fail-on error,warning.
set -euo pipefail

distro=trixie
version=""
out=""
name=sample-service                 # CHANGE ME: your package name
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"

usage() { echo "usage: $0 --distro trixie|bookworm --version X.Y.Z --out DIR [--name NAME]" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --distro) distro="$2"; shift 2 ;;
    --version) version="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --name) name="$2"; shift 2 ;;
    *) echo "build.sh: unknown argument '$1'" >&2; usage ;;
  esac
done
[ -n "$version" ] && [ -n "$out" ] || usage
command -v docker >/dev/null || { echo "build.sh: docker not found — fix: ./kit doctor --fix" >&2; exit 2; }
docker image inspect "debian:${distro}-slim" >/dev/null 2>&1 \
  || { echo "build.sh: image debian:${distro}-slim missing — fix: ./kit images --distro $distro --variant slim" >&2; exit 2; }

t0=$SECONDS
step() { echo "▶ [$((SECONDS - t0)) s] $*"; }
mkdir -p "$out"
out="$(cd "$out" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

step "wheelhouse for $distro (wheel/build.sh)"
bash "$root/wheel/build.sh" --distro "$distro" --version "$version" --out "$work/wheel" --name "$name" \
  --source "$root/sample_service" | sed 's/^/    /'

step "pinned build-time pip into the wheelhouse (hash-checked)"
mkdir -p "$work/extra"
python3 -m pip download -q --disable-pip-version-check --require-hashes --only-binary=:all: \
  --no-deps -r "$here/build-requirements.lock" -d "$work/extra"

builder="kit/deb-builder:$distro"
step "builder image $builder (docker cache)"
docker build -q -f "$here/builder.Dockerfile" --build-arg "DISTRO=$distro" -t "$builder" "$here" >/dev/null

step "dpkg-buildpackage + lintian inside $builder (network off)"
docker run --rm --network none \
  -e SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git -C "$root" log -1 --format=%ct 2>/dev/null || echo 0)}" \
  -v "$here:/in/deb:ro" -v "$work:/in/work:ro" -v "$out:/out" \
  "$builder" bash /in/deb/build-in-container.sh "$name" "$version" "$distro" "$(id -u):$(id -g)"

step "done: $(cd "$out" && ls -- *.deb)"
