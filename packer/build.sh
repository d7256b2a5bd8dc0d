#!/usr/bin/env bash
# The VM image: a qcow2 built by Packer's qemu builder from a Debian cloud image, with the
# service's .deb (the deb layer's artifact) installed offline, hardened and cleaned so
# every VM booted from it is a fresh machine.
#
# Build (exact commands; the deb layer's artifact first):
#   ./kit build deb --distro trixie
#   bash packer/build.sh --build-dir .kit/build/deb/trixie/1.0.0 --out dist/packer/trixie/1.0.0 \
#     --deb dist/deb/trixie/1.0.0 --cache-dir /var/cache/kit --mirror http://deb.debian.org/debian
#
# Every name, version and the distro come from <build dir>/kit.env (any layer's rendered
# build dir holds the same facts). Options of this layer only:
#   --deb DIR|FILE     the .deb to bake in, or the deb layer's artifact dir holding
#                      <name>_<version>_<arch>.deb (required)
#   --cache-dir DIR    kit.toml's [kit] cache_dir: the base image is cached under
#                      DIR/vm-base/ by the content hash of its recipe (required)
#   --mirror URL       kit.toml's [targets] mirror, for the base image (required)
#   --accel tcg|kvm    qemu accelerator (default tcg: works everywhere; kvm is faster
#                      where /dev/kvm works)
#   --base-image URL --base-checksum SUM
#                      start from this cloud image instead of the local base (e.g. the
#                      official one: the values in packer/os/debian-13-amd64.pkrvars.hcl)
#
# Steps: (1) the base image (packer/base/build-base.sh, cached), (2) a throw-away build
# key + NoCloud seed, (3) packer fmt -check + packer validate, (4) packer build (the
# .deb installed with no network, hardening, package list, cleanup; qcow2 compressed,
# checksum, manifest), (5) SBOM. Into --out:
#   <name>-<version>-<distro>-<arch>.qcow2            the image
#   <name>-<version>-<distro>-<arch>.qcow2.sha256     sha256sum -c format
#   <name>-<version>-<distro>-<arch>.packages.tsv     installed Debian packages
#   <name>-<version>-<distro>-<arch>.cdx.json         CycloneDX SBOM of them
#   packer-manifest.json                              Packer's manifest (+ sha256)
# The VM is always stopped when this script ends, whatever happened.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib/build.sh
. "$here/../lib/build.sh"
KIT_USAGE_EXTRA="--deb DIR --cache-dir DIR --mirror URL [--accel tcg|kvm]"
kit_args "$@"

deb_arg=""
cache_dir=""
mirror=""
accel="tcg"
base_image=""
base_checksum=""
set -- ${KIT_EXTRA[@]+"${KIT_EXTRA[@]}"}
while [ $# -gt 0 ]; do
  case "$1" in
    --deb) deb_arg="${2:?--deb needs a dir or file}"; shift 2 ;;
    --cache-dir) cache_dir="${2:?--cache-dir needs a dir}"; shift 2 ;;
    --mirror) mirror="${2:?--mirror needs a URL}"; shift 2 ;;
    --accel) accel="${2:?--accel needs tcg or kvm}"; shift 2 ;;
    --base-image) base_image="${2:?}"; shift 2 ;;
    --base-checksum) base_checksum="${2:?}"; shift 2 ;;
    *) die "unknown argument '$1'" "use $KIT_USAGE_EXTRA (see the header of packer/build.sh)" ;;
  esac
done
[ -n "$deb_arg" ] || die "--deb is required" "build the package first (./kit build deb --distro $KIT_DISTRO), then pass --deb dist/deb/$KIT_DISTRO/$KIT_VERSION"
[ -n "$cache_dir" ] && [ -n "$mirror" ] || die "--cache-dir and --mirror are required" "pass kit.toml's [kit] cache_dir and [targets] mirror"
case "$accel" in tcg|kvm) ;; *) die "--accel $accel is not supported" "use --accel tcg (works everywhere) or --accel kvm" ;; esac
[ -z "$base_image" ] || [ -n "$base_checksum" ] || die "--base-image needs --base-checksum" "pass sha256:<hex>, sha512:<hex> or file:<SHA*SUMS URL>"
[ "$base_checksum" != none ] || die "--base-checksum none is refused: an image is only as trustworthy as its base" "pass sha256:<hex>, sha512:<hex> or file:<SHA*SUMS URL>"

