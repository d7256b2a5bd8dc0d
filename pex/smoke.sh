#!/usr/bin/env bash
# The one .pex on ANOTHER release's systemd image with its own python3, installed by hand
# the way the service_pex role does it: checked against the recorded sha256, unpacked
# offline by that python3 (pex's venv tool) into /opt/<name>/releases/<version>/venv,
# `current` linked, the kit's rendered unit, sysusers, tmpfiles and default config from the
# build dir; then started by systemd, healthy, /version naming the venv's interpreter.
# `./kit test` runs this for every release in kit.toml but the first (the first gets the
# whole contract through molecule; `./kit test --matrix` gives every release the whole
# contract). Exact command (kit test fills it in from pex/layer.toml tests.artifact; NAME,
# PORT and the paths are kit.toml's):
#   bash pex/smoke.sh --image kit/debian:bookworm-systemd-python \
#     --pex-dir dist/pex/bookworm/1.0.0 --build-dir .kit/build/pex/bookworm/1.0.0 \
#     --name NAME --port PORT --health /healthz --version-path /version
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib/build.sh
. "$here/../lib/build.sh"

image="" pex_dir="" build_dir="" name="" port="" health="" version_path=""
while [ $# -gt 0 ]; do
  case "$1" in
    --image) image="${2:?--image needs an image}"; shift 2 ;;
    --pex-dir) pex_dir="${2:?--pex-dir needs a directory}"; shift 2 ;;
    --build-dir) build_dir="${2:?--build-dir needs a directory}"; shift 2 ;;
    --name) name="${2:?--name needs the service name}"; shift 2 ;;
    --port) port="${2:?--port needs a number}"; shift 2 ;;
    --health) health="${2:?--health needs a path}"; shift 2 ;;
    --version-path) version_path="${2-}"; shift 2 ;;
    *) die "unknown argument '$1'" "see the usage in the header of $0" ;;
  esac
done
[ -n "$image" ] && [ -n "$pex_dir" ] && [ -n "$build_dir" ] && [ -n "$name" ] && [ -n "$port" ] && [ -n "$health" ] \
  || die "--image, --pex-dir, --build-dir, --name, --port and --health are required" "see the usage in the header of $0"
kit_require_docker
files=("$pex_dir"/*.pex)
[ "${#files[@]}" -eq 1 ] && [ -f "${files[0]}" ] && [ -f "${files[0]}.json" ] \
  || die "expected exactly one .pex and its .json manifest in $pex_dir" "./kit build pex (it empties the directory first)"
pex="${files[0]}"
sha="$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["sha256"])' "$pex.json")"
[ "$(sha256sum "$pex" | cut -d' ' -f1)" = "$sha" ] \
  || die "$pex does not match the sha256 recorded at build ($sha)" "rebuild it: ./kit build pex"
runtime="$build_dir/rendered/runtime"
[ -f "$runtime/unit.service" ] || die "$runtime/unit.service not found" "./kit build pex renders it"
# shellcheck source=/dev/null
. "$build_dir/kit.env"
box="kit-pex-smoke-$$"
release="/opt/$name/releases/$KIT_VERSION"
in_box() { docker exec "$box" "$@"; }

step "start $image (systemd as PID 1, no network at all)"
kit_systemd_box "$box" "$image"
found="$(in_box python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
carried="$(python3 -c 'import json, sys; print(" ".join(json.load(open(sys.argv[1]))["pythons"]))' "$pex.json")"
case " $carried " in *" $found "*) ;; *) die "$image's python3 is $found; the .pex carries $carried" "add that release to kit.toml and rebuild" ;; esac
echo "    python3 here is $found (the .pex carries $carried)"

step "install: the file, read-only; PEX_TOOLS=1 python3 FILE venv --compile $release/venv"
in_box install -d -m 0755 "$release"
docker cp "$pex" "$box:$release/$name.pex"
in_box chmod 0444 "$release/$name.pex"
t0="$(date +%s%N)"
in_box env PEX_TOOLS=1 PEX_ROOT=/tmp/pex-root python3 "$release/$name.pex" venv --compile "$release/venv" \
  || die "pex's venv tool failed on $image" "see its output above"
in_box ln -sfn "$release" "/opt/$name/current"
echo "    unpacked in $((($(date +%s%N) - t0) / 1000000)) ms"
for f in unit.service:/etc/systemd/system/$name.service sysusers.conf:/usr/lib/sysusers.d/$name.conf \
  tmpfiles.conf:/usr/lib/tmpfiles.d/$name.conf config.toml:$KIT_CONFIG_FILE; do
  [ -f "$runtime/${f%%:*}" ] || continue
  in_box install -d "$(dirname "${f#*:}")"
  docker cp "$runtime/${f%%:*}" "$box:${f#*:}"
done
in_box systemd-sysusers >/dev/null
in_box systemd-tmpfiles --create >/dev/null
in_box systemctl daemon-reload
in_box systemctl start "$name"

step "wait for $health"
ok=""
for _ in $(seq 1 120); do
  if kit_http_get "$box" python3 "http://127.0.0.1:$port$health" >/dev/null 2>&1; then ok=1; break; fi
  sleep 0.25
done
[ -n "$ok" ] || { in_box journalctl -u "$name" --no-pager -n 30 || true; die "$name never answered $health" "see the journal above"; }
echo "    healthy $((($(date +%s%N) - t0) / 1000000)) ms after the unpack started"
if [ -n "$version_path" ]; then
  doc="$(kit_http_get "$box" python3 "http://127.0.0.1:$port$version_path")"
  echo "    $version_path: $doc"
  case "$doc" in *"\"/opt/$name/current/venv/bin/python3"*) ;; *) die "$version_path does not name /opt/$name/current/venv/bin/python3 as the interpreter" "the unit must run the unpacked venv" ;; esac
fi
step "done: the one .pex runs on $image (CPython $found)"
