# Which Packer runs this. Packer 1.6.6 (Debian 12's package) has the qemu builder built
# in and accepts this block; it rejects a required_plugins block ("Unsupported block
# type"), so there is none. Packer >= 1.10 ships no builders: install the qemu plugin
# once, then the same templates run unchanged:
#   packer plugins install github.com/hashicorp/qemu
packer {
  required_version = ">= 1.6.6"
}
