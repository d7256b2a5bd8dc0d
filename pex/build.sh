#!/usr/bin/env bash
# The PEX: one executable ZIP holding the service and every locked dependency, for every
# release in kit.toml at once (a multi-platform PEX: each release's CPython gets its own
# compiled wheels inside), run by the host's own Python. Nothing is fetched at deploy time.
#
# Build (exact commands; `./kit build pex` runs the same pair):
#   ./kit render pex --distro bookworm --version 1.0.0
#   bash pex/build.sh --build-dir .kit/build/pex/bookworm/1.0.0 --out dist/pex/bookworm/1.0.0 \
#     --cache-dir /var/cache/kit
#
# Steps: (1) wheel/build.sh once per release in kit.env's KIT_RELEASES (trixie:3.13
# bookworm:3.11): the same hash-checked wheelhouse every layer installs, one per CPython;
# (2) pex itself, pinned and hash-checked (pex/build-requirements.lock), run from its wheel;
# (3) pex --no-pypi from those wheelhouses only, the requirements with their hashes
# (install.txt: the universal lock + the service wheel's hash), one --platform per release;
# (4) the checksum and a manifest of the Pythons it carries, which the install checks.
#
# Output: <name>-<version>.pex, .pex.sha256, .pex.json ({"sha256", "pythons", "platforms"}).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib/build.sh
. "$here/../lib/build.sh"
KIT_USAGE_EXTRA="--cache-dir DIR"
kit_args "$@"
cache_dir=""
set -- "${KIT_EXTRA[@]+"${KIT_EXTRA[@]}"}"
while [ $# -gt 0 ]; do
  case "$1" in
    --cache-dir) cache_dir="${2:?--cache-dir needs a directory}"; shift 2 ;;
    *) die "unknown argument '$1'" "pass --build-dir DIR --out DIR --cache-dir DIR" ;;
  esac
done
[ -n "$cache_dir" ] || die "--cache-dir is required" "pass --cache-dir /var/cache/kit (kit.toml [kit] cache_dir)"
[ -n "${KIT_RELEASES:-}" ] || die "$BUILD_DIR/kit.env has no KIT_RELEASES" "render it again: ./kit render pex"
kit_work

# (1) One wheelhouse per release, merged: the same pure wheels (the service's, gunicorn)
# land twice and must be the same bytes; the compiled ones differ by their cp3XX tag.
pythons=() platforms=()
mkdir -p "$work/wheelhouse"
for release in $KIT_RELEASES; do
  distro="${release%%:*}" python="${release#*:}"
  step "wheelhouse for $distro (CPython $python, wheel/build.sh)"
  mkdir -p "$work/build-$distro"
  { cat "$BUILD_DIR/kit.env"; echo "KIT_DISTRO=$distro"; echo "KIT_PYTHON_VERSION=$python"; } \
    >"$work/build-$distro/kit.env"
  cmd=(bash "$KIT_ROOT/wheel/build.sh" --build-dir "$work/build-$distro" --out "$work/wheel-$distro")
  show "${cmd[@]}"
  "${cmd[@]}" | sed 's/^/    /'
  mkdir -p "$work/unpacked-$distro"
  tar -C "$work/unpacked-$distro" -xzf "$work/wheel-$distro/"*.wheelhouse.tar.gz
  for whl in "$work/unpacked-$distro/wheelhouse/"*.whl; do
    dest="$work/wheelhouse/$(basename "$whl")"
    if [ -e "$dest" ]; then
      cmp -s "$whl" "$dest" || die "$(basename "$whl") differs between the releases' wheelhouses" \
        "the service wheel must build reproducibly (SOURCE_DATE_EPOCH): check its build backend"
    else
      cp "$whl" "$dest"
    fi
  done
  [ -f "$work/install.txt" ] || cp "$work/unpacked-$distro/install.txt" "$work/install.txt"
  cmp -s "$work/install.txt" "$work/unpacked-$distro/install.txt" \
    || die "install.txt differs between releases" "lock with uv pip compile --universal (one lock for every release)"
  abi="cp${python/./}"
  pythons+=("$python")
  platforms+=("manylinux2014_$KIT_MACHINE-cp-${python/./}-$abi")
