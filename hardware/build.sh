#!/usr/bin/env bash
# The Raspberry Pi SD-card image: Debian 13 arm64, the service's arm64 .deb installed,
# first-boot configuration from the card's FAT partition, no secrets shared between cards.
#
# Build (exact commands; `./kit build hardware` runs the same, after the arm64 .deb):
#   ./kit build deb --arch arm64
#   ./kit render hardware --distro trixie --version 1.0.0
#   bash hardware/build.sh --build-dir .kit/build/hardware/trixie/1.0.0-arm64 \
#     --out dist/hardware/trixie/1.0.0-arm64 --deb dist/deb/trixie/1.0.0-arm64 \
#     --cache-dir /var/cache/kit --mirror http://deb.debian.org/debian
#
# Numbered single-purpose steps (pi-gen style), settings in hardware/image.conf:
#   steps/10-rootfs.sh   Debian arm64 root (mmdebstrap under qemu-user), cached by hash
#   steps/20-service.sh  unpack it, dpkg -i the service's .deb, first-boot files, checks
#   steps/30-image.sh    FAT32 boot + ext4 root → MBR image (no loop devices, no mounts)
#   steps/40-publish.sh  .bmap, .img.xz, .sha256, CycloneDX SBOM
# Each step's time goes to <out>/<stem>.build-times.tsv (and the console).
#
# Output in --out, <stem> = <name>-<version>-<distro>-arm64:
#   <stem>.img.xz  <stem>.bmap  <stem>.sha256   flash these (hardware/README.md)
#   <stem>.img                                  the raw image (the qemu test boots it)
#   <stem>.packages.tsv  <stem>.cdx.json        installed packages, SBOM
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib/build.sh
. "$here/../lib/build.sh"
KIT_USAGE_EXTRA="--deb DIR --cache-dir DIR --mirror URL"
kit_args "$@"
deb_dir="" cache_dir="" mirror=""
set -- "${KIT_EXTRA[@]}"
while [ $# -gt 0 ]; do
  case "$1" in
    --deb) deb_dir="${2:?--deb needs the deb layer out dir}"; shift 2 ;;
    --cache-dir) cache_dir="${2:?--cache-dir needs a directory}"; shift 2 ;;
    --mirror) mirror="${2:?--mirror needs a URL}"; shift 2 ;;
    *) die "unknown argument '$1'" "pass --build-dir DIR --out DIR --deb DIR --cache-dir DIR --mirror URL" ;;
  esac
done
[ -n "$deb_dir" ] && [ -n "$cache_dir" ] && [ -n "$mirror" ] \
  || die "--deb, --cache-dir and --mirror are required" "./kit build hardware passes them (layer.toml)"
[ "$KIT_ARCH" = arm64 ] || die "the build dir is rendered for $KIT_ARCH" \
  "render it for the Pi: ./kit render hardware --arch arm64 (the layer's default)"

# The settings file, checked before the first emulated minute (the steps source it again).
# shellcheck source=hardware/image.conf
. "$here/image.conf" || die "hardware/image.conf does not parse (above)" "fix its shell syntax"
[ "${#PI_PACKAGES[@]}" -gt 0 ] || die "PI_PACKAGES in hardware/image.conf is empty" "list the image's Debian packages (a bash array)"
[[ "$PI_BOOT_MIB" =~ ^[0-9]+$ ]] && [ "$PI_BOOT_MIB" -ge 64 ] \
  || die "PI_BOOT_MIB=$PI_BOOT_MIB in hardware/image.conf is not a size ≥ 64 (MiB)" "firmware, kernel and initrd need ~90 MiB: use 256"
[[ "$PI_ROOT_FREE_MIB" =~ ^[0-9]+$ ]] \
  || die "PI_ROOT_FREE_MIB=$PI_ROOT_FREE_MIB in hardware/image.conf is not a whole number of MiB" "use e.g. 256"
