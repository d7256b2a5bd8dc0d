#!/usr/bin/env bash
# Step 10: the Pi's Debian root filesystem (arm64), as a tar in the kit's cache — the slow
# part (every maintainer script runs under qemu-user emulation, one core), so it is cached
# by the hash of everything that goes into it and rebuilt only when that changes.
#
# Run by hardware/build.sh; by hand (exact command):
#   bash hardware/steps/10-rootfs.sh --cache-dir /var/cache/kit --mirror http://deb.debian.org/debian --distro trixie
# Prints progress on stderr and ONLY the tar's path on stdout:
#   /var/cache/kit/pi-rootfs/debian-trixie-arm64-<hash>.tar
#
# <hash> covers this script, hardware/image.conf's package list (PI_PACKAGES) and every
# file under hardware/rootfs/, the distro and the mirror.
#
# What the root holds (and why):
#   - minbase + PI_PACKAGES: raspi-firmware (GPU firmware, config.txt/cmdline.txt hooks) and
#     linux-image-arm64 (Debian's kernel with the Pi 3/4 device trees), systemd, networkd,
#     openssh-server, python3 (the .deb's interpreter), Wi-Fi (wpasupplicant + Broadcom
#     firmware from non-free-firmware), the tools the first boot uses (sfdisk, resize2fs);
#   - ONE initramfs, built at the end with MODULES=list (hardware/rootfs/etc/initramfs-tools):
#     update-initramfs is diverted to /bin/true while packages install — the kernel's
#     postinst and raspi-firmware's trigger would each build a MODULES=most one (the
#     biggest single cost of an emulated bootstrap);
#   - root locked, no SSH host keys, an empty /etc/machine-id, no apt lists: nothing any
#     two cards must not share (hardware/steps/20-service.sh checks it again at the end).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
layer="$(dirname "$here")"
# shellcheck source=lib/build.sh
. "$layer/../lib/build.sh"
# shellcheck source=hardware/image.conf
. "$layer/image.conf"
exec 3>&1 1>&2 # progress to stderr; stdout carries only the tar's path

cache_dir="" mirror="" distro="trixie"
while [ $# -gt 0 ]; do
  case "$1" in
    --cache-dir) cache_dir="${2:?--cache-dir needs a directory}"; shift 2 ;;
    --mirror) mirror="${2:?--mirror needs a URL}"; shift 2 ;;
    --distro) distro="${2:?--distro needs a release name}"; shift 2 ;;
    *) die "unknown argument '$1'" "use --cache-dir DIR --mirror URL [--distro trixie]" ;;
  esac
done
[ -n "$cache_dir" ] && [ -n "$mirror" ] \
  || die "--cache-dir and --mirror are required" "pass kit.toml's [kit] cache_dir and [targets] mirror"

hash="$(
  {
    printf 'distro=%s\nmirror=%s\npackages=%s\n' "$distro" "$mirror" "${PI_PACKAGES[*]}"
    (cd "$layer" && find steps/10-rootfs.sh rootfs -type f -print0 | sort -z | xargs -0 sha256sum)
    (cd "$layer" && find rootfs -printf '%p %m\n' | LC_ALL=C sort)
  } | sha256sum | cut -c1-16
)"
store="$cache_dir/pi-rootfs"
tar="$store/debian-$distro-arm64-$hash.tar"
if [ -f "$tar" ]; then
  step "rootfs cached (recipe hash $hash): $tar"
  echo "$tar" >&3
  exit 0
fi

step "rootfs $tar: building (recipe hash $hash; minutes: emulated arm64)"
[ "$(id -u)" -eq 0 ] || die "bootstrapping the arm64 root needs root" \
  "run as root (sudo ./kit build hardware), or copy a built $tar from another machine"
kit_require_tools mmdebstrap:mmdebstrap arch-test:arch-test
mkdir -p "$store" || die "cannot create $store" "check the cache dir path and free disk space"

# The initramfs modules that must land in the initrd (checked after mkinitramfs).
modules="$(grep -v '^#' "$layer/rootfs/etc/initramfs-tools/modules" | tr '\n' ' ')"

# shellcheck disable=SC2016  # single quotes on purpose: mmdebstrap's hooks get the root as $1
cmd=(mmdebstrap --mode=root --variant=minbase --architectures=arm64 --format=tar
  --components="main,non-free-firmware"
  --dpkgopt=force-unsafe-io
  --include="$(IFS=,; echo "${PI_PACKAGES[*]}")"
  --essential-hook='chroot "$1" dpkg-divert --quiet --local --rename --add /usr/sbin/update-initramfs && ln -s /bin/true "$1/usr/sbin/update-initramfs"'
  --customize-hook="sync-in $layer/rootfs /"
  --customize-hook='rm "$1/usr/sbin/update-initramfs" && chroot "$1" dpkg-divert --quiet --local --rename --remove /usr/sbin/update-initramfs'
  --customize-hook='t=$(date +%s); chroot "$1" update-initramfs -c -k all && echo "  mkinitramfs: $(( $(date +%s) - t )) s"'
  # raspi-firmware's kernel hook ran while /etc/default/raspi-firmware was still the
  # package default: run it again so cmdline.txt names LABEL=RASPIROOT.
  --customize-hook='for k in "$1"/lib/modules/*; do chroot "$1" /etc/kernel/postinst.d/z50-raspi-firmware "$(basename "$k")"; done'
  --customize-hook='chroot "$1" sh -c "lsinitramfs /boot/initrd.img-*" | tr - _ >"$1/tmp/initrd.list"; for m in '"$modules"'; do m=$(echo "$m" | tr - _); grep -q "/$m.ko" "$1/tmp/initrd.list" || { echo "initramfs lacks module $m (hardware/rootfs/etc/initramfs-tools/modules)" >&2; exit 1; }; done; rm "$1/tmp/initrd.list"'
  --customize-hook='chroot "$1" systemctl enable systemd-networkd.service systemd-timesyncd.service'
  --customize-hook='chroot "$1" systemctl disable e2scrub_reap.service || true'
  --customize-hook='rm -f "$1"/etc/ssh/ssh_host_*'
  --customize-hook=': > "$1/etc/machine-id"; rm -f "$1/var/lib/dbus/machine-id"'
  --customize-hook='chroot "$1" passwd --lock root >/dev/null'
  "$distro" "$tar.partial" "$mirror")
show "${cmd[@]}"
t=$SECONDS
"${cmd[@]}" || { rm -f "$tar.partial"; die "mmdebstrap failed (log above)" \
  "check that $mirror is reachable (plain HTTP), binfmt runs arm64 (./kit doctor) and the packages exist in $distro"; }
mv "$tar.partial" "$tar" # only a complete tar carries the final name
echo "  mmdebstrap: $((SECONDS - t)) s"
for old in "$store"/debian-"$distro"-arm64-*.tar; do
  [ "$old" = "$tar" ] || { echo "  removing the previous recipe's rootfs $old"; rm -f "$old"; }
done
step "done: $tar ($(du -h "$tar" | cut -f1))"
echo "$tar" >&3