case "$KIT_DISTRO-$KIT_ARCH" in
  trixie-amd64) varfile="$here/os/debian-13-amd64.pkrvars.hcl" ;;
  *) die "no VM image recipe for $KIT_DISTRO/$KIT_ARCH" "build for trixie/amd64, or add packer/os/<os>.pkrvars.hcl and its case here" ;;
esac

deb="$deb_arg"
[ -d "$deb" ] && deb="$deb/${KIT_NAME}_${KIT_VERSION}_${KIT_ARCH}.deb"
[ -f "$deb" ] || die "$deb not found" "./kit build deb --distro $KIT_DISTRO (it writes dist/deb/$KIT_DISTRO/$KIT_VERSION/)"
deb="$(cd "$(dirname "$deb")" && pwd)/$(basename "$deb")"

# --- tools ------------------------------------------------------------------------------
command -v packer >/dev/null || die "packer not found" \
  "apt-get install packer (Debian 12 ships 1.6.6, enough), or Packer >= 1.10 from HashiCorp + packer plugins install github.com/hashicorp/qemu"
packer_version="$(packer version 2>/dev/null | head -n1 | sed -n 's/^Packer v\([0-9][0-9.]*\).*/\1/p')"
[ -n "$packer_version" ] || die "cannot read the Packer version ('packer version')" "install a working Packer >= 1.6.6"
if ! printf '1.6.6\n%s\n' "$packer_version" | sort -V -C; then
  die "Packer $packer_version is too old (needs HCL2 + the qemu builder of >= 1.6.6)" "apt-get install packer (1.6.6 on Debian 12) or a current Packer"
fi
if printf '1.10.0\n%s\n' "$packer_version" | sort -V -C && ! packer plugins installed 2>/dev/null | grep -q qemu; then
  die "Packer $packer_version does not bundle the qemu builder" "packer plugins install github.com/hashicorp/qemu"
fi
kit_require_tools qemu-system-x86_64:qemu-system-x86 qemu-img:qemu-utils mkfs.vfat:dosfstools mcopy:mtools \
  ssh-keygen:openssh-client python3:python3
if [ "$accel" = kvm ] && [ ! -w /dev/kvm ]; then
  die "--accel kvm but /dev/kvm is not usable here" "use --accel tcg"
fi

name="$KIT_NAME-$KIT_VERSION-$KIT_DISTRO-$KIT_ARCH"
health_path="$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["kit_service"]["http"]["health"])' "$BUILD_DIR/facts.json" 2>/dev/null)" \
  || die "$BUILD_DIR/facts.json has no kit_service.http.health" "re-render the build dir: ./kit render deb --distro $KIT_DISTRO --version $KIT_VERSION"
health_url="http://127.0.0.1:$KIT_PORT$health_path"
kit_work
packer_pid=""
stop_vm() {
  # Packer stops its VM on success, failure and Ctrl-C; this is the net under it, for when
  # this script is stopped itself: stop Packer (it shuts its VM down), then qemu by pid.
  local pid
  if [ -n "$packer_pid" ] && kill -0 "$packer_pid" 2>/dev/null; then
    echo "stopping packer (pid $packer_pid)" >&2
    kill -TERM "$packer_pid" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 "$packer_pid" 2>/dev/null || break; sleep 1; done
  fi
  pid="$(cat "$work/qemu.pid" 2>/dev/null)" || return 0
  if kill -0 "$pid" 2>/dev/null; then
    echo "stopping the VM (qemu pid $pid)" >&2
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 10); do kill -0 "$pid" 2>/dev/null || return 0; sleep 1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
}
kit_on_exit stop_vm
trap 'exit 130' INT
trap 'exit 143' TERM

