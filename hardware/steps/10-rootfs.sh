#!/usr/bin/env bash
# Step 10: the Pi's Debian root filesystem (arm64), as a tar in the kit's cache — the slow
# part (dpkg and the maintainer scripts run under qemu-user emulation, one core), so it is
# cached by the hash of everything that goes into it and rebuilt only when that changes.
#
# Run by hardware/build.sh; by hand (exact command):
#   bash hardware/steps/10-rootfs.sh --cache-dir /var/cache/kit --mirror http://deb.debian.org/debian --distro trixie
# Prints progress on stderr and ONLY the tar's path on stdout:
#   /var/cache/kit/pi-rootfs/debian-trixie-arm64-<hash>.tar
#
# <hash> covers this script and its two helpers (10-rootfs.native.sh, 10-rootfs.finish.sh),
# hardware/image.conf's package list (PI_PACKAGES) and PI_NATIVE_HELPERS, every file under
# hardware/rootfs/, the distro and the mirror.
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
    printf 'distro=%s\nmirror=%s\npackages=%s\nnative=%s\n' "$distro" "$mirror" "${PI_PACKAGES[*]}" "$PI_NATIVE_HELPERS"
    (cd "$layer" && find steps/10-rootfs.sh steps/10-rootfs.finish.sh steps/10-rootfs.native.sh rootfs -type f -print0 | sort -z | xargs -0 sha256sum)
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

# The distro's interpreter, whose postinsts byte-compile python's standard library.
case "$distro" in
  trixie) python=python3.13 ;;
  *) die "no python3.X known for $distro here" "add the release's python3.X to the case in $0" ;;
esac

# No manual pages, info pages, translations or documentation but the copyright files: an
# appliance is not read on its console, and every file dpkg unpacks is emulated work.
# (dpkg keeps these filters in /etc/dpkg/dpkg.cfg.d/: later package installs skip them too.)
slim=()
for path in /usr/share/man/ /usr/share/info/ /usr/share/locale/ /usr/share/doc/; do
  slim+=("--dpkgopt=path-exclude=$path*")
done
slim+=("--dpkgopt=path-include=/usr/share/doc/*/copyright")

# Native helpers (steps/10-rootfs.native.sh): Debian's amd64 perl, python3.X, depmod and
# systemd-hwdb of the root's own versions, for work whose result does not depend on the
# CPU — the maintainer scripts' perl runs on them and python's postinsts byte-compile with
# them as packages install. Stand-ins while packages install, each undone by
# the finish hook, which runs the real jobs side by side (steps/10-rootfs.finish.sh):
# update-initramfs, depmod and systemd-hwdb → /bin/true. Empty files stand in for
# openssh-server's host keys, so its postinst does not make keys (≈ 40 s emulated) that
# every card would share: the last hooks delete them, and each card makes its own on
# first boot.
native=() # PI_NATIVE_HELPERS=0: none, all emulated
[ "$PI_NATIVE_HELPERS" = 0 ] \
  || native=(--essential-hook="bash $here/10-rootfs.native.sh \"\$1\" $python $distro $mirror")
# shellcheck disable=SC2016  # single quotes on purpose: mmdebstrap's hooks get the root as $1
divert='chroot "$1" dpkg-divert --quiet --local --rename --add'
# shellcheck disable=SC2016  # the same
cmd=(mmdebstrap --mode=root --variant=minbase --architectures=arm64 --format=tar
  --components="main,non-free-firmware"
  --dpkgopt=force-unsafe-io
  "${slim[@]}"
  "${native[@]}"
  --include="$(IFS=,; echo "${PI_PACKAGES[*]}")"
  --essential-hook="$divert /usr/sbin/update-initramfs && ln -s /bin/true \"\$1/usr/sbin/update-initramfs\""
  --essential-hook="$divert /usr/sbin/depmod && ln -s /bin/true \"\$1/usr/sbin/depmod\""
  --essential-hook="$divert /usr/bin/systemd-hwdb && ln -s /bin/true \"\$1/usr/bin/systemd-hwdb\""
  --essential-hook='mkdir -p "$1/etc/ssh" && for t in rsa ecdsa ed25519; do : >"$1/etc/ssh/ssh_host_${t}_key"; done'
  --customize-hook="sync-in $layer/rootfs /"
  --customize-hook="bash $here/10-rootfs.finish.sh \"\$1\" $python '$modules'"
  --customize-hook='chroot "$1" systemctl enable systemd-networkd.service systemd-timesyncd.service'
  --customize-hook='chroot "$1" systemctl disable e2scrub_reap.service || true'
  --customize-hook='rm -f "$1"/etc/ssh/ssh_host_*'
  --customize-hook=': > "$1/etc/machine-id"; rm -f "$1/var/lib/dbus/machine-id"'
  --customize-hook='chroot "$1" passwd --lock root >/dev/null'
  # The --dpkgopt lines stay in the image (dpkg.cfg.d/99mmdebstrap): keep the path
  # filters, drop force-unsafe-io — a card's own dpkg must fsync (power cuts happen).
  --customize-hook='sed -i "/^force-unsafe-io\$/d" "$1/etc/dpkg/dpkg.cfg.d/99mmdebstrap"'
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
