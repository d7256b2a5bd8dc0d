#!/usr/bin/env bash
# Step 10's native helpers: Debian's own amd64 builds of the interpreters and tools whose
# work does not depend on the CPU they run on, at the exact versions the arm64 root is
# installing, put into the root at /.kit-native while it is built (the finish removes
# them). Under qemu-user every arm64 program is ≈ 30–60× slower; these are not emulated:
#   perl          runs the maintainer scripts' perl: debconf, deb-systemd-helper (3.6 s
#                 per call emulated, 0.06 s native; a package with a unit calls it 4–6
#                 times), deb-systemd-invoke;
#   python3.X     byte-compiles python's standard library and what py3compile hands its
#                 "-m py_compile -" workers, AT the moment the postinsts ask — so every
#                 emulated python start after it finds the stdlib compiled;
#   depmod        (kmod) the kernel's module index, in the finish (82 s → 5 s);
#   systemd-hwdb  (udev) udev's hardware database, in the finish (75 s → 1 s).
# The idea is Scratchbox2's (host tools inside a foreign root), held to two rules: only
# Debian's binaries of the same version as the root's, and only work whose result is the
# same bytes — checked on this image: all 603 .pyc files, hwdb.bin, every modules.* file,
# and the whole root tree against an all-emulated build (hardware/README.md). If any of
# it cannot be had (another version for amd64 on the mirror, a failed download) it says
# so and changes nothing: the root is built all-emulated — slower, the same.
#
# How: the root gets /lib64 → usr/lib64, a directory holding ld-linux-x86-64.so.2 →
# /.kit-native's (the amd64 loader's path), and /usr/lib/x86_64-linux-gnu → /.kit-native's
# (its libraries and perl modules); an arm64 root has none of these paths. The helpers then
# run by their own paths under chroot; the root's /usr/bin/perl and /usr/bin/python3.X are
# diverted (dpkg-divert) to small wrappers.
#
# Run by step 10 as an mmdebstrap essential hook (exact command):
#   bash hardware/steps/10-rootfs.native.sh ROOT PYTHON DISTRO MIRROR
# ROOT: the tree mmdebstrap builds (its arm64 package lists in var/lib/apt/lists);
# PYTHON: the distro's python3.X; DISTRO, MIRROR: as for the root.
# And by the finish, to take the helpers and their paths out again:
#   bash hardware/steps/10-rootfs.native.sh --remove ROOT
set -euo pipefail

loader=ld-linux-x86-64.so.2
# remove_helpers — the helpers and the paths they need out of $root (an arm64 root has
# none of these paths; rmdir fails if a package put a file in /usr/lib64: look first).
remove_helpers() {
  rm -f "$root/lib64" "$root/usr/lib64/$loader" "$root/usr/lib/x86_64-linux-gnu"
  [ ! -d "$root/usr/lib64" ] || rmdir "$root/usr/lib64"
  rm -rf --one-file-system "$root/.kit-native"
}
if [ "${1:-}" = --remove ]; then
  root="${2:?the root directory}"
  remove_helpers
  exit 0
fi

root="${1:?the root directory}" python="${2:?python3.X}" distro="${3:?the distro}" mirror="${4:?the mirror}"
native="$root/.kit-native"

# The binary packages the helpers come from, each pinned to the arm64 root's version.
pinned=(perl-base "$python-minimal" "lib$python-minimal" udev libsystemd-shared kmod)
# Unpinned: kmod dlopens the (de)compressors of .ko.xz/.ko.zst (not in its Depends).
extra=(liblzma5 libzstd1)

# versions PKG… — "PKG VERSION" for each PKG in the root's arm64 package lists (one pass
# over them; a package listed in several versions gets a line per version).
versions() {
  local lists=("$root"/var/lib/apt/lists/*_binary-arm64_Packages*)
  [ -e "${lists[0]}" ] || return 0
  /usr/lib/apt/apt-helper cat-file "${lists[@]}" | awk -v want="$*" '
    BEGIN { split(want, w, " "); for (i in w) wanted[w[i]] = 1 }
    $1 == "Package:" { p = ($2 in wanted) ? $2 : "" }
    p != "" && $1 == "Version:" { print p, $2 }' | sort -u
}

# emulated WHY — say why, leave the root as it was; the build goes on all-emulated.
emulated() {
  echo "  native helpers: none ($1) — every step runs emulated (slower, same result)"
  remove_helpers
  exit 0
}

# The paths the helpers need in the root, none of which an arm64 root has.
paths=(/lib64 /usr/lib64 /usr/lib/x86_64-linux-gnu)

t=$SECONDS
for path in "${paths[@]}"; do
  [ ! -e "$root$path" ] && [ ! -L "$root$path" ] || emulated "the root already has $path"
done
found="$(versions "${pinned[@]}")"
include=()
for pkg in "${pinned[@]}"; do
  v="$(awk -v p="$pkg" '$1 == p { print $2 }' <<<"$found")"
  [ -n "$v" ] && [ "$(wc -l <<<"$v")" -eq 1 ] || emulated "no single version of $pkg in the root's package lists"
  include+=("$pkg=$v")
done
include+=("${extra[@]}")
mmdebstrap --quiet --mode=root --variant=extract --architectures=amd64 \
  --include="$(IFS=,; echo "${include[*]}")" "$distro" "$native" "$mirror" \
  || emulated "mmdebstrap could not fetch ${include[*]} for amd64 from $mirror"
# /lib64 → usr/lib64, a real directory: merged-/usr as systemd's preinst checks it
# (readlink -f /lib64 must land under /usr/lib).
ln -s usr/lib64 "$root/lib64"
mkdir "$root/usr/lib64"
ln -s "../../.kit-native/usr/lib/x86_64-linux-gnu/$loader" "$root/usr/lib64/$loader"
ln -s ../../.kit-native/usr/lib/x86_64-linux-gnu "$root/usr/lib/x86_64-linux-gnu"
chroot "$root" /.kit-native/usr/bin/perl -MPOSIX -e 1 \
  || emulated "the amd64 perl does not start inside the root"
chroot "$root" "/.kit-native/usr/bin/$python" -E -S -c 'import py_compile' \
  || emulated "the amd64 $python does not start inside the root"

# wrap PROGRAM BODY — divert the root's PROGRAM (dpkg keeps installing it, as
# PROGRAM.distrib) and put a /bin/sh wrapper with BODY in its place.
wrap() {
  chroot "$root" dpkg-divert --quiet --local --rename --add "$1"
  printf '#!/bin/sh\n# Only while kit builds its Pi rootfs (hardware/steps/10-rootfs.native.sh).\n%s\n' \
    "$2" >"$root$1"
  chmod 755 "$root$1"
}
# perl: every call (maintainer scripts use perl-base's modules only; arch-independent ones
# come from the root's /usr/share/perl5, the XS ones from /.kit-native's perl-base).
wrap /usr/bin/perl 'exec /.kit-native/usr/bin/perl "$@"'
# python3.X: the two byte-compile forms of Debian's postinsts (libpython3.X-*'s stdlib pass
# and py3compile's workers); every other call is the real arm64 interpreter.
wrap "/usr/bin/$python" "case \"\$1 \$2 \$3\" in
  \"-E -S /usr/lib/$python/py_compile.py\" | \"-m py_compile -\") exec /.kit-native/usr/bin/$python \"\$@\" ;;
esac
exec /usr/bin/$python.distrib \"\$@\""
echo "  native helpers (amd64, same versions): ${include[*]} — $((SECONDS - t)) s"
