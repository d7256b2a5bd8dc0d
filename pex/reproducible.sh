#!/usr/bin/env bash
# Reproducibility of the pex build: build the same version again, from the same build
# dir, into another directory, and compare the two files byte for byte (pex writes fixed
# timestamps and a sorted ZIP; the service wheel is built with SOURCE_DATE_EPOCH). `./kit
# test` runs it as one of the layer's artifact tests. Exact command:
#   bash pex/reproducible.sh --build-dir .kit/build/pex/bookworm/1.0.0 \
#     --pex-dir dist/pex/bookworm/1.0.0 --cache-dir /var/cache/kit
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib/build.sh
. "$here/../lib/build.sh"

build_dir="" pex_dir="" cache_dir=""
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build_dir="${2:?--build-dir needs a directory}"; shift 2 ;;
    --pex-dir) pex_dir="${2:?--pex-dir needs a directory}"; shift 2 ;;
    --cache-dir) cache_dir="${2:?--cache-dir needs a directory}"; shift 2 ;;
    *) die "unknown argument '$1'" "see the usage in the header of $0" ;;
  esac
done
[ -n "$build_dir" ] && [ -n "$pex_dir" ] && [ -n "$cache_dir" ] \
  || die "--build-dir, --pex-dir and --cache-dir are required" "see the usage in the header of $0"
files=("$pex_dir"/*.pex)
[ -f "${files[0]}" ] || die "no .pex in $pex_dir" "./kit build pex"
kit_work

step "build $(basename "${files[0]}") again into $work"
cmd=(bash "$here/build.sh" --build-dir "$build_dir" --out "$work" --cache-dir "$cache_dir")
show "${cmd[@]}"
"${cmd[@]}" >"$work.log" 2>&1 || { sed 's/^/    /' "$work.log"; rm -f "$work.log"; die "the second build failed (above)" "fix pex/build.sh"; }
rm -f "$work.log"
first="$(sha256sum "${files[0]}" | cut -d' ' -f1)"
second="$(sha256sum "$work/$(basename "${files[0]}")" | cut -d' ' -f1)"
if [ "$first" != "$second" ]; then
  diff <(unzip -Z1 "${files[0]}" | sort) <(unzip -Z1 "$work/$(basename "${files[0]}")" | sort) | head -5 || true
  die "two builds of the same version differ: sha256 $first vs $second" \
    "find the first differing member (above, or diffoscope both files) and make it deterministic"
fi
step "done: both builds are sha256 $first"
