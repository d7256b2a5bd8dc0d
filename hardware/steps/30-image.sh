#!/usr/bin/env bash
# Step 30: the image tree → a partitioned SD-card image, without loop devices or mounts:
# a FAT32 boot partition (RASPIFIRM: what the Pi's firmware reads — config.txt,
# cmdline.txt, the kernel, initrd, device trees, GPU firmware) filled with mcopy, an ext4
# root (RASPIROOT) made with mkfs.ext4 -d from the tree, both dd'd into an MBR image.
# The root is sized to its content + PI_ROOT_FREE_MIB; the first boot grows it to the card.
#
# Run by hardware/build.sh; by hand (exact command):
#   bash hardware/steps/30-image.sh --tree DIR --out sample-service-1.0.0-trixie-arm64.img
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
layer="$(dirname "$here")"
# shellcheck source=lib/build.sh
. "$layer/../lib/build.sh"
# shellcheck source=hardware/image.conf
. "$layer/image.conf"

tree="" out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --tree) tree="${2:?}"; shift 2 ;;
    --out) out="${2:?}"; shift 2 ;;
    *) die "unknown argument '$1'" "use --tree DIR --out FILE.img" ;;
  esac
done
[ -d "$tree/boot/firmware" ] && [ -n "$out" ] \
  || die "--tree must be an image tree with boot/firmware/ (hardware/steps/20-service.sh)" "use --tree DIR --out FILE.img"
kit_require_tools sfdisk:fdisk mkfs.vfat:dosfstools mcopy:mtools mkfs.ext4:e2fsprogs
fw="$tree/boot/firmware"
for f in config.txt cmdline.txt; do
  [ -s "$fw/$f" ] || die "boot/firmware/$f is missing from the tree" \
    "raspi-firmware's hooks write it when the kernel is installed (hardware/steps/10-rootfs.sh)"
done
# What the Pi's firmware loads: config.txt's kernel= and initramfs lines.
kernel="$(sed -n 's/^kernel=\([^ #]*\).*/\1/p' "$fw/config.txt" | tail -1)"
initrd="$(sed -n 's/^initramfs \([^ #]*\).*/\1/p' "$fw/config.txt" | tail -1)"
for f in "$kernel" "$initrd"; do
  [ -n "$f" ] && [ -s "$fw/$f" ] || die "config.txt names kernel '$kernel' and initramfs '$initrd'; '${f:-?}' is not in boot/firmware" \
    "raspi-firmware's hooks copy them when the kernel and the initramfs are made (hardware/steps/10-rootfs.sh)"
done
echo "  config.txt loads $kernel + $initrd"
dtbs="$(find "$tree/boot/firmware" -maxdepth 1 -name 'bcm27*.dtb' -printf '%f ')"
[ -n "$dtbs" ] || die "no Raspberry Pi device tree (bcm27*.dtb) in boot/firmware" "check raspi-firmware's kernel hook"
echo "  boot partition: $(du -sm "$tree/boot/firmware" | cut -f1) MiB; device trees: $dtbs"
echo "  cmdline.txt: $(cat "$tree/boot/firmware/cmdline.txt")"
grep -q 'root=LABEL=RASPIROOT' "$tree/boot/firmware/cmdline.txt" \
  || die "cmdline.txt does not boot root=LABEL=RASPIROOT" "set ROOTPART in hardware/rootfs/etc/default/raspi-firmware"

scratch="$(dirname "$out")/.parts"
mkdir -p "$scratch"
kit_on_exit "rm -rf '$scratch'"

t=$SECONDS
step "FAT32 boot partition RASPIFIRM (${PI_BOOT_MIB} MiB)"
boot="$scratch/boot.vfat"
cmd=(mkfs.vfat -F 32 -n RASPIFIRM -C "$boot" $((PI_BOOT_MIB * 1024)))
show "${cmd[@]}"
"${cmd[@]}" >/dev/null
show mcopy -s -p -m -i "$boot" "$tree/boot/firmware/*" ::
for entry in "$tree"/boot/firmware/*; do mcopy -s -p -m -i "$boot" "$entry" ::; done
find "$tree/boot/firmware" -mindepth 1 -delete # the root carries an empty mount point
echo "  ($((SECONDS - t)) s)"

t=$SECONDS
used_mib=$(du -sm --apparent-size "$tree" | cut -f1)
inodes=$(find "$tree" -xdev | wc -l)
# ext4 metadata (inode tables, journal) on top of the content, then the free space.
root_mib=$((used_mib + used_mib / 10 + 64 + PI_ROOT_FREE_MIB))
step "ext4 root partition RASPIROOT: ${used_mib} MiB of files, $inodes inodes → ${root_mib} MiB"
root="$scratch/root.ext4"
cmd=(mkfs.ext4 -q -L RASPIROOT -N $((inodes + inodes / 2 + 8192)) -d "$tree" "$root" "${root_mib}M")
show "${cmd[@]}"
"${cmd[@]}" || die "mkfs.ext4 -d failed (above)" "free disk space next to $out"
echo "  ($((SECONDS - t)) s)"

t=$SECONDS
start_boot=4  # MiB; the firmware wants the FAT partition first, aligned
start_root=$((start_boot + PI_BOOT_MIB))
total=$((start_root + root_mib))
step "MBR image: p1 FAT32-LBA @${start_boot} MiB, p2 Linux @${start_root} MiB, ${total} MiB"
rm -f "$out"
truncate -s "${total}M" "$out"
show sfdisk -q "$out" "<<< 'label: dos / p1 type=c size=${PI_BOOT_MIB}MiB / p2 type=83 rest'"
printf 'label: dos\nunit: sectors\nstart=%s, size=%s, type=c, bootable\nstart=%s, type=83\n' \
  $((start_boot * 2048)) $((PI_BOOT_MIB * 2048)) $((start_root * 2048)) | sfdisk -q "$out"
dd if="$boot" of="$out" bs=1M seek="$start_boot" conv=notrunc,sparse status=none
dd if="$root" of="$out" bs=1M seek="$start_root" conv=notrunc,sparse status=none
echo "  ($((SECONDS - t)) s)"
step "image: $out ($total MiB, $(du -m "$out" | cut -f1) MiB allocated)"
