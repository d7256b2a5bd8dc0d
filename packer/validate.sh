#!/usr/bin/env bash
# The templates' lint, offline and without a build (what CI runs):
#   bash packer/validate.sh
# = packer fmt -check on packer/ and packer/os/ (1.6.6 has no -recursive), then for every
#   packer/os/*.pkrvars.hcl:
#   packer validate -var-file=<it> with throw-away stand-ins for what only a build has (an
#   SSH key, a seed path, an empty .deb) and base_checksum=sha256:0… — the var files'
#   own checksum is a file:https:// URL that `packer validate` would download.
# packer/build.sh runs the same two checks with the real values before every build.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib/build.sh
. "$here/../lib/build.sh"
[ $# -eq 0 ] || die "unknown argument '$1'" "run it without arguments"
command -v packer >/dev/null || die "packer not found" \
  "apt-get install packer (Debian 12: 1.6.6), or Packer >= 1.10 + packer plugins install github.com/hashicorp/qemu"
command -v ssh-keygen >/dev/null || die "ssh-keygen not found" "apt-get install openssh-client"
kit_work
export CHECKPOINT_DISABLE=1

for dir in "$here" "$here/os"; do
  step "packer fmt -check ${dir#"$(dirname "$here")"/}"
  cmd=(packer fmt -check -diff "$dir")
  show "${cmd[@]}"
  "${cmd[@]}" || die "$dir is not in packer fmt's layout (diff above)" "packer fmt $dir"
done

ssh-keygen -q -t ed25519 -N '' -f "$work/key"
: >"$work/stand-in_0_amd64.deb"
zero="$(printf '0%.0s' $(seq 64))"
for varfile in "$here"/os/*.pkrvars.hcl; do
  step "packer validate ($(basename "$varfile"))"
  cmd=(packer validate -var-file="$varfile" -var "base_checksum=sha256:$zero"
    -var "deb=$work/stand-in_0_amd64.deb" -var "seed_image=$work/seed.img"
    -var "ssh_private_key_file=$work/key" "$here")
  show "${cmd[@]}"
  "${cmd[@]}" || die "packer validate failed for $(basename "$varfile") (above)" "fix the template or that var file"
done
step "templates valid"
