#!/usr/bin/env bash
# Library rung: the service's wheel + a hash-checked wheelhouse of its locked
# dependencies for the target's Python and CPU, in one tarball. The target installs it
# with pip --no-index (no network at deploy time).
#
# Build (exact command; `./kit build wheel` runs the same):
#   bash wheel/build.sh --distro trixie --version 1.0.0 --out dist/wheel/trixie/1.0.0
set -euo pipefail

distro=trixie
version=""
out=""
arch=amd64
source_dir=sample_service          # CHANGE ME: your service's source tree (has pyproject.toml)
name=sample-service                # CHANGE ME: your distribution name

usage() { echo "usage: $0 --distro trixie|bookworm --version X.Y.Z --out DIR [--arch amd64|arm64] [--source DIR] [--name NAME]" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --distro) distro="$2"; shift 2 ;;
    --version) version="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --arch) arch="$2"; shift 2 ;;
    --source) source_dir="$2"; shift 2 ;;
    --name) name="$2"; shift 2 ;;
    *) echo "build.sh: unknown argument '$1'" >&2; usage ;;
  esac
done
[ -n "$version" ] && [ -n "$out" ] || usage

# The interpreter each Debian release ships decides which wheels fit.
case "$distro" in
  trixie) py=3.13 ;;
  bookworm) py=3.11 ;;
  *) echo "build.sh: --distro $distro is not supported — fix: use trixie or bookworm" >&2; exit 2 ;;
esac
case "$arch" in
  amd64) machine=x86_64 ;;
  arm64) machine=aarch64 ;;
  *) echo "build.sh: --arch $arch is not supported — fix: use amd64 or arm64" >&2; exit 2 ;;
esac
[ -f "$source_dir/pyproject.toml" ] || { echo "build.sh: $source_dir/pyproject.toml not found — fix: pass --source DIR" >&2; exit 2; }
[ -f "$source_dir/requirements.lock" ] || { echo "build.sh: $source_dir/requirements.lock not found — fix: lock with uv pip compile --generate-hashes" >&2; exit 2; }

# Reproducible wheels (zip timestamps): the last commit's time unless the caller set one.
SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git -C "$source_dir" log -1 --format=%ct 2>/dev/null || echo 315532800)}"
export SOURCE_DATE_EPOCH

t0=$SECONDS
step() { echo "▶ [$((SECONDS - t0)) s] $*"; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$out" "$work/src" "$work/wheelhouse"

step "copy source, stamp version $version"
cp -a "$source_dir/." "$work/src/"
rm -rf "$work/src/build" "$work/src/"*.egg-info "$work/src/src/"*.egg-info
sed -i -E "0,/^version = \"[^\"]*\"/s//version = \"$version\"/" "$work/src/pyproject.toml"
grep -q "^version = \"$version\"" "$work/src/pyproject.toml" || { echo "build.sh: could not stamp the version into pyproject.toml — fix: keep a literal 'version = \"X.Y.Z\"' line there" >&2; exit 1; }

step "build the service wheel"
python3 -m pip wheel -q --no-deps --disable-pip-version-check -w "$work/wheelhouse" "$work/src"

step "download locked dependency wheels for cp${py/./} manylinux $machine (hash-checked)"
python3 -m pip download -q --disable-pip-version-check --require-hashes --only-binary=:all: \
  --python-version "$py" --implementation cp --abi "cp${py/./}" --abi abi3 --abi none \
  --platform "manylinux_2_28_$machine" --platform "manylinux_2_17_$machine" \
  --platform "manylinux2014_$machine" --platform any \
  -r "$source_dir/requirements.lock" -d "$work/wheelhouse"

step "write install.txt (the lock + the service wheel's own hash)"
app_whls=("$work/wheelhouse/${name//-/_}-$version-"*.whl)
[ -f "${app_whls[0]}" ] || { echo "build.sh: the service wheel ${name//-/_}-$version-*.whl was not built — fix: check --name matches pyproject's name" >&2; exit 1; }
app_hash="$(sha256sum "${app_whls[0]}" | cut -d' ' -f1)"
{ cat "$source_dir/requirements.lock"; echo "${name}==${version} --hash=sha256:${app_hash}"; } >"$work/install.txt"

tarball="$out/${name}-${version}-${distro}-${arch}.wheelhouse.tar.gz"
step "pack $tarball"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@${SOURCE_DATE_EPOCH}" \
  -C "$work" -czf "$tarball" wheelhouse install.txt
(cd "$out" && sha256sum "$(basename "$tarball")" >"$(basename "$tarball").sha256")
wheels=("$work/wheelhouse/"*.whl)
step "done: $(du -h "$tarball" | cut -f1) (${#wheels[@]} wheels)"
