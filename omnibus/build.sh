#!/usr/bin/env bash
# The Omnibus full-stack package, built HERE (no omnibus gem): the project's own step
# scripts in its build order, in a builder of the oldest release, then Omnibus's health
# check, and one payload packaged twice — a .deb and an .rpm.
#
# Build (exact commands; `./kit build omnibus` runs the same):
#   ./kit render omnibus --distro bookworm --version 1.0.0
#   bash omnibus/build.sh --build-dir .kit/build/omnibus/bookworm/1.0.0 \
#     --out dist/omnibus/bookworm/1.0.0 --cache-dir /var/cache/kit \
#     --mirror http://deb.debian.org/debian --sources debian
# With real Omnibus instead: omnibus/README.md (bundle exec omnibus build kit).
#
# Steps: (1) the service's wheelhouse for the EMBEDDED Python (wheel/build.sh: cp3X wheels
# of the lock) and the pinned pip, into the build dir; (2) the plan: `ruby
# omnibus/check.rb --plan` evaluates the definitions (order, versions, sources, commands);
# (3) the builder image (omnibus/builder.Dockerfile, docker cache); (4) here_build.py runs
# each component's step commands in the builder, network off, sources fetched and
# sha256-checked first, with a per-component build cache (<cache>/omnibus/); (5) the health
# check; (6) stage install_dir minus the project's `exclude` list; (7) .deb (dpkg-deb) and
# .rpm (rpmbuild) of that stage, and a check that both carry the same files, byte for byte.
#
# Output in --out: <name>_<version>-1_<arch>.deb, <name>-<version>-1.<machine>.rpm,
# version-manifest.json, health-check.txt, build-times.tsv, components.tsv, sizes.tsv,
# logs/<component>.log (each compile's whole output).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib/build.sh
. "$here/../lib/build.sh"
KIT_USAGE_EXTRA="--cache-dir DIR --mirror URL --sources upstream|debian"
kit_args "$@"
cache_dir="" mirror="" sources=""
set -- "${KIT_EXTRA[@]}"
while [ $# -gt 0 ]; do
  case "$1" in
    --cache-dir) cache_dir="${2:?--cache-dir needs a directory}"; shift 2 ;;
    --mirror) mirror="${2:?--mirror needs a URL}"; shift 2 ;;
    --sources) sources="${2:?--sources needs upstream or debian}"; shift 2 ;;
    *) die "unknown argument '$1'" "pass --build-dir DIR --out DIR --cache-dir DIR --mirror URL --sources upstream|debian" ;;
  esac
done
[ -n "$cache_dir" ] && [ -n "$mirror" ] && [ -n "$sources" ] \
  || die "--cache-dir, --mirror and --sources are required" "./kit build omnibus passes them (layer.toml)"
case "$sources" in upstream | debian) ;; *) die "--sources $sources is neither upstream nor debian" "use upstream (python.org, openssl.org, …) or debian (Debian's orig tarballs)" ;; esac
[ -f "$BUILD_DIR/facts.json" ] && [ -d "$KIT_RENDERED/package-scripts/kit" ] \
  || die "$BUILD_DIR is not a rendered omnibus build dir" "./kit render omnibus --distro $KIT_DISTRO --version $KIT_VERSION"
kit_require_tools ruby:ruby python3:python3
kit_require_docker
kit_require_image "debian:$KIT_DISTRO-slim"
kit_work

times="$OUT/build-times.tsv"
printf 'step\tseconds\n' >"$times"
timed() { # NAME CMD… — run one step, record its duration
  local name="$1" t=$SECONDS
  shift
  "$@" || return # (set -e does not reach inside a function called left of ||)
  printf '%s\t%s\n' "$name" "$((SECONDS - t))" >>"$times"
}

prepare() {
  step "1 the service's wheelhouse for the embedded Python $KIT_PYTHON_VERSION (wheel/build.sh) + pinned pip"
  local cmd=(bash "$KIT_ROOT/wheel/build.sh" --build-dir "$BUILD_DIR" --out "$BUILD_DIR/wheel")
  show "${cmd[@]}"
  "${cmd[@]}" | sed 's/^/    /'
  mkdir -p "$BUILD_DIR/extra"
  cmd=(python3 -m pip download -q --disable-pip-version-check --require-hashes --only-binary=:all:
    --no-deps -r "$KIT_ROOT/deb/build-requirements.lock" -d "$BUILD_DIR/extra")
  show "${cmd[@]}"
  "${cmd[@]}" || die "could not download the pinned pip of deb/build-requirements.lock" "check PyPI access (PIP_INDEX_URL / PIP_CERT)"
}
timed 1-prepare prepare

