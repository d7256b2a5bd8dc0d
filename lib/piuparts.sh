#!/usr/bin/env bash
# Debian's own package test, piuparts, on the two builds of the .deb: in a clean chroot of
# the target release (a) install and purge, (b) install the previous version, upgrade to
# this one, purge — and after each purge the chroot must be exactly as it was before.
#
# `./kit test deb --distro D` runs it after both builds (deb/layer.toml [tests] artifact);
# by hand, as root, from the kit root (the dirs: ./kit build deb --distro trixie, and the
# same with --version <next>):
#   bash lib/piuparts.sh --distro trixie --mirror http://deb.debian.org/debian \
#     --old dist/deb/trixie/1.0.0 --new dist/deb/trixie/1.0.1 --cache-dir /var/cache/kit
# which runs (after making the base tarball, the one-package repo and the script dir):
#   piuparts --distribution trixie --mirror 'http://deb.debian.org/debian main' \
#     --basetgz /var/cache/kit/piuparts/trixie-amd64-<hash>.tgz \
#     --bindmount <repo> --extra-repo 'deb [trusted=yes] file://<repo> ./' \
#     --ignore /var/cache/debconf/tmp.ci/ --scriptsdir <scripts> \
#     --log-file <new dir>/<name>_<new>.piuparts.log <new dir>/<name>_<new>_<arch>.deb
#
# - <scripts> holds one piuparts script, run after each install: it makes what systemd
#   makes when the service starts (the unit's StateDirectory=, with data), so the purge
#   faces a service that ran.
# - The chroot comes from a base tarball made once with mmdebstrap (minbase + eatmydata +
#   the .deb's Depends from the mirror), cached by the hash of that recipe under kit.toml's
#   cache_dir (`./kit clean` removes it), remade after a week; piuparts unpacks it per run
#   and dist-upgrades it.
# - The upgrade test: piuparts upgrades from the version apt knows, so the previous .deb
#   is served by a one-package local repository bind-mounted into the chroot.
# - The one ignore, /var/cache/debconf/tmp.ci/, is not this package's doing: debconf
#   makes it on every `apt-get install` (deb/README.md, section Test, says why).
# - --cache-dir DIR: kit.toml's [kit] cache_dir (kit test passes it); --keep keeps the
#   chroot on failure for a look (piuparts --keep-env).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib/build.sh
. "$here/build.sh"

RECIPE=1 # bump when the way the base tarball is made changes

usage() {
  echo "usage: $KIT_SCRIPT_NAME --distro D --mirror URL --old DIR --new DIR --cache-dir DIR [--keep]" >&2
  echo "  DIRs: dist/<layer>/<distro>/<version>/ of the previous and this build (./kit build deb|omnibus)" >&2
  exit 2
}

distro="" mirror="" old_dir="" new_dir="" cache_dir="" keep=()
while [ $# -gt 0 ]; do
  case "$1" in
    --distro | --mirror | --old | --new | --cache-dir)
      [ $# -ge 2 ] || usage
      case "$1" in
        --distro) distro="$2" ;;
        --mirror) mirror="$2" ;;
        --old) old_dir="$2" ;;
        --new) new_dir="$2" ;;
        --cache-dir) cache_dir="$2" ;;
      esac
      shift 2
      ;;
    --keep) keep=(--keep-env); shift ;;
    -h | --help) usage ;;
    *) die "unknown argument '$1'" "pass --distro D --mirror URL --old DIR --new DIR --cache-dir DIR [--keep]" ;;
  esac
done
[ -n "$distro" ] && [ -n "$mirror" ] && [ -n "$old_dir" ] && [ -n "$new_dir" ] || usage
# The layer that built them (dist/<layer>/<distro>/<version>/), for the messages.
layer="$(basename "$(dirname "$(dirname "$(realpath -m "$new_dir")")")")"

# timed LABEL CMD ARGS… — print the step and its raw command, run it, print how long it took.
timed() {
  local label="$1" t0=$SECONDS
  shift
  step "$label"
  show "$@"
  "$@"
  echo "  ($label: $((SECONDS - t0)) s)"
}

# one_deb DIR WHICH — the single .deb in DIR, or stop naming the build that makes it.
one_deb() {
  local found=()
  [ -d "$1" ] && mapfile -t found < <(find "$1" -maxdepth 1 -name '*.deb' | sort)
  [ "${#found[@]}" -eq 1 ] \
    || die "expected one .deb in $1 ($2 version), found ${#found[@]}" \
      "build it: ./kit build $layer --distro $distro$([ "$2" = previous ] || echo ' --version <next version>') (./kit test $layer builds both)"
  realpath "${found[0]}"
}