done

# (2) pex, from PyPI by hash (the only download; build time only), in its own venv,
# cached by the lock's hash.
lock_hash="$(sha256sum "$here/build-requirements.lock" | cut -c1-16)"
tool="$cache_dir/pex-tool/$lock_hash"
if [ -x "$tool/bin/python" ] && "$tool/bin/python" -m pex --version >/dev/null 2>&1; then
  step "pex from the cache ($tool; pex/build-requirements.lock)"
else
  step "pex, pinned and hash-checked (pex/build-requirements.lock) → $tool"
  mkdir -p "$cache_dir/pex-tool"
  rm -rf "$tool.tmp"
  python3 -m venv "$tool.tmp" || die "cannot make a venv for pex" "apt-get install -y python3-venv"
  cmd=("$tool.tmp/bin/pip" install -q --disable-pip-version-check --require-hashes --only-binary=:all:
    --no-deps -r "$here/build-requirements.lock")
  show "${cmd[@]}"
  "${cmd[@]}" || { rm -rf "$tool.tmp"; die "could not install the pinned pex of pex/build-requirements.lock" \
    "check PyPI access (PIP_INDEX_URL / PIP_CERT)"; }
  mv "$tool.tmp" "$tool"
fi

# (3) The PEX. --include-tools: the install runs `PEX_TOOLS=1 <file> venv` to unpack it.
# The shebang is the host's python3 on every release; which one it is, the install checks
# against the manifest before anything starts.
pex_file="$KIT_NAME-$KIT_VERSION.pex"
step "pex → $pex_file (${platforms[*]})"
cmd=("$tool/bin/python" -m pex --no-pypi --find-links "$work/wheelhouse" --requirement "$work/install.txt"
  --console-script "$KIT_SCRIPT" --include-tools --python-shebang "/usr/bin/env python3")
for p in "${platforms[@]}"; do cmd+=(--platform "$p"); done
cmd+=(--output-file "$OUT/$pex_file")
show "${cmd[@]}"
mkdir -p "$cache_dir/pex-root"
rc=0
PEX_ROOT="$cache_dir/pex-root" "${cmd[@]}" >"$work/pex.log" 2>&1 || rc=$?
# (pex's note that the shebang is not the running interpreter's is the point here)
grep -v -e '^$' -e 'pex_warnings.warn' -e 'Using shebang' -e 'specify a custom shebang' \
  "$work/pex.log" | sed 's/^/    /' || true
[ "$rc" -eq 0 ] && [ -s "$OUT/$pex_file" ] || die "pex failed (its output above)" \
  "every locked dependency needs a manylinux2014 $KIT_MACHINE wheel for each release's CPython (${pythons[*]})"

# (4) Checksum + manifest: the install refuses a file whose sha256 differs (truncated,
# tampered) and a host whose Python is none of these.
step "checksum and manifest"
sha="$(sha256sum "$OUT/$pex_file" | cut -d' ' -f1)"
(cd "$OUT" && sha256sum "$pex_file" >"$pex_file.sha256")
python3 - "$OUT/$pex_file.json" "$sha" "${#pythons[@]}" "${pythons[@]}" "${platforms[@]}" <<'PY'
import json, sys
out, sha, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
rest = sys.argv[4:]
with open(out, "w", encoding="utf-8") as f:
    json.dump({"sha256": sha, "pythons": rest[:n], "platforms": rest[n:]}, f, indent=2)
    f.write("\n")
PY
step "done: $pex_file $(du -h "$OUT/$pex_file" | cut -f1), sha256 $sha, CPython ${pythons[*]}"