step "2 the plan: the definitions evaluated (ruby omnibus/check.rb --plan --sources $sources)"
plan="$work/plan.json"
KIT_BUILD_DIR="$BUILD_DIR" KIT_DEBIAN_MIRROR="$mirror" ruby "$here/check.rb" --plan --sources "$sources" >"$plan" \
  || die "the Omnibus definitions do not check (above)" "fix the definition named, then rebuild"
install_dir="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["project"]["install_dir"])' "$plan")"
python3 -c 'import json,sys; print("   ", " → ".join(c["name"] + " " + c["version"] for c in json.load(open(sys.argv[1]))["components"]))' "$plan"

builder="kit/omnibus-builder:$KIT_DISTRO"
step "3 builder image $builder (from debian:$KIT_DISTRO-slim; docker cache)"
cmd=(docker build -q -f "$here/builder.Dockerfile" --build-arg "BASE=debian:$KIT_DISTRO-slim" -t "$builder" "$here")
show "${cmd[@]}"
"${cmd[@]}" >/dev/null || die "building $builder failed" "check that http://deb.debian.org is reachable from containers"

step "4 components, in build order (omnibus/here_build.py; cache $cache_dir/omnibus)"
opt="$work/opt"
cmd=(python3 "$here/here_build.py" --plan "$plan" --builder "$builder" --cache-dir "$cache_dir"
  --opt "$opt" --times "$OUT/components.tsv" --jobs "$(nproc)" --logs "$OUT/logs")
show "${cmd[@]}"
timed 4-components "${cmd[@]}" || die "the build of a component failed (above); nothing was packaged" "fix the step named, then rebuild (built components come from the cache)"

step "5 health check: every ELF under $install_dir resolves inside it or on omnibus/health-allowlist.txt"
cmd=(docker run --rm --network none -v "$opt:$install_dir:ro" -v "$here:/in/omnibus:ro" "$builder"
  bash /in/omnibus/health-check.sh "$install_dir" /in/omnibus/health-allowlist.txt)
show "${cmd[@]}"
"${cmd[@]}" >"$OUT/health-check.txt" 2>&1 || { sed 's/^/    /' "$OUT/health-check.txt"; die "the health check failed: nothing was packaged" "embed the library named (a software definition) or allow-list a base-system one"; }
sed 's/^/    /' "$OUT/health-check.txt"
cp "$opt/version-manifest.json" "$OUT/"

step "6 stage $install_dir minus the project's exclude list"
stage="$work/stage"
python3 "$here/here_build.py" --plan "$plan" --opt "$opt" --stage "$stage"

step "7 package: one payload, a .deb and an .rpm"
arch="$KIT_ARCH" machine="$KIT_MACHINE" iteration=1
deb="${KIT_NAME}_${KIT_VERSION}-${iteration}_$arch.deb"
rpm="$KIT_NAME-$KIT_VERSION-$iteration.$machine.rpm"
installed_kib="$(du -sk --apparent-size "$stage" | cut -f1)"
mkdir -p "$work/deb/DEBIAN" "$work/rpm"
cp -a "$stage/." "$work/deb/"
for s in preinst postinst prerm postrm; do install -m 0755 "$KIT_RENDERED/package-scripts/kit/$s" "$work/deb/DEBIAN/$s"; done
cat >"$work/deb/DEBIAN/control" <<EOF
Package: $KIT_NAME
Version: $KIT_VERSION-$iteration
Architecture: $arch
Maintainer: $KIT_MAINTAINER
Installed-Size: $installed_kib
Depends: systemd | systemd-standalone-sysusers | systemd-sysusers, systemd | systemd-standalone-tmpfiles | systemd-tmpfiles
Section: net
Priority: optional
Homepage: $KIT_HOMEPAGE
Description: $KIT_DESCRIPTION
 Omnibus package: the service, its own Python and every native library it needs
 under $install_dir; runs on a host without Python.
