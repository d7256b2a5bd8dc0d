#!/usr/bin/env bash
# Step 20: the cached root filesystem + this build's service → the image's tree. Quick on
# purpose (seconds, not minutes): only what changes with the service happens here.
#
# Run by hardware/build.sh; by hand (exact command):
#   bash hardware/steps/20-service.sh --rootfs /var/cache/kit/pi-rootfs/debian-trixie-arm64-<hash>.tar \
#     --deb dist/deb/trixie/1.0.0-arm64 --build-dir .kit/build/hardware/trixie/1.0.0-arm64 --tree DIR \
#     --packages OUT.packages.tsv
#
#   1. unpack the rootfs tar into --tree (numeric owners, xattrs);
#   2. install the service's arm64 .deb with the image's own dpkg (emulated: its postinst
#      compiles the venv's bytecode with the image's python) — dpkg, not apt: its Depends
#      are in the rootfs already (hardware/image.conf), so nothing is resolved or fetched;
#   3. the first-boot files (hardware/firstboot/install.list), enabled with the host's
#      systemctl --root (no emulation);
#   4. the default hostname; then the no-shared-secrets checks: no SSH host key, an empty
#      machine-id, root locked, no apt lists — the build stops if any fails;
#   5. the installed package list (host dpkg-query over the image's dpkg database).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
layer="$(dirname "$here")"
# shellcheck source=lib/build.sh
. "$layer/../lib/build.sh"
# shellcheck source=hardware/image.conf
. "$layer/image.conf"

rootfs="" deb_dir="" tree="" packages="" build_dir=""
while [ $# -gt 0 ]; do
  case "$1" in
    --rootfs) rootfs="${2:?}"; shift 2 ;;
    --deb) deb_dir="${2:?}"; shift 2 ;;
    --tree) tree="${2:?}"; shift 2 ;;
    --packages) packages="${2:?}"; shift 2 ;;
    --build-dir) build_dir="${2:?}"; shift 2 ;;
    *) die "unknown argument '$1'" "use --rootfs TAR --deb DIR --build-dir DIR --tree DIR --packages FILE" ;;
  esac
done
[ -f "$rootfs" ] && [ -d "$deb_dir" ] && [ -n "$tree" ] && [ -n "$packages" ] && [ -f "$build_dir/kit.env" ] \
  || die "missing or wrong arguments" "use --rootfs TAR --deb DIR --build-dir DIR --tree DIR --packages FILE"
# shellcheck source=/dev/null
. "$build_dir/kit.env"
debs=("$deb_dir/${KIT_NAME}_${KIT_VERSION}_arm64.deb")
[ -f "${debs[0]}" ] || die "no ${KIT_NAME}_${KIT_VERSION}_arm64.deb in $deb_dir" \
  "build it: ./kit build deb --arch arm64 --version $KIT_VERSION"

t=$SECONDS
step "unpack $(basename "$rootfs") into the image tree"
mkdir -p "$tree"
cmd=(tar -C "$tree" --numeric-owner --xattrs --xattrs-include='*' -xpf "$rootfs")
show "${cmd[@]}"
"${cmd[@]}"
echo "  ($((SECONDS - t)) s)"

# The service's fixed ids (kit.toml uid/gid) must be free in the image: the OS packages'
# own system users (made dynamically, counting down from 999) would otherwise hold them.
taken_uid="$(awk -F: -v id="$KIT_UID" '$3 == id && $1 != user { print $1 }' user="$KIT_USER" "$tree/etc/passwd")"
taken_gid="$(awk -F: -v id="$KIT_GID" '$3 == id && $1 != user { print $1 }' user="$KIT_USER" "$tree/etc/group")"
[ -z "$taken_uid$taken_gid" ] || die "uid $KIT_UID / gid $KIT_GID of kit.toml are taken in the image (user '${taken_uid:--}', group '${taken_gid:--}')" \
  "pick ids for the service in kit.toml that the image's packages do not use (free ones: see etc/passwd of $rootfs)"

t=$SECONDS
step "dpkg -i $(basename "${debs[0]}") in the image (emulated arm64)"
cp "${debs[0]}" "$tree/tmp/"
# --force-unsafe-io: no fsync per file, the tree becomes an image file (the card's own
# dpkg keeps its fsyncs: step 10 leaves the option out of the image's dpkg config).
# The chroot's /proc, /sys and /dev live in a private mount namespace: they end with the
# command, even when the build is killed, so none can outlast it on the host (where a
# later walk or rm -rf of the tree would enter them).
# shellcheck disable=SC2016  # the inner sh expands its own $1
cmd=(unshare --mount --propagation private sh -ec 'tree="$1"; shift
  mount -t proc proc "$tree/proc"; mount --rbind /sys "$tree/sys"; mount --rbind /dev "$tree/dev"
  exec chroot "$tree" "$@"' sh "$tree" env DEBIAN_FRONTEND=noninteractive dpkg --force-unsafe-io -i "/tmp/$(basename "${debs[0]}")")
show "${cmd[@]}"
"${cmd[@]}" 2>&1 | sed 's/^/    /' || die "the service's .deb did not install into the image (dpkg above)" \
  "its Depends must be in hardware/image.conf's PI_PACKAGES (the image installs with dpkg, offline)"
rm -f "$tree/tmp/$(basename "${debs[0]}")"
echo "  ($((SECONDS - t)) s)"

t=$SECONDS
step "first-boot files (hardware/firstboot/install.list)"
while read -r src dest mode; do
  case "$src" in ''|'#'*) continue ;; esac
  [ -f "$layer/firstboot/$src" ] || die "hardware/firstboot/$src (named in install.list) is missing" "restore it or drop its line"
  install -D -m "$mode" "$layer/firstboot/$src" "$tree$dest"
  echo "  $dest ($mode)"
