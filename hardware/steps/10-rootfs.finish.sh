#!/usr/bin/env bash
# Step 10's last emulated work, on both cores. While packages installed, stand-ins
# skipped these jobs — each runs one arm64 process after another under qemu-user (one
# core) and they do not depend on each other, so here two workers take them from a queue,
# longest first (≈ 200 s on both cores; one after another they are ≈ 350 s of work):
#   initramfs  depmod (the kernel's postinst found it diverted), then ONE initramfs with
#              MODULES=list, raspi-firmware's kernel hook again, and a check that the
#              root's drivers are in it;
#   hwdb       udev's hardware database (its postinst found systemd-hwdb diverted);
#   stdlib N   a third of python3.X's standard library byte-compiled, as its
#              postinsts do (they found python3.X wrapped to skip exactly that); more
#              parts balance better but each costs an emulated interpreter start (8
#              parts: 165 s of work, 2 parts: 113 s).
# Each job's time is printed.
#
# Run by step 10 as an mmdebstrap customize hook (exact command):
#   bash hardware/steps/10-rootfs.finish.sh ROOT PYTHON MODULES
# ROOT: the tree mmdebstrap builds; PYTHON: the interpreter wrapped (python3.13);
# MODULES: the modules the initramfs must hold (space-separated).
set -euo pipefail

if [ "${1:-}" = --job ]; then # one job of the queue (this script again, from xargs)
  root="$2" python="$3" modules="$4" job="$5"
  unset KIT_FINISH KIT_FINISH_ROOT KIT_FINISH_PYTHON KIT_FINISH_MODULES
  case "$job" in
    initramfs)
      for k in "$root"/lib/modules/*; do chroot "$root" depmod "$(basename "$k")"; done
      chroot "$root" update-initramfs -c -k all
      # raspi-firmware's kernel hook ran while /etc/default/raspi-firmware was still the
      # package default: run it again so cmdline.txt names LABEL=RASPIROOT.
      for k in "$root"/lib/modules/*; do
        chroot "$root" /etc/kernel/postinst.d/z50-raspi-firmware "$(basename "$k")"
      done
      listed="$(chroot "$root" sh -c 'lsinitramfs /boot/initrd.img-*' | tr - _)"
      # MODULES=list in effect (a bad setting makes mkinitramfs fall back to "most":
      # the whole driver tree, minutes more here and a far bigger initrd on the card).
      count="$(grep -c '\.ko' <<<"$listed" || true)"
      [ "$count" -le 200 ] || {
        echo "the initramfs holds $count modules: MODULES=list was not in effect — fix: see mkinitramfs's warnings above"
        exit 1
      }
      for m in $modules; do
        m="$(echo "$m" | tr - _)"
        grep -q "/$m.ko" <<<"$listed" || {
          echo "initramfs lacks module $m — fix: list it in hardware/rootfs/etc/initramfs-tools/modules"
          exit 1
        }
      done
      ;;
    hwdb) chroot "$root" systemd-hwdb --usr update ;;
    stdlib\ *)
      xargs -a "$root/tmp/py-compile.part${job#stdlib }" \
        chroot "$root" "/usr/bin/$python" -E -S "/usr/lib/$python/py_compile.py"
      ;;
    *) echo "no job '$job' — fix: initramfs, hwdb or 'stdlib NN'"; exit 1 ;;
  esac
  exit 0
fi

root="${1:?the root directory}" python="${2:?the wrapped python, e.g. python3.13}" modules="${3:?}"

# Undo the install-time stand-ins first: every job below runs the real programs.
stand_ins=(/usr/sbin/update-initramfs /usr/sbin/depmod /usr/bin/systemd-hwdb "/usr/bin/$python")
for path in "${stand_ins[@]}"; do
  rm "$root$path"
  chroot "$root" dpkg-divert --quiet --local --rename --remove "$path"
done

# The exact files python3.X's postinsts compile: the .py of its two stdlib packages,
# in three parts, files dealt round-robin (the queue balances the workers with them).
chroot "$root" dpkg -L "lib$python-minimal" "lib$python-stdlib" \
  | sed -n "\\#^/usr/lib/$python/.*\\.py\$#p" | sort -u \
  | while read -r f; do [ -e "$root$f" ] && echo "$f"; done >"$root/tmp/py-compile.list"
total="$(wc -l <"$root/tmp/py-compile.list")"
[ "$total" -gt 100 ] || {
  echo "only $total stdlib files found to compile — fix: check PYTHON ($python) against the distro's python3.X"
  exit 1
}
split -n r/3 -d "$root/tmp/py-compile.list" "$root/tmp/py-compile.part"

# timed JOB — one job (this script again), its lines prefixed with its name, its time
# and exit at the end. Run by xargs' workers: exported, like what it reads.
# (Names of its own: the jobs' programs see the environment — mkinitramfs reads $modules.)
timed() {
  local t=$SECONDS rc
  bash "$KIT_FINISH" --job "$KIT_FINISH_ROOT" "$KIT_FINISH_PYTHON" "$KIT_FINISH_MODULES" "$1" 2>&1 \
    | sed "s/^/  $1| /"
  rc="${PIPESTATUS[0]}"
  echo "  $1: $((SECONDS - t)) s (exit $rc)"
  return "$rc"
}
export -f timed
KIT_FINISH="$(realpath "${BASH_SOURCE[0]}")"
export KIT_FINISH KIT_FINISH_ROOT="$root" KIT_FINISH_PYTHON="$python" KIT_FINISH_MODULES="$modules"

echo "  finishing the root: initramfs, hwdb, $total stdlib files in 3 parts — 2 workers"
t=$SECONDS
rc=0
# shellcheck disable=SC2016  # $1 is the job, for the bash that xargs starts
printf '%s\n' initramfs hwdb "stdlib 0"{0..2} | xargs -P 2 -I{} bash -c 'timed "$1"' _ {} || rc=$?
rm -f "$root"/tmp/py-compile.*
echo "  all jobs: $((SECONDS - t)) s"
[ "$rc" -eq 0 ] || { echo "finishing the root failed (the job's lines above)"; exit 1; }
