#!/usr/bin/env bash
# The local base VM image: a minimal, bootable Debian qcow2 with cloud-init (NoCloud), the
# offline stand-in for the official Debian cloud image that Packer starts from by default
# (no cloud image can be downloaded on an offline build machine).
#
# Build (exact command; packer/build.sh runs it):
#   bash packer/base/build-base.sh --cache-dir /var/cache/kit --mirror http://deb.debian.org/debian
# Prints progress on stderr and ONLY the image's path on stdout:
#   /var/cache/kit/vm-base/debian-trixie-amd64-<hash>.qcow2
#
# Cached by content: <hash> covers this script, every file under packer/base/files/, the
# distro and the mirror — change any of them and the next run builds a new image; an
# unchanged recipe is a cache hit (no root needed then). A cold build needs root (loop
# devices, mount, chroot) and mmdebstrap, sfdisk, partx, mkfs.ext4, qemu-img.
#
# What is in it (and why):
#   - Debian <distro> minbase + linux-image-cloud-amd64 (small, virtio) + grub-pc (BIOS;
#     kernel + systemd on ttyS0), systemd-networkd DHCP on en*/eth*, openssh-server, sudo;
#   - python3 + systemd: what the kit's .deb depends on (its Depends: systemd, libc6,
#     python3.X), so Packer installs it with no network;
#   - cloud-init, NoCloud only (files/etc/cloud/cloud.cfg.d/90-kit-vm.cfg): the same seed
#     (a disk labelled CIDATA with user-data + meta-data) works here and on the official
#     Debian cloud image; cloud-guest-utils so the root partition grows to the disk;
#   - root=UUID=…; the hostname resolves through nss-myhostname (sudo wants it), whatever
#     the seed names it; NO SSH host keys (made on first boot: cloud-init, or
#     files/etc/systemd/system/ssh-hostkeys.service — Debian's sshd-keygen.service only
#     runs on a systemd "first boot", which an empty machine-id is not), an EMPTY
#     /etc/machine-id (made on each boot until written), no apt lists or caches, root locked;
#   - boot time matters under emulation: a MODULES=list initramfs without udev's hwdb,
#     grub-common.service (GRUB's recordfail) and e2scrub_reap.service (LVM) disabled.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib/build.sh
. "$here/../../lib/build.sh"
exec 3>&1 1>&2 # progress to stderr; stdout carries only the image path
args=("$@")

cache_dir=""
mirror=""
distro="trixie"
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

# The recipe. Anything added here changes the hash (this file is part of it).
disk_size=2G
packages=(
  linux-image-cloud-amd64 grub-pc initramfs-tools zstd
  systemd systemd-sysv udev dbus kmod e2fsprogs fdisk iproute2 procps
  openssh-server sudo libnss-myhostname
  python3
  cloud-init cloud-guest-utils
)

hash="$(
  {
    printf 'distro=%s\nmirror=%s\n' "$distro" "$mirror"
    (cd "$here" && find build-base.sh files -type f -print0 | sort -z | xargs -0 sha256sum)
  } | sha256sum | cut -c1-16
)"
store="$cache_dir/vm-base"
image="$store/debian-$distro-amd64-$hash.qcow2"
if [ -f "$image" ]; then
  step "base image cached (recipe hash $hash): $image"
  echo "$image" >&3
  exit 0
fi

[ "$(id -u)" -eq 0 ] || die "building the base image needs root (loop devices, mount, chroot)" \
  "run as root (sudo), or copy a built $image from another machine"
kit_require_tools mmdebstrap:mmdebstrap sfdisk:fdisk partx:util-linux losetup:mount \
  mkfs.ext4:e2fsprogs qemu-img:qemu-utils
# Every mount of this build lives in its own mount namespace. A process that makes a
# namespace of its own while the root partition is mounted here (the Pi image's
# `unshare --mount` dpkg step, run beside this in CI) gets a private copy of that mount,
# which no umount here reaches: e2fsck then found ${loop}p1 "in use". In a namespace of
# ours, nobody else's copy has it, and the mounts end with the build even when it is killed.
if [ -z "${KIT_BASE_MOUNT_NS:-}" ]; then
  kit_require_tools unshare:util-linux
  KIT_BASE_MOUNT_NS=1 exec unshare --mount --propagation private \
    bash "$here/build-base.sh" "${args[@]}" >&3 3>&-