done <"$layer/firstboot/install.list"
units=()
for u in "$layer"/firstboot/*.service; do units+=("$(basename "$u")"); done
cmd=(systemctl --root="$tree" enable "${units[@]}")
show "${cmd[@]}"
"${cmd[@]}" 2>&1 | sed 's/^/    /'

# The image, not the package it was baked from, is the layer the service reports; and a
# Pi (unlike the container targets) has user namespaces, so the service also runs in
# its own — the step the deb layer leaves to real hosts (packer/scripts/20-harden.sh does
# the same for the VM image). A drop-in under /etc survives package upgrades.
install -d -m 0755 "$tree/etc/systemd/system/$KIT_NAME.service.d"
cat >"$tree/etc/systemd/system/$KIT_NAME.service.d/50-pi-image.conf" <<UNIT
# kit Pi image (hardware/steps/20-service.sh)
[Service]
PrivateUsers=yes
Environment=KIT_LAYER=$KIT_LAYER
UNIT
echo "  /etc/systemd/system/$KIT_NAME.service.d/50-pi-image.conf (PrivateUsers, KIT_LAYER)"

hostname="${PI_DEFAULT_HOSTNAME:-$KIT_NAME}"
echo "$hostname" >"$tree/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\tlocalhost ip6-localhost ip6-loopback\n' "$hostname" >"$tree/etc/hosts"
rm -rf "$tree"/var/lib/apt/lists/* "$tree"/var/cache/apt/*.bin "$tree"/var/cache/debconf/*-old
echo "  ($((SECONDS - t)) s)"

step "no shared secrets: host keys, machine-id, root password"
found="$(find "$tree/etc/ssh" -name 'ssh_host_*' | head -3)"
[ -z "$found" ] || die "the image carries SSH host keys ($found)" \
  "a package made them at install time: remove them in hardware/steps/20-service.sh (every card would share them)"
[ ! -s "$tree/etc/machine-id" ] || die "/etc/machine-id is not empty in the image" \
  "empty it (: > /etc/machine-id): each card makes its own on first boot"
root_pw="$(awk -F: '$1 == "root" { print $2 }' "$tree/etc/shadow")"
case "$root_pw" in '!'*|'*'*) ;; *) die "root has a usable password in the image" "passwd --lock root in the rootfs step" ;; esac
awk -F: '$2 !~ /^[!*]/ { bad = bad " " $1 } END { if (bad) { print "  users with a password:" bad; exit 1 } }' \
  "$tree/etc/shadow" || die "an account in the image has a password" "lock it (passwd --lock): logins are key-only"
echo "  no host keys, empty machine-id, every password locked"
! grep -rqs '^force-unsafe-io' "$tree/etc/dpkg/dpkg.cfg.d/" || die "the image's dpkg config skips fsync (force-unsafe-io in /etc/dpkg/dpkg.cfg.d/)" \
  "leave it to the build's own dpkg calls (hardware/steps/10-rootfs.sh): a card that loses power during an upgrade would keep half-written files"
# The rootfs build's amd64 helpers, their links and its stand-ins (a diverted program
# keeps its real binary as *.distrib) are the build's, never the card's.
left="$({ for f in .kit-native lib64 usr/lib64 usr/lib/x86_64-linux-gnu; do
    [ ! -e "$tree/$f" ] && [ ! -L "$tree/$f" ] || echo "$tree/$f"
  done
  find "$tree/usr/bin" "$tree/usr/sbin" -maxdepth 1 -name '*.distrib'; } | head -3)"
[ -z "$left" ] || die "the image holds the rootfs build's helpers or stand-ins: ${left//$tree/}" \
  "hardware/steps/10-rootfs.finish.sh removes them: fix it, then rebuild the rootfs (delete its tar in <cache_dir>/pi-rootfs/)"
echo "  no build-time helpers or stand-ins left"

step "installed package list → $(basename "$packages")"
dpkg-query --admindir="$tree/var/lib/dpkg" -W \
  -f='${db:Status-Abbrev}\t${binary:Package}\t${Version}\t${Architecture}\t${source:Package}\t${source:Version}\n' \
  | awk -F'\t' '$1 ~ /^ii/ { sub(/:.*/, "", $2); print $2 "\t" $3 "\t" $4 "\t" $5 "\t" $6 }' \
  | LC_ALL=C sort >"$packages"
echo "  $(wc -l <"$packages") packages"
