#!/usr/bin/env bash
# A broken release for the fleet scenario's drill: the given .deb repacked under another
# version with a service that exits at import (it installs cleanly, then never serves),
# so the rollout's health gate — not apt — is what must catch it.
#   bash ansible/molecule/fleet/break-deb.sh SRC.deb OUT.deb VERSION IMPORT_NAME
set -euo pipefail
die() { echo "break-deb: $1 — fix: $2" >&2; exit 2; }
[ $# -eq 4 ] || die "usage: break-deb.sh SRC.deb OUT.deb VERSION IMPORT_NAME" \
  "pass the next version's .deb, where to write, the broken version, kit.toml's python_package"
src="$1" out="$2" version="$3" import_name="$4"
[ -f "$src" ] || die "$src not found" "./kit build deb --version <the next version>"
command -v dpkg-deb >/dev/null || die "dpkg-deb not found" "apt-get install dpkg"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
dpkg-deb -R "$src" "$work/pkg"
mapfile -t inits < <(find "$work/pkg" -path "*/site-packages/$import_name/__init__.py")
[ "${#inits[@]}" -eq 1 ] || die "${#inits[@]} $import_name/__init__.py in $src (one expected)" \
  "pass the service's import name (kit.toml [service] python_package)"
echo 'raise SystemExit("broken on purpose by ansible/molecule/fleet/break-deb.sh")' >>"${inits[0]}"
rm -f "$(dirname "${inits[0]}")"/__pycache__/__init__.*.pyc
sed -i "s/^Version: .*/Version: $version/" "$work/pkg/DEBIAN/control"
# dpkg --verify and debsums read md5sums: keep it true to the changed file.
(cd "$work/pkg" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) \
  >"$work/pkg/DEBIAN/md5sums"
mkdir -p "$(dirname "$out")"
dpkg-deb --root-owner-group -Zxz -b "$work/pkg" "$out" >/dev/null
# shellcheck disable=SC2016  # dpkg-deb expands ${Package}, not the shell
echo "$out: $(dpkg-deb --showformat='${Package} ${Version}' --show "$out") (exits at import)"
