#!/usr/bin/env bash
# Step 40: what a user downloads and flashes, beside the raw image: the block map
# (bmaptool copies only mapped blocks and checks each range's sha256), the xz-compressed
# image, their checksums, and a CycloneDX SBOM of the installed packages.
#
# Run by hardware/build.sh; by hand (exact command):
#   bash hardware/steps/40-publish.sh --image dist/hardware/trixie/1.0.0-arm64/sample-service-1.0.0-trixie-arm64.img \
#     --packages dist/hardware/trixie/1.0.0-arm64/sample-service-1.0.0-trixie-arm64.packages.tsv \
#     --build-dir .kit/build/hardware/trixie/1.0.0-arm64
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
layer="$(dirname "$here")"
# shellcheck source=lib/build.sh
. "$layer/../lib/build.sh"
# shellcheck source=hardware/image.conf
. "$layer/image.conf"

image="" packages="" build_dir=""
while [ $# -gt 0 ]; do
  case "$1" in
    --image) image="${2:?}"; shift 2 ;;
    --packages) packages="${2:?}"; shift 2 ;;
    --build-dir) build_dir="${2:?}"; shift 2 ;;
    *) die "unknown argument '$1'" "use --image FILE.img --packages FILE.tsv --build-dir DIR" ;;
  esac
done
[ -f "$image" ] && [ -f "$packages" ] && [ -f "$build_dir/kit.env" ] \
  || die "missing or wrong arguments" "use --image FILE.img --packages FILE.tsv --build-dir DIR"
# shellcheck source=/dev/null
. "$build_dir/kit.env"
kit_require_tools bmaptool:bmap-tools xz:xz-utils
dir="$(dirname "$image")"
stem="$(basename "$image" .img)"

t=$SECONDS
step "block map $stem.bmap"
cmd=(bmaptool create -o "$dir/$stem.bmap" "$image")
show "${cmd[@]}"
"${cmd[@]}"
echo "  ($((SECONDS - t)) s)"

t=$SECONDS
step "compress: xz -T0 -$PI_XZ_LEVEL → $stem.img.xz"
cmd=(xz -T0 "-$PI_XZ_LEVEL" --keep --force "$image")
show "${cmd[@]}"
"${cmd[@]}" || { rm -f "$image.xz"; die "xz failed" "free disk space in $dir"; }
echo "  ($((SECONDS - t)) s; $(( $(stat -c %s "$image.xz") >> 20 )) MiB)"

step "checksums $stem.sha256"
(cd "$dir" && sha256sum "$stem.img.xz" "$stem.img" "$stem.bmap" >"$stem.sha256")
sed 's/^/  /' "$dir/$stem.sha256"

step "SBOM $stem.cdx.json (CycloneDX, from the package list)"
cmd=(python3 "$layer/../lib/debian-sbom.py" --packages "$packages" --image "$image.xz"
  --name "$KIT_NAME" --version "$KIT_VERSION" --distro "$KIT_DISTRO" --out "$dir/$stem.cdx.json")
show "${cmd[@]}"
"${cmd[@]}"
