# Debian 13 "trixie", amd64: the official generic cloud image (cloud-init, NoCloud works)
# and Debian's signed list of its SHA512 sums. packer/build.sh overrides both with the
# local base image (packer/base/build-base.sh) on machines that cannot download it.
base_image    = "https://cloud.debian.org/images/cloud/trixie/latest/debian-13-genericcloud-amd64.qcow2"
base_checksum = "file:https://cloud.debian.org/images/cloud/trixie/latest/SHA512SUMS"
disk_size     = "4G"
