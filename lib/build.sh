# shellcheck shell=bash
# The one small library every layer's build script sources: argument parsing, the facts
# the kit computed once (kit.env), progress lines, errors that name the fix, a work dir.
#
#   here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
#   . "$here/../lib/build.sh"
#   kit_args "$@"        # --build-dir DIR --out DIR [layer flags → KIT_EXTRA]
#
# The build dir is made by `./kit render LAYER --distro D --version V` (kitcli/render.py):
# kit.env (KIT_NAME, KIT_VERSION, KIT_DISTRO, KIT_PYTHON_VERSION, KIT_ARCH, KIT_MACHINE,
# SOURCE_DATE_EPOCH, KIT_SOURCE, KIT_ROOT, KIT_RENDERED, …) and rendered/ (the templates).
set -euo pipefail

KIT_SCRIPT_NAME="${KIT_SCRIPT_NAME:-$(basename "$(dirname "${BASH_SOURCE[1]:-$0}")")/$(basename "${BASH_SOURCE[1]:-$0}")}"
KIT_T0=$SECONDS
KIT_EXTRA=()
BUILD_DIR=""
OUT=""

# die PROBLEM FIX — one line on stderr naming the fix, exit 1.
die() { echo "$KIT_SCRIPT_NAME: $1 — fix: $2" >&2; exit 1; }

# step MESSAGE — progress with the seconds since the script started.
step() { echo "▶ [$((SECONDS - KIT_T0)) s] $*"; }

# show CMD ARGS… — print the raw command, shell-quoted, before running it.
show() { printf '  $'; printf ' %q' "$@"; printf '\n'; }

kit_usage() {
  echo "usage: $KIT_SCRIPT_NAME --build-dir DIR --out DIR${KIT_USAGE_EXTRA:+ $KIT_USAGE_EXTRA}" >&2
  echo "  DIR from: ./kit render LAYER --distro trixie --version X.Y.Z (or just ./kit build LAYER)" >&2
  exit 2
}

# kit_args "$@" — parse the common flags, source kit.env, make OUT absolute and create it.
kit_args() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --build-dir) [ $# -ge 2 ] || kit_usage; BUILD_DIR="$2"; shift 2 ;;
      --out) [ $# -ge 2 ] || kit_usage; OUT="$2"; shift 2 ;;
      -h|--help) kit_usage ;;
      *) KIT_EXTRA+=("$1"); shift ;;
    esac
  done
  [ -n "$BUILD_DIR" ] && [ -n "$OUT" ] || kit_usage
  [ -f "$BUILD_DIR/kit.env" ] || die "$BUILD_DIR/kit.env not found" \
    "render the build dir first: ./kit render LAYER --distro DISTRO --version VERSION"
  BUILD_DIR="$(cd "$BUILD_DIR" && pwd)"
  # shellcheck source=/dev/null
  . "$BUILD_DIR/kit.env"
  mkdir -p "$OUT" || die "cannot create $OUT" "check the path and free disk space"
  OUT="$(cd "$OUT" && pwd)"
}

# kit_on_exit 'COMMAND' — add an action to the EXIT trap (actions run last-added first).
KIT_EXIT_ACTIONS=""
kit_on_exit() {
  KIT_EXIT_ACTIONS="$1${KIT_EXIT_ACTIONS:+; $KIT_EXIT_ACTIONS}"
  # shellcheck disable=SC2064  # expand now: the trap runs the list as it is at this point
  trap "$KIT_EXIT_ACTIONS" EXIT
}

# kit_work — $work: a fresh temp dir, removed when the script exits.
kit_work() {
  work="$(mktemp -d)" || die "mktemp failed" "free disk space in ${TMPDIR:-/tmp}"
  kit_on_exit "rm -rf '$work'"
}

# kit_require_tools COMMAND:PACKAGE… — each command is on PATH, or stop naming the
# Debian package that provides it.
kit_require_tools() {
  local tool
  for tool in "$@"; do
    command -v "${tool%%:*}" >/dev/null \
      || die "${tool%%:*} not found" "apt-get install ${tool#*:} (or sudo ./kit doctor --fix)"
  done
}

# kit_require_docker — the engine answers, or stop with the fix.
kit_require_docker() {
  command -v docker >/dev/null || die "docker not found" "./kit doctor --fix (or apt-get install docker.io)"
  docker info >/dev/null 2>&1 || die "the docker engine is not reachable" "start it: ./kit doctor --fix (or: dockerd &)"
}

# kit_require_image REF — a local image exists, or stop naming how to make it.
kit_require_image() {
  docker image inspect "$1" >/dev/null 2>&1 \
    || die "image $1 is missing" "./kit images --distro $KIT_DISTRO --variant slim (no registry is needed)"
}

# kit_systemd_box NAME IMAGE — start IMAGE as container NAME with systemd as PID 1 and no
# network at all (the smoke tests' target), removed on exit; wait until systemd is up.
kit_systemd_box() {
  kit_on_exit "docker rm -f '$1' >/dev/null 2>&1 || true"
  docker run -d --name "$1" --network none --cap-add SYS_ADMIN \
    --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
    --tmpfs /run --tmpfs /run/lock --tmpfs /tmp -v /sys/fs/cgroup:/sys/fs/cgroup:rw \
    --cgroupns host "$2" /sbin/init >/dev/null || die "cannot start $2" "./kit images (and ./kit doctor --fix)"
  local state _
  for _ in $(seq 1 30); do
    state="$(docker exec "$1" systemctl is-system-running 2>/dev/null || true)"
    case "$state" in running | degraded) return 0 ;; esac
    sleep 1
  done
}

# kit_http_get BOX PYTHON URL — GET URL inside BOX with BOX's PYTHON (the images carry no
# curl); prints the body, fails unless the answer is 200.
kit_http_get() {
  docker exec "$1" "$2" -c 'import sys, urllib.request
try:
    r = urllib.request.urlopen(sys.argv[1], timeout=2)
    sys.stdout.write(r.read().decode()); sys.exit(r.status != 200)
except OSError:
    sys.exit(1)' "$3"
}