[ "$(id -u)" -eq 0 ] || die "piuparts needs root (chroot, mounts)" "run as root: sudo bash $KIT_SCRIPT_NAME …"
command -v piuparts >/dev/null || die "piuparts not found" "./kit doctor --fix (or: apt-get install piuparts)"
command -v mmdebstrap >/dev/null || die "mmdebstrap not found" "./kit doctor --fix (or: apt-get install mmdebstrap)"
old_deb="$(one_deb "$old_dir" previous)"
new_deb="$(one_deb "$new_dir" this)"
name="$(dpkg-deb -f "$new_deb" Package)"
old_version="$(dpkg-deb -f "$old_deb" Version)"
new_version="$(dpkg-deb -f "$new_deb" Version)"
arch="$(dpkg-deb -f "$new_deb" Architecture)"
[ "$(dpkg-deb -f "$old_deb" Package)" = "$name" ] \
  || die "$old_deb is not a build of $name" "point --old at dist/deb/$distro/<previous version>/"
dpkg --compare-versions "$old_version" lt "$new_version" \
  || die "the previous build ($old_version) is not older than this one ($new_version)" \
    "pass the older build as --old and the newer as --new"

[ -n "$cache_dir" ] || die "no --cache-dir given" "pass --cache-dir DIR (kit test passes kit.toml's [kit] cache_dir)"
echo "piuparts for $name on $distro: install → purge $new_version; install $old_version → upgrade to $new_version → purge"

# --- the base tarball: minbase + eatmydata + the package's dependencies, cached -----------
# The package's Depends/Pre-Depends, first alternatives, as package names: in the base,
# piuparts then checks this package alone (what its dependencies leave is theirs).
deps="$(dpkg-deb -f "$new_deb" Pre-Depends Depends \
  | sed -e 's/^[A-Za-z-]*://' | tr ',' '\n' \
  | sed -e 's/|.*//' -e 's/(.*)//' -e 's/\[.*\]//' -e 's/:any//' -e 's/[[:space:]]//g' \
  | grep -v '^$' | sort -u | paste -sd, -)"
include="eatmydata${deps:+,$deps}"
key="$(printf 'recipe=%s\ndistro=%s\narch=%s\nmirror=%s\ninclude=%s\n' \
  "$RECIPE" "$distro" "$arch" "$mirror" "$include" | sha256sum | cut -c1-16)"
base="$cache_dir/piuparts/$distro-$arch-$key.tgz"
# A week old, it is made again: piuparts dist-upgrades the chroot on every run, and what
# the mirror has published since is downloaded and installed each time until then.
if [ -f "$base" ] && [ -z "$(find "$base" -mmin +10080)" ]; then
  step "base tarball from cache: $base (hash of: $distro, $arch, $mirror, minbase + $include)"
else
  mkdir -p "$cache_dir/piuparts" || die "cannot create $cache_dir/piuparts" "check kit.toml [kit] cache_dir and free disk space"
  partial="$base.partial.$$"
  kit_on_exit "rm -f '$partial.tgz'"
  # The tar is made only to be unpacked: dpkg's fsyncs buy nothing here.
  timed "base tarball: mmdebstrap $distro minbase + $include" \
    mmdebstrap --variant=minbase --mode=root --arch="$arch" --include="$include" \
    --dpkgopt=force-unsafe-io --quiet "$distro" "$partial.tgz" "$mirror" \
    || die "mmdebstrap of $distro from $mirror failed (log above)" \
      "check that $mirror is reachable over plain HTTP and has $distro, and that disk is free"
  mv "$partial.tgz" "$base" # only a complete tarball carries the final name
fi

# --- the previous version, as apt sees it: a one-package local repository ---------------
kit_work
repo="$work/repo"
mkdir -p "$repo"
cp "$old_deb" "$repo/"
deb_file="$(basename "$old_deb")"
{
  dpkg-deb -f "$old_deb"
  echo "Filename: ./$deb_file"
  echo "Size: $(stat -c %s "$old_deb")"
  echo "SHA256: $(sha256sum "$old_deb" | cut -d' ' -f1)"
  echo
} >"$repo/Packages"

# --- a service that ran: what systemd makes at its start, for the purge to face ----------
# piuparts never starts services, so without this the purge would only meet a data dir
# that was never made. A custom piuparts script (run after every install) makes what
# systemd makes for the unit's StateDirectory=: the dir, owned by its User=/Group=, in its
# StateDirectoryMode=, with data in it. Read from the unit in the .deb: nothing is assumed.
scripts="$work/scripts"
mkdir -p "$scripts"
# (the unit where the deb layer ships it, or where an Omnibus package carries it for its
# postinst to install: omnibus/steps/kit-service.sh)
unit="$(dpkg-deb --fsys-tarfile "$new_deb" \
  | tar -xO --wildcards "*/systemd/system/$name.service" "*/embedded/share/kit/unit.service" 2>/dev/null || true)"
