#!/usr/bin/env bash
# A cloud-init NoCloud seed: a small vfat disk labelled CIDATA holding user-data and
# meta-data — the first-boot key mechanism of the kit's VM images (and of the official
# Debian cloud images). No mount, no root: mkfs.vfat + mcopy.
#
#   bash lib/nocloud-seed.sh --user kit --pubkey ~/.ssh/id_ed25519.pub --out seed.img
#   qemu-system-x86_64 … -drive file=seed.img,if=virtio,format=raw,readonly=on
#
# Options: --user NAME (passwordless sudo, key-only login), --pubkey FILE (its
# authorized_keys), --hostname NAME (default vm), --instance-id ID (default a fresh
# random one: cloud-init treats each new id as a new machine), --out FILE.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib/build.sh
. "$here/build.sh"

user=""
pubkey=""
host="vm"
instance=""
out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --user) user="${2:?}"; shift 2 ;;
    --pubkey) pubkey="${2:?}"; shift 2 ;;
    --hostname) host="${2:?}"; shift 2 ;;
    --instance-id) instance="${2:?}"; shift 2 ;;
    --out) out="${2:?}"; shift 2 ;;
    *) die "unknown argument '$1'" "use --user NAME --pubkey FILE --out FILE [--hostname NAME] [--instance-id ID]" ;;
  esac
done
[ -n "$user" ] && [ -n "$pubkey" ] && [ -n "$out" ] \
  || die "--user, --pubkey and --out are required" "e.g. --user kit --pubkey key.pub --out seed.img"
[[ "$user" =~ ^[a-z_][a-z0-9_-]*$ ]] || die "user name '$user' is not a valid login" "use lower-case letters, digits, - and _"
[[ "$host" =~ ^[a-zA-Z0-9][a-zA-Z0-9-]*$ ]] || die "hostname '$host' is not valid" "use letters, digits and -"
[ -s "$pubkey" ] || die "public key $pubkey not found or empty" "ssh-keygen -t ed25519 -N '' -f key"
kit_require_tools mkfs.vfat:dosfstools mcopy:mtools
[ -n "$instance" ] || instance="kit-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"

kit_work
key="$(head -n1 "$pubkey")"
cat >"$work/user-data" <<USERDATA
#cloud-config
users:
  - name: $user
    shell: /bin/bash
    lock_passwd: true
    sudo: "ALL=(ALL) NOPASSWD:ALL"
    ssh_authorized_keys:
      - $key
USERDATA
printf 'instance-id: %s\nlocal-hostname: %s\n' "$instance" "$host" >"$work/meta-data"

rm -f "$out"
mkfs.vfat -n CIDATA -C "$out" 1024 >/dev/null || die "mkfs.vfat failed" "check that $(dirname "$out") is writable"
mcopy -oi "$out" "$work/user-data" "$work/meta-data" :: || die "mcopy failed" "check mtools"
