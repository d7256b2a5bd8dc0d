#!/usr/bin/env bash
# Step 10's last work — what stand-ins skipped while packages installed, once, in order:
#   1. the indexes, side by side: depmod (the kernel's module index: its postinst found
#      depmod diverted) and udev's hardware database (systemd-hwdb, likewise) — the native
#      helpers' (steps/10-rootfs.native.sh: ≈ 5 s and 1 s) when the root has them, else
#      the root's own, emulated (≈ 80 s each, one core each);
#   2. the helpers, their links and the perl/python3.X wrappers leave the root — before
#      mkinitramfs, which would copy what it finds of them into the initrd;
#   3. ONE initramfs with MODULES=list (≈ 90 s emulated), raspi-firmware's kernel hook
#      again, and a check that the root's drivers are in it.
# Each part's time is printed.
#
# Run by step 10 as an mmdebstrap customize hook (exact command):
#   bash hardware/steps/10-rootfs.finish.sh ROOT PYTHON MODULES
# ROOT: the tree mmdebstrap builds; PYTHON: the distro's python3.X (wrapped, like perl,
# while packages installed, if the native helpers were there); MODULES: the modules the
# initramfs must hold (space-separated).
set -euo pipefail

root="${1:?the root directory}" python="${2:?the python3.X of the distro, e.g. python3.13}" modules="${3:?}"

# Undo the install-time stand-ins first: everything below runs the real programs.
stand_ins=(/usr/sbin/update-initramfs /usr/sbin/depmod /usr/bin/systemd-hwdb)
# perl's and python3.X's wrappers, when the native helpers put them there (the diverted
# real program is PROGRAM.distrib)
for path in /usr/bin/perl "/usr/bin/$python"; do
  [ ! -e "$root$path.distrib" ] || stand_ins+=("$path")
done
for path in "${stand_ins[@]}"; do
  rm "$root$path"
  chroot "$root" dpkg-divert --quiet --local --rename --remove "$path"
done

# in_root COMMAND ARGS… — COMMAND in the root: the native helper's if the root has the
# helpers (the same path under /.kit-native), else the root's own, emulated.
in_root() {
  local command="$1"
  shift
  [ ! -x "$root/.kit-native$command" ] || command="/.kit-native$command"
  chroot "$root" "$command" "$@"
}
# timed NAME CMD… — run CMD, its lines prefixed with NAME, then its time and exit status.
timed() {
  local name="$1" t=$SECONDS rc
  shift
  "$@" 2>&1 | sed "s/^/  $name| /"
  rc="${PIPESTATUS[0]}"
  echo "  $name: $((SECONDS - t)) s (exit $rc)"
  return "$rc"
}
depmod_all() {
  local k
  for k in "$root"/lib/modules/*; do in_root /usr/sbin/depmod "$(basename "$k")"; done
}

helpers="emulated"
[ ! -d "$root/.kit-native" ] || helpers="native"
echo "  finishing the root: module index and hwdb ($helpers, side by side), then the initramfs"
t=$SECONDS
timed depmod depmod_all &
depmod_pid=$!
rc=0
timed hwdb in_root /usr/bin/systemd-hwdb --usr update || rc=1
wait "$depmod_pid" || rc=1

bash "$(dirname "${BASH_SOURCE[0]}")/10-rootfs.native.sh" --remove "$root"
[ "$rc" -eq 0 ] || { echo "finishing the root failed (depmod's or hwdb's lines above)"; exit 1; }

initramfs() {
  local k listed count m
  chroot "$root" update-initramfs -c -k all
  # raspi-firmware's kernel hook ran while /etc/default/raspi-firmware was still the
  # package default: run it again so cmdline.txt names LABEL=RASPIROOT.
  for k in "$root"/lib/modules/*; do
    chroot "$root" /etc/kernel/postinst.d/z50-raspi-firmware "$(basename "$k")"
  done
  listed="$(chroot "$root" sh -c 'lsinitramfs /boot/initrd.img-*' | tr - _)"
  # MODULES=list in effect (a bad setting makes mkinitramfs fall back to "most": the
  # whole driver tree, minutes more here and a far bigger initrd on the card).
  count="$(grep -c '\.ko' <<<"$listed" || true)"
  [ "$count" -le 200 ] || {
    echo "the initramfs holds $count modules: MODULES=list was not in effect — fix: see mkinitramfs's warnings above"
    return 1
  }
  for m in $modules; do
    m="$(echo "$m" | tr - _)"
    grep -q "/$m.ko" <<<"$listed" || {
      echo "initramfs lacks module $m — fix: list it in hardware/rootfs/etc/initramfs-tools/modules"
      return 1
    }
  done
  # Nothing of the build's helpers in it (they left the root above).
  ! grep -qE 'kit-native|x86_64' <<<"$listed" || {
    echo "the initramfs holds amd64 files of the build's helpers — fix: hardware/steps/10-rootfs.finish.sh must remove them before update-initramfs"
    return 1
  }
}
timed initramfs initramfs
echo "  finishing: $((SECONDS - t)) s"