fi
step "base image $image: building (recipe hash $hash)"
mkdir -p "$store" || die "cannot create $store" "check the cache dir path and free disk space"
kit_work
raw="$work/disk.raw"
mnt="$work/mnt"
loop=""
unmount() {
  for m in dev/pts dev proc sys ""; do
    if mountpoint -q "$mnt/$m" 2>/dev/null; then umount "$mnt/$m"; fi
  done
}
detach() {
  unmount || true
  [ -z "$loop" ] || losetup -d "$loop" 2>/dev/null || true
}
kit_on_exit detach
trap 'exit 130' INT # so the EXIT trap unmounts and frees the loop device
trap 'exit 143' TERM

t=$SECONDS
step "raw disk ($disk_size, one bootable partition from 1 MiB)"
cmd=(truncate -s "$disk_size" "$raw")
show "${cmd[@]}"
"${cmd[@]}"
show sfdisk -q "$raw" "<<< 'label: dos / start=1MiB, type=83, bootable'"
printf 'label: dos\nstart=1MiB, type=83, bootable\n' | sfdisk -q "$raw"
loop="$(losetup -f --show -P "$raw")" || die "no free loop device" "losetup -D to release stale ones, or modprobe loop"
show losetup -f --show -P "$raw"
partx -a "$loop" 2>/dev/null || true # no udev here: make ${loop}p1 ourselves
[ -b "${loop}p1" ] || die "${loop}p1 did not appear" "check that partx works (util-linux) and loop devices support partitions"
cmd=(mkfs.ext4 -q -L root "${loop}p1")
show "${cmd[@]}"
"${cmd[@]}"
uuid="$(blkid -s UUID -o value "${loop}p1")"
mkdir -p "$mnt"
mount "${loop}p1" "$mnt"
rmdir "$mnt/lost+found" # mmdebstrap wants an empty directory; mklost+found puts it back
echo "  ($((SECONDS - t)) s)"

t=$SECONDS
step "mmdebstrap $distro into the root partition (${packages[*]})"
# update-initramfs is diverted to /bin/true while packages install (the kernel's postinst
# and initramfs-tools' trigger would each build a MODULES=most initramfs), then run once
# with files/etc/initramfs-tools (MODULES=list: virtio + ext4).
# shellcheck disable=SC2016  # single quotes on purpose: mmdebstrap's hooks get the root as $1
cmd=(mmdebstrap --mode=root --variant=minbase --format=directory
  --dpkgopt=force-unsafe-io
  --include="$(IFS=,; echo "${packages[*]}")"
  --essential-hook='chroot "$1" dpkg-divert --quiet --local --rename --add /usr/sbin/update-initramfs && ln -s /bin/true "$1/usr/sbin/update-initramfs"'
  --customize-hook="sync-in $here/files /"
  --customize-hook='rm "$1/usr/sbin/update-initramfs" && chroot "$1" dpkg-divert --quiet --local --rename --remove /usr/sbin/update-initramfs'
  --customize-hook='chroot "$1" update-initramfs -c -k all'
  --customize-hook='chroot "$1" systemctl enable systemd-networkd.service ssh-hostkeys.service'
  --customize-hook='chroot "$1" systemctl disable grub-common.service e2scrub_reap.service'
  --customize-hook='echo debian > "$1/etc/hostname" && printf "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n" > "$1/etc/hosts"'
  --customize-hook='rm -f "$1"/etc/ssh/ssh_host_*'
  --customize-hook=': > "$1/etc/machine-id"; rm -f "$1/var/lib/dbus/machine-id"'
  # --dpkgopt lines stay in the image (dpkg.cfg.d/99mmdebstrap): a machine's own dpkg
  # must fsync (power cuts, hard resets), so force-unsafe-io goes.
  --customize-hook='sed -i "/^force-unsafe-io\$/d" "$1/etc/dpkg/dpkg.cfg.d/99mmdebstrap"'
  "$distro" "$mnt" "$mirror")
