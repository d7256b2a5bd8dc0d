#!/bin/sh -eux
# Install the service's .deb with NO network (the build VM's user-mode net is
# restrict=on: any download would fail): everything it depends on is already in the base
# image, so apt resolves it locally. (apt's --no-download rejects a local .deb path.)
# The same options as the kit's Ansible role service_deb: a non-interactive install that
# keeps any local conffile edit; plus --force-unsafe-io, for this bake only (the image is
# flushed when the build VM shuts down; the image's own dpkg config keeps its fsyncs).
#   env: DEB  the uploaded .deb
: "${DEB:?DEB=<path of the .deb> is required}"
export DEBIAN_FRONTEND=noninteractive

if grep -rqs '^force-unsafe-io' /etc/dpkg/dpkg.cfg.d/; then
  echo "the base image's dpkg config skips fsync (force-unsafe-io in /etc/dpkg/dpkg.cfg.d/) — fix: drop it in packer/base/build-base.sh; machines from this image would keep half-written files after a power cut" >&2
  exit 1
fi

pkg="$(dpkg-deb -f "$DEB" Package)"
version="$(dpkg-deb -f "$DEB" Version)"
echo "depends: $(dpkg-deb -f "$DEB" Depends)"

apt-get install -y --no-install-recommends \
  -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
  -o Dpkg::Options::=--force-unsafe-io \
  "$DEB"
rm -f "$DEB"

status="$(dpkg-query -W -f='${db:Status-Abbrev}${Version}' "$pkg")"
[ "$status" = "ii $version" ] || { echo "$pkg is '$status', not 'ii $version'" >&2; exit 1; }
systemctl is-enabled "$pkg.service"
systemctl is-active "$pkg.service"
