#!/usr/bin/env bash
# The one Omnibus .deb on ANOTHER release's no-python systemd image: install with the
# network off, the service healthy, /version naming the package's own interpreter, then
# purge leaves nothing of the package behind. `./kit test` runs this for every release in
# kit.toml but the first (the first gets the whole contract through molecule; `./kit test
# --matrix` gives every release the whole contract). Exact command (kit test fills it in
# from omnibus/layer.toml tests.artifact; NAME, PORT and the paths are kit.toml's):
#   bash omnibus/smoke.sh --image kit/debian:bookworm-systemd \
#     --deb-dir dist/omnibus/bookworm/1.0.0 --name NAME --port PORT \
#     --health /healthz --version-path /version
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib/build.sh
. "$here/../lib/build.sh"

image="" deb_dir="" name="" port="" health="" version_path=""
while [ $# -gt 0 ]; do
  case "$1" in
    --image) image="${2:?--image needs an image}"; shift 2 ;;
    --deb-dir) deb_dir="${2:?--deb-dir needs a directory}"; shift 2 ;;
    --name) name="${2:?--name needs the package name}"; shift 2 ;;
    --port) port="${2:?--port needs a number}"; shift 2 ;;
    --health) health="${2:?--health needs a path}"; shift 2 ;;
    --version-path) version_path="${2-}"; shift 2 ;;
    *) die "unknown argument '$1'" "see the usage in the header of $0" ;;
  esac
done
[ -n "$image" ] && [ -n "$deb_dir" ] && [ -n "$name" ] && [ -n "$port" ] && [ -n "$health" ] \
  || die "--image, --deb-dir, --name, --port and --health are required" "see the usage in the header of $0"
kit_require_docker
debs=("$deb_dir"/*.deb)
[ "${#debs[@]}" -eq 1 ] && [ -f "${debs[0]}" ] \
  || die "expected exactly one .deb in $deb_dir" "./kit build omnibus (it empties the directory first)"
deb="${debs[0]}"
python="/opt/$name/embedded/bin/python3"
box="kit-omnibus-smoke-$$"
in_box() { docker exec "$box" "$@"; }

step "start $image (systemd as PID 1, no network at all)"
kit_systemd_box "$box" "$image"
in_box sh -c '! command -v python3 && ! command -v python && ! ls /usr/bin/python* 2>/dev/null' >/dev/null \
  || die "$image has a Python of its own: this smoke test would prove nothing" "use the kit's systemd image (./kit images --variant systemd)"

step "install $(basename "$deb") with dpkg (offline)"
docker cp "$deb" "$box:/root/package.deb" # (not /tmp: docker cp cannot write into a tmpfs mount)
t0="$(date +%s%N)"
in_box env DEBIAN_FRONTEND=noninteractive dpkg -i /root/package.deb >/dev/null \
  || die "dpkg -i failed on $image" "see dpkg's output above; the package must need nothing but libc"

step "wait for $health (asked with the package's own Python: the host has none)"
ok=""
for _ in $(seq 1 120); do
  if kit_http_get "$box" "$python" "http://127.0.0.1:$port$health" >/dev/null 2>&1; then ok=1; break; fi
  sleep 0.5
done
[ -n "$ok" ] || { in_box journalctl -u "$name" --no-pager -n 30 || true; die "$name never answered $health after dpkg -i" "see the journal above"; }
echo "    healthy $((($(date +%s%N) - t0) / 1000000)) ms after dpkg -i started"
if [ -n "$version_path" ]; then
  doc="$(kit_http_get "$box" "$python" "http://127.0.0.1:$port$version_path")"
  echo "    $version_path: $doc"
  case "$doc" in *"\"$python"*) ;; *) die "$version_path does not name $python as the interpreter" "the unit must run the package's embedded Python" ;; esac
fi

step "purge: nothing of the package may stay"
in_box dpkg --purge "$name" >/dev/null
left="$(in_box sh -c "ls -d /opt/$name /etc/$name /var/opt/$name /usr/lib/systemd/system/$name.service 2>/dev/null" || true)"
[ -z "$left" ] || die "purge left: $left" "omnibus/package-scripts/kit/postrm.j2 must remove it on purge"
step "done: the one build runs on $image"