# --- (1) the base image -----------------------------------------------------------------
if [ -z "$base_image" ]; then
  step "base image (packer/base/build-base.sh, cached by recipe hash)"
  cmd=(bash "$here/base/build-base.sh" --cache-dir "$cache_dir" --mirror "$mirror" --distro "$KIT_DISTRO")
  show "${cmd[@]}"
  base="$("${cmd[@]}" 2> >(sed 's/^/    /' >&2))" || die "the base image build failed (log above)" "read the failing step; the cache is untouched"
  [ -f "$base" ] || die "base image $base missing after build-base.sh" "rm -rf $cache_dir/vm-base and build again"
  base_image="file://$base"
  base_checksum="sha256:$(sha256sum "$base" | cut -d' ' -f1)"
  echo "  $base_image ($base_checksum)"
elif [ "${base_image#file://}" != "$base_image" ]; then
  # A local base image: check it here, so a wrong path or checksum is one clear line
  # before any VM starts (Packer checks URLs itself).
  path="${base_image#file://}"
  [ -f "$path" ] || die "base image $path not found" \
    "pass an existing qcow2 (--base-image file:///…), or drop --base-image to build the local base"
  case "$base_checksum" in
    sha256:* | sha512:*)
      algo="${base_checksum%%:*}"
      actual="$("${algo}sum" "$path" | cut -d' ' -f1)"
      [ "$actual" = "${base_checksum#*:}" ] || die "checksum mismatch for $path: $algo is $actual, not ${base_checksum#*:}" \
        "pass --base-checksum $algo:$actual if this file is the one you trust, else fetch the image again"
      ;;
  esac
fi

# --- (2) build key + seed ---------------------------------------------------------------
step "throw-away build key + NoCloud seed (user kit-build)"
ssh-keygen -q -t ed25519 -N '' -C "kit-build@$name" -f "$work/build-key"
cmd=(bash "$here/../lib/nocloud-seed.sh" --user kit-build --pubkey "$work/build-key.pub" --hostname debian --out "$work/seed.img")
show "${cmd[@]}"
"${cmd[@]}"

vars=(
  -var-file="$varfile"
  -var "base_image=$base_image" -var "base_checksum=$base_checksum"
  -var "deb=$deb" -var "health_url=$health_url" -var "layer=$KIT_LAYER"
  -var "vm_name=$name.qcow2" -var "output_directory=$work/out"
  -var "reports_directory=$work" -var "accelerator=$accel"
  -var "seed_image=$work/seed.img" -var "ssh_username=kit-build" -var "ssh_private_key_file=$work/build-key"
  -var "serial_log=$work/serial.log" -var "qemu_pidfile=$work/qemu.pid"
)
export PACKER_CACHE_DIR="$work/packer_cache" CHECKPOINT_DISABLE=1

# --- (3) fmt + validate -----------------------------------------------------------------
step "packer fmt -check + packer validate (Packer $packer_version)"
for dir in "$here" "$here/os"; do
  cmd=(packer fmt -check -diff "$dir")
  show "${cmd[@]}"
  "${cmd[@]}" || die "$dir is not in packer fmt's layout (diff above)" "packer fmt $dir"
done
cmd=(packer validate "${vars[@]}" "$here")
show "${cmd[@]}"
"${cmd[@]}" || die "packer validate failed (above)" "fix the template or the variable it names"