[[ "$PI_XZ_LEVEL" =~ ^[0-9]$ ]] \
  || die "PI_XZ_LEVEL=$PI_XZ_LEVEL in hardware/image.conf is not an xz level 0..9" "use 1 (fast) … 6 (xz's default, smaller)"
[[ "$PI_NATIVE_HELPERS" =~ ^[01]$ ]] \
  || die "PI_NATIVE_HELPERS=$PI_NATIVE_HELPERS in hardware/image.conf is not 0 or 1" "use 1 (native helpers, faster) or 0 (all emulated)"

# Prerequisites first, before any minute is spent: binfmt is the classic breakage.
grep -qs '^enabled' /proc/sys/fs/binfmt_misc/qemu-aarch64 \
  || die "this host cannot run arm64 programs (binfmt entry qemu-aarch64 missing or disabled)" \
    "sudo ./kit doctor --fix (qemu-user-static, binfmt-support; in a container: mount binfmt_misc on the host)"
kit_require_tools mmdebstrap:mmdebstrap arch-test:arch-test sfdisk:fdisk mkfs.vfat:dosfstools \
  mcopy:mtools mkfs.ext4:e2fsprogs bmaptool:bmap-tools xz:xz-utils
[ "$(id -u)" -eq 0 ] || die "the image build needs root (chroot, numeric owners in the tree)" "run it as root: sudo ./kit build hardware"

stem="$KIT_NAME-$KIT_VERSION-$KIT_DISTRO-arm64"
times="$OUT/$stem.build-times.tsv"
printf 'step\tseconds\n' >"$times"
# timed NAME CMD… — run one step, record its duration.
timed() {
  local name="$1" t=$SECONDS
  shift
  "$@"
  printf '%s\t%s\n' "$name" "$((SECONDS - t))" >>"$times"
  echo "  ◀ $name: $((SECONDS - t)) s"
}
# The tree is big (~1 GB): beside the output, not in a small /tmp.
tree="$OUT/.tree"
# --one-file-system: a tree left by an older kit may still hold bind mounts; never delete
# through them (stop on them instead, naming the fix).
kit_on_exit "rm -rf --one-file-system '$tree'"
stale="$(findmnt -rn -o TARGET | grep -F "$tree/" || true)"
[ -z "$stale" ] || die "mounts left under $tree by an earlier build: $(echo "$stale" | tr '\n' ' ')" \
  "unmount them: umount -R ${stale%%$'\n'*} (for each), then build again"
rm -rf --one-file-system "$tree"

step "10 rootfs (cached by recipe hash)"
rootfs_path="$OUT/.rootfs-path"
# shellcheck disable=SC2016  # the inner sh expands its own $1..$5
timed 10-rootfs sh -c 'bash "$1" --cache-dir "$2" --mirror "$3" --distro "$4" >"$5"' \
  sh "$here/steps/10-rootfs.sh" "$cache_dir" "$mirror" "$KIT_DISTRO" "$rootfs_path"
rootfs="$(cat "$rootfs_path")"
rm -f "$rootfs_path"

step "20 service: $deb_dir → the image tree"
timed 20-service bash "$here/steps/20-service.sh" --rootfs "$rootfs" --deb "$deb_dir" \
  --build-dir "$BUILD_DIR" --tree "$tree" --packages "$OUT/$stem.packages.tsv"

step "30 image"
timed 30-image bash "$here/steps/30-image.sh" --tree "$tree" --out "$OUT/$stem.img"
rm -rf --one-file-system "$tree"

step "40 publish"
timed 40-publish bash "$here/steps/40-publish.sh" --image "$OUT/$stem.img" \
  --packages "$OUT/$stem.packages.tsv" --build-dir "$BUILD_DIR"

printf 'total\t%s\n' "$((SECONDS - KIT_T0))" >>"$times"
step "done: $(cd "$OUT" && ls)"
column -t "$times" | sed 's/^/  /'
