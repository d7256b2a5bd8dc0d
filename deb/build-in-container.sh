#!/usr/bin/env bash
# Runs inside kit/deb-builder:<distro> (deb/build.sh starts it, network off): assemble the
# source tree from the rendered debian/ + the shared runtime files + the wheelhouse,
# build, hand the .deb out. Mounts: /in/build (the kit's build dir: kit.env,
# rendered/), /in/deb (this layer), /in/work (wheelhouse, pinned pip), /out.
# Build:
#   ./kit build deb --distro trixie, i.e. the raw pair
#   ./kit render deb --distro trixie --version 1.0.0
#   bash deb/build.sh --build-dir .kit/build/deb/trixie/1.0.0 --out dist/deb/trixie/1.0.0
set -euo pipefail
owner="$1"
# shellcheck source=/dev/null
. /in/build/kit.env
rendered=/in/build/rendered
src="/srv/kit-build/$KIT_NAME-$KIT_VERSION"   # a distinctive path: the contract greps for it

mkdir -p "$src"
cp -a "$rendered/debian" "$src/"
cp /in/deb/build-requirements.lock "$src/"
tar -C "$src" -xzf "/in/work/wheel/$KIT_NAME-$KIT_VERSION-$KIT_DISTRO-$KIT_ARCH.wheelhouse.tar.gz"
cp /in/work/extra/*.whl "$src/wheelhouse/"

# The runtime files every systemd layer shares (the kit's templates/, rendered once):
# debhelper picks them up by name.
cp "$rendered/runtime/unit.service" "$src/debian/$KIT_NAME.service"        # dh_installsystemd
cp "$rendered/runtime/sysusers.conf" "$src/debian/$KIT_NAME.sysusers"      # dh_installsysusers
cp "$rendered/runtime/tmpfiles.conf" "$src/debian/$KIT_NAME.tmpfiles"      # dh_installtmpfiles
if [ -n "$KIT_CONFIG_FILE" ]; then
  # The default config (a conffile): debian/$KIT_NAME.install installs runtime/config.toml.
  mkdir -p "$src/runtime"
  cp "$rendered/runtime/config.toml" "$src/runtime/config.toml"
  # It must change between versions, so an upgrade over a locally edited config leaves
  # the new default beside it as .dpkg-dist: the kit's template names the version in its
  # header; a service template that does not gets a version line here.
  if ! grep -qF "$KIT_NAME $KIT_VERSION" "$src/runtime/config.toml"; then
    sed -i "1i # Default configuration shipped with $KIT_NAME $KIT_VERSION." "$src/runtime/config.toml"
  fi
fi

cd "$src"
# The package's CPU (kit.env) is not the builder's: a Debian cross build (debian/rules),
# with the cross and nocheck profiles (no test would run on this CPU; the package has none
# anyway). No C is compiled: CC names the target's compiler only so that dpkg-architecture
# does not compare the host's gcc with the package's CPU (a warning, nothing else).
cross=()
if [ "$KIT_ARCH" != "$(dpkg --print-architecture)" ]; then
  cross=(--host-arch "$KIT_ARCH" "--build-profiles=cross,nocheck")
  export DEB_BUILD_OPTIONS="nocheck${DEB_BUILD_OPTIONS:+ $DEB_BUILD_OPTIONS}"
  CC="$(dpkg-architecture -a"$KIT_ARCH" -qDEB_HOST_GNU_TYPE 2>/dev/null)-gcc"
  export CC
fi
echo "  \$ dpkg-buildpackage -us -uc -b ${cross[*]}   (in $src)"
dpkg-buildpackage -us -uc -b "${cross[@]}" 2>&1 | sed -u "s/^/    /"

# (lintian runs next, from deb/build.sh, in the host's builder)
deb="$(ls ../"${KIT_NAME}_${KIT_VERSION}"_*.deb)"
cp "$deb" /out/
chown "$owner" "/out/$(basename "$deb")"