EOF
{
  echo "Name: $KIT_NAME"
  echo "Version: $KIT_VERSION"
  echo "Release: $iteration"
  echo "Summary: $KIT_DESCRIPTION"
  echo "License: $KIT_LICENSE"
  echo "URL: $KIT_HOMEPAGE"
  echo "Packager: $KIT_MAINTAINER"
  echo "BuildArch: $machine"
  echo "AutoReqProv: no"
  # the payload as staged, untouched: no strip, no build-id links, no bytecode compile
  echo "%define __os_install_post %{nil}"
  echo "%define _build_id_links none"
  echo "%define _buildhost kit-omnibus-builder" # reproducible: not the container's random name
  echo "%define _source_date_epoch_from_changelog 0"
  # xz -6 on every core, like the .deb (bookworm rpmbuild's default, gzip -9, came out
  # 50% bigger than the .deb)
  echo "%define _binary_payload w6T.xzdio"
  echo "%description"
  echo "Omnibus package: the service, its own Python and every native library it needs under $install_dir; runs on a host without Python."
  echo "%install"
  echo "cp -a /in/stage/. %{buildroot}/"
  # The same shell scripts as the .deb's, each run by /bin/sh from a Lua scriptlet (rpm's
  # own interpreter): `-p /bin/sh` would add `Requires(pre): /bin/sh`, which the company
  # rpmdb (rpm layer: the OS's packages are not in it) can never meet — the rpm layer's
  # scriptlets are Lua for the same reason. $1 is rpm's instance count, as in shell ones.
  for pair in pre:preinst post:postinst preun:prerm postun:postrm; do
    script="$KIT_RENDERED/package-scripts/kit/${pair#*:}"
    ! grep -qF ']==]' "$script" || die "$script contains ]==], which ends the Lua string it is embedded in" "rewrite that line"
    echo "%${pair%%:*} -p <lua>"
    echo "if not posix.access('/bin/sh', 'x') then error('$KIT_NAME: the host has no /bin/sh (the package scripts run in it)', 0) end"
    echo "local ok, how, code = rpm.execute('/bin/sh', '-c', [==["
    cat "$script"
    echo "]==], '${pair#*:}', tostring(arg[2]))"
    echo "if not ok then error('$KIT_NAME ${pair#*:} failed (' .. tostring(how) .. ' ' .. tostring(code) .. ')', 0) end"
  done
  echo "%files"
  echo "$install_dir"
} >"$work/rpm/$KIT_NAME.spec"
# shellcheck disable=SC2016  # the inner bash expands its own variables
cmd=(docker run --rm --network none -e "SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH"
  -v "$work/deb:/in/deb:ro" -v "$stage:/in/stage:ro" -v "$work/rpm:/in/rpm:ro" -v "$OUT:/out" "$builder"
  bash -euo pipefail -c '
    cp -a /in/deb /tmp/deb
    dpkg-deb --root-owner-group -Zxz --build /tmp/deb "/out/$1" >/dev/null & deb=$!
    rpmbuild -bb --quiet --define "_topdir /tmp/rpmbuild" --define "_rpmdir /tmp/rpms" /in/rpm/'"$KIT_NAME"'.spec & rpm=$!
    wait "$deb"
    wait "$rpm"
    cp /tmp/rpms/*/"$2" "/out/$2"
    mkdir /tmp/a /tmp/b
    dpkg-deb -x "/out/$1" /tmp/a
    (cd /tmp/b && rpm2cpio "/out/$2" | cpio -idm --quiet)
    diff -r --no-dereference /tmp/a /tmp/b
    chown "$3" "/out/$1" "/out/$2"' sh "$deb" "$rpm" "$(id -u):$(id -g)")
show "${cmd[@]}"
timed 7-package "${cmd[@]}" || { rm -f "$OUT/$deb" "$OUT/$rpm"; die "packaging failed, or the .deb and the .rpm differ (above)" "see the message above; nothing half-built is kept"; }

{
  printf 'what\tbytes\n'
  printf 'installed (staged %s)\t%s\n' "$install_dir" "$((installed_kib * 1024))"
  printf '%s\t%s\n' "$deb" "$(stat -c %s "$OUT/$deb")" "$rpm" "$(stat -c %s "$OUT/$rpm")"
} >"$OUT/sizes.tsv"
printf 'total\t%s\n' "$((SECONDS - KIT_T0))" >>"$times"
step "done: $deb $((installed_kib / 1024)) MiB installed, $(($(stat -c %s "$OUT/$deb") >> 20)) MiB .deb, $(($(stat -c %s "$OUT/$rpm") >> 20)) MiB .rpm"
column -t "$times" | sed 's/^/  /'