# --- (4) build --------------------------------------------------------------------------
step "packer build ($accel; the VM's console goes to $work/serial.log)"
cmd=(packer build -color=false -timestamp-ui "${vars[@]}" "$here")
show "${cmd[@]}"
t=$SECONDS
# qemu's multi-threaded TCG (an SMP guest without KVM) now and then leaves a stale int3
# from the guest kernel's boot-time code patching: "Oops: int3" then "Kernel panic" on the
# console, and the same image boots the next time. Only that failure is retried.
attempts=3 panic='Kernel panic - not syncing'
for attempt in $(seq 1 "$attempts"); do
  rm -rf "$work/out" "$work/serial.log"
  "${cmd[@]}" > >(sed 's/^/    /') 2>&1 &
  packer_pid=$!
  # A panicked guest never answers SSH: stop Packer at once rather than after ssh_timeout.
  while kill -0 "$packer_pid" 2>/dev/null; do
    if grep -qF "$panic" "$work/serial.log" 2>/dev/null; then
      kill -TERM "$packer_pid" 2>/dev/null || true
      break
    fi
    sleep 3
  done
  if wait "$packer_pid"; then
    break
  fi
  packer_pid=""
  if [ "$accel" = tcg ] && [ "$attempt" -lt "$attempts" ] \
    && grep -qF "$panic" "$work/serial.log" 2>/dev/null; then
    echo "  the build VM's kernel panicked while booting (attempt $attempt of $attempts; a known fault of qemu's TCG, not of the image) — building again" >&2
    continue
  fi
  echo "--- last lines of the VM's serial console ---" >&2
  tail -n 25 "$work/serial.log" >&2 2>/dev/null || true
  die "packer build failed (log above)" \
    "read the first error; rerun with PACKER_LOG=1 for qemu's command line (the VM was stopped)"
done
packer_pid=""
echo "  packer build: $((SECONDS - t)) s"

image="$work/out/$name.qcow2"
[ -f "$image" ] || die "packer reported success but $image is missing" "read the packer log above"
if ! qemu-img check "$image" 2>/dev/null | grep -q 'compressed clusters' \
  || qemu-img check "$image" | grep -q ' 0.00% compressed clusters'; then
  step "compress (packer's disk_compression did not)"
  cmd=(qemu-img convert -c -O qcow2 "$image" "$image.c")
  show "${cmd[@]}"
  "${cmd[@]}" && mv "$image.c" "$image"
fi

# --- (5) outputs ------------------------------------------------------------------------
step "outputs into $OUT"
rm -f "$OUT/$name".* "$OUT/packer-manifest.json"
mv "$image" "$OUT/$name.qcow2"
(cd "$OUT" && sha256sum "$name.qcow2" >"$name.qcow2.sha256")
sum="$(cut -d' ' -f1 "$OUT/$name.qcow2.sha256")"
packer_sum="$(cut -f1 -d' ' "$work/out/$name.qcow2.sha256" 2>/dev/null | cut -f1)"
[ "$packer_sum" = "$sum" ] || die "packer's checksum ($packer_sum) differs from the image's ($sum)" "the image changed after packer's checksum post-processor: rebuild"
# Packer's manifest lists the artifact's files (name, size); add each one's sha256.
python3 - "$work/out/packer-manifest.json" "$OUT/packer-manifest.json" "$name.qcow2" "$sum" <<'PY'
import json, sys
src, dest, image, digest = sys.argv[1:]
manifest = json.load(open(src))
for build in manifest["builds"]:
    for f in build.get("files", []):
        if f["name"].endswith(image):
            f["sha256"] = digest
json.dump(manifest, open(dest, "w"), indent=2)
open(dest, "a").write("\n")
PY
cp "$work/packages.tsv" "$OUT/$name.packages.tsv"
cmd=(python3 "$here/../lib/debian-sbom.py" --packages "$OUT/$name.packages.tsv" --image "$OUT/$name.qcow2"
  --name "$KIT_NAME" --version "$KIT_VERSION" --distro "$KIT_DISTRO" --out "$OUT/$name.cdx.json")
show "${cmd[@]}"
"${cmd[@]}"

info="$(qemu-img info --output=json "$OUT/$name.qcow2")"
virtual="$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["virtual-size"] >> 20)' "$info")"
step "done: $OUT/$name.qcow2 — $(( $(stat -c %s "$OUT/$name.qcow2") >> 20 )) MiB on disk, $virtual MiB virtual, $(wc -l <"$OUT/$name.packages.tsv") packages"