unit_key() { printf '%s\n' "$unit" | sed -n "s/^$1=//p" | tail -n1; }
state_dirs="$(unit_key StateDirectory)"
if [ -n "$state_dirs" ]; then
  user="$(unit_key User)" group="$(unit_key Group)" mode="$(unit_key StateDirectoryMode)"
  {
    echo '#!/bin/sh'
    echo "# made by lib/piuparts.sh: what systemd makes when $name.service starts (StateDirectory=)"
    echo 'set -e'
    for dir in $state_dirs; do
      echo "install -d -o '${user:-root}' -g '${group:-${user:-root}}' -m '${mode:-0755}' '/var/lib/$dir'"
      echo "echo 'written by the service' > '/var/lib/$dir/data'"
      echo "chown '${user:-root}:${group:-${user:-root}}' '/var/lib/$dir/data'"
    done
  } >"$scripts/post_install_kit_service_ran"
  chmod 0755 "$scripts/post_install_kit_service_ran"
  echo "  after each install, as if $name.service had run: /var/lib/{${state_dirs// /,}} (${user:-root}, ${mode:-0755}) with data"
fi

chmod -R a+rX "$work" # apt's sandbox user (_apt) reads the repository in the chroot

# --- piuparts -------------------------------------------------------------------------------
log="$(dirname "$new_deb")/${name}_${new_version}.piuparts.log"
rm -f "$log"
cmd=(piuparts --distribution "$distro" --mirror "$mirror main" --basetgz "$base"
  --bindmount "$repo" --extra-repo "deb [trusted=yes] file://$repo ./"
  --ignore /var/cache/debconf/tmp.ci/ --scriptsdir "$scripts"
  --log-file "$log" "${keep[@]}" "$new_deb")
t0=$SECONDS
step "piuparts: install/purge $new_version, upgrade $old_version → $new_version (log: $log)"
show "${cmd[@]}"
# The log file has every command piuparts ran; the terminal gets the verdicts as they come.
rc=0
"${cmd[@]}" 2>&1 \
  | grep --line-buffered -E 'PASS:|FAIL:|Installation of|Can.t test|Command failed \(status=[0-9]+\): ' \
  | sed -u -e 's/^/    /' || true
grep -q 'INFO: PASS: All tests\.' "$log" 2>/dev/null || rc=1
echo "  (piuparts: $((SECONDS - t0)) s)"

if [ "$rc" -ne 0 ]; then
  [ -s "$log" ] || die "piuparts stopped before it wrote $log (output above)" \
    "run the piuparts command above by hand and read its first error"
  # What ran last before the first failure, then each FAIL with the paths listed under it.
  first="$(grep -n -m1 -E 'ERROR: FAIL:|Command failed \(status=[0-9]+\): ' "$log" | cut -d: -f1 || true)"
  echo "--- piuparts log before the failure ($log):"
  head -n "$((${first:-$(wc -l <"$log")} - 1))" "$log" | tail -n 30
  echo "--- the failure:"
  awk '/ERROR: FAIL:|Command failed \(status=[0-9]+\): / {p = 1; print; next} p && /^  / {print; next} {p = 0}' "$log" \
    | head -n 80
  die "piuparts failed for $name $new_version on $distro (what it found is above; full log: $log)" \
    "fix the maintainer scripts ($([ "$layer" = omnibus ] && echo 'omnibus/package-scripts/kit/*.j2' || echo 'deb/debian/PACKAGE.{postinst,prerm,postrm}.j2')), rebuild both versions and rerun this; a path the package is not to blame for is ignored with --ignore here and its reason in deb/README.md, section Test"
fi
# Both tests must really have run: an upgrade test that piuparts skipped is not a pass.
for verdict in 'PASS: Installation and purging test.' 'PASS: Installation, upgrade and purging tests.'; do
  grep -qF "$verdict" "$log" || die "piuparts did not report '$verdict' ($log)" \
    "check that $old_deb is served by the local repository (apt-get install $name=$old_version in the chroot)"
done
# piuparts only warns about broken symlinks (the base's systemd has two of its own, see
# deb/README.md); one that belongs to this package fails here.
ours="$(awk '/Broken symlinks:/ {p = 1; next} p && /^  / {print $0; next} {p = 0}' "$log" \
  | sed 's/^ *//' | grep -E "\((.*, )?$name(:[a-z0-9]+)?(,.*)?\)$" | sort -u || true)"
[ -z "$ours" ] || die "broken symlinks of $name after install: $ours" \
  "ship links whose targets the package or its Depends provide (deb/debian/PACKAGE.links.j2, debian/rules)"
step "done: piuparts passed for $name on $distro in $((SECONDS - KIT_T0)) s"
