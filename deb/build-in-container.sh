#!/usr/bin/env bash
# Runs inside kit/deb-builder:<distro> (see build.sh): assemble the source tree from
# debian/ + the wheelhouse, stamp the version, build, lint, hand the .deb out.
set -euo pipefail
name="$1" version="$2" distro="$3" owner="$4"
src="/srv/kit-build/$name-$version"   # a distinctive path: the contract greps for it

mkdir -p "$src"
cp -a /in/deb/debian "$src/"
cp /in/deb/build-requirements.lock "$src/"
tar -C "$src" -xzf /in/work/wheel/"$name-$version-$distro"-amd64.wheelhouse.tar.gz
cp /in/work/extra/*.whl "$src/wheelhouse/"

cd "$src"
if ! head -1 debian/changelog | grep -q "($version)"; then
  { printf '%s (%s) unstable; urgency=medium\n\n  * Release %s.\n\n -- %s  %s\n\n' \
      "$name" "$version" "$version" \
      "$(sed -n 's/^Maintainer: //p' debian/control)" \
      "$(date -R -u -d "@${SOURCE_DATE_EPOCH}")"
    cat debian/changelog; } >debian/changelog.new
  mv debian/changelog.new debian/changelog
fi
# The shipped default config names its version, so an upgrade over a locally edited
# config leaves the new default beside it as config.toml.dpkg-dist.
sed -i "1i # Default configuration shipped with $name $version." debian/conf/config.toml

dpkg-buildpackage -us -uc -b 2>&1 | sed 's/^/    /'

deb="$(ls ../"${name}"_"${version}"_*.deb)"
echo "▶ lintian --fail-on error,warning $(basename "$deb")"
lintian --allow-root --fail-on error,warning --display-info --tag-display-limit 0 "$deb" | tee ../lintian.txt | sed 's/^/    /'
echo "    lintian: $(grep -c '^E:' ../lintian.txt || true) errors, $(grep -c '^W:' ../lintian.txt || true) warnings, $(grep -c '^I:' ../lintian.txt || true) info"
cp "$deb" ../lintian.txt /out/
mv /out/lintian.txt "/out/${name}_${version}.lintian.txt"
chown "$owner" /out/*