show "${cmd[@]}"
"${cmd[@]}" || die "mmdebstrap failed (log above)" "check that $mirror is reachable (plain HTTP) and the packages exist in $distro"
(cd "$mnt" && mklost+found >/dev/null)
echo "  ($((SECONDS - t)) s)"

t=$SECONDS
step "fstab, grub-pc on the disk, root=UUID=$uuid"
printf 'UUID=%s\t/\text4\terrors=remount-ro\t0\t1\n' "$uuid" >"$mnt/etc/fstab"
for m in dev dev/pts proc sys; do mount --bind "/$m" "$mnt/$m"; done
cmd=(chroot "$mnt" grub-install --target=i386-pc "$loop")
show "${cmd[@]}"
"${cmd[@]}" 2>&1 | sed 's/^/    /'
cmd=(chroot "$mnt" grub-mkconfig -o /boot/grub/grub.cfg)
show "${cmd[@]}"
"${cmd[@]}" 2>&1 | sed 's/^/    /'
# No udev in the build chroot, so grub-mkconfig wrote root=/dev/loopNp1: name the
# filesystem instead (update-grub inside the VM writes UUIDs by itself).
sed -i "s|root=${loop}p1|root=UUID=$uuid|g" "$mnt/boot/grub/grub.cfg"
grep -q "root=UUID=$uuid" "$mnt/boot/grub/grub.cfg" \
  || die "grub.cfg does not boot root=UUID=$uuid" "read $mnt/boot/grub/grub.cfg; grub-mkconfig's 10_linux changed"
! grep -q "$loop" "$mnt/boot/grub/grub.cfg" \
  || die "grub.cfg still names $loop" "read the grub.cfg grub-mkconfig wrote"
echo "  ($((SECONDS - t)) s)"

step "used: $(df -B1M --output=used "$mnt" | tail -1 | tr -d ' ') MiB of $disk_size; trim, unmount, fsck"
# The packages mmdebstrap downloaded into the root and deleted again still fill blocks:
# TRIM through the loop device punches them out of the raw file, so the qcow2 skips them.
cmd=(fstrim "$mnt")
show "${cmd[@]}"
"${cmd[@]}"
unmount
cmd=(e2fsck -fp "${loop}p1")
show "${cmd[@]}"
if ! "${cmd[@]}" 2>&1 | sed 's/^/    /'; then
  # Name who still holds the partition: a mount of it in some process's namespace.
  dev="$(lsblk -dno MAJ:MIN "${loop}p1" 2>/dev/null | tr -d ' ')" || true
  holders=""
  [ -z "$dev" ] || holders="$(grep -l " $dev " /proc/[0-9]*/mountinfo 2>/dev/null | cut -d/ -f3 | xargs)"
  die "e2fsck ${loop}p1 failed${holders:+ (still mounted in the namespace of pid $holders)}" \
    "read e2fsck's lines above; a pid named here holds the mount: let it finish (or kill it) and build again"
fi
losetup -d "$loop"
loop=""

t=$SECONDS
# Not compressed: this is a cache entry, read by every build (compressed clusters cost
# CPU on each read under emulation, and zlib would add ~25 s here). Packer's output is.
step "qcow2"
cmd=(qemu-img convert -O qcow2 "$raw" "$image.partial")
show "${cmd[@]}"
"${cmd[@]}" || { rm -f "$image.partial"; die "qemu-img convert failed" "free disk space under $store"; }
mv "$image.partial" "$image" # only a complete image carries the final name
echo "  ($((SECONDS - t)) s)"
for old in "$store"/debian-"$distro"-amd64-*.qcow2; do
  [ "$old" = "$image" ] || { echo "  removing the previous recipe's image $old"; rm -f "$old"; }
done
step "done: $image ($(du -h "$image" | cut -f1) on disk)"
echo "$image" >&3
