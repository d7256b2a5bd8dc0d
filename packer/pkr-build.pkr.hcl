# What happens inside the build VM, in order: upload the .deb, install it offline
# (10-install-deb.sh), harden (20-harden.sh), check the service answers on its health URL
# (30-check-health.sh), report the installed packages
# (80-package-list.sh → reports_directory/packages.tsv), clean up (90-cleanup.sh: build
# user, host keys, machine-id, caches, logs, free blocks). Then the manifest and checksum.

locals {
  deb_file = basename(var.deb)
  # Debian's file naming: <package>_<version>_<arch>.deb; the unit has the package's name.
  package = split("_", local.deb_file)[0]
  # Every script runs as root through the build user's passwordless sudo.
  sudo = "chmod +x {{ .Path }}; sudo -n env {{ .Vars }} {{ .Path }}"
}

build {
  sources = ["source.qemu.debian"]

  provisioner "file" {
    source      = var.deb
    destination = "/tmp/${local.deb_file}"
  }

  provisioner "shell" {
    execute_command  = local.sudo
    environment_vars = ["DEB=/tmp/${local.deb_file}", "HEALTH_URL=${var.health_url}"]
    scripts          = ["${path.root}/scripts/10-install-deb.sh"]
  }

  provisioner "shell" {
    execute_command  = local.sudo
    environment_vars = ["SERVICE=${local.package}", "LAYER=${var.layer}"]
    scripts          = ["${path.root}/scripts/20-harden.sh"]
  }

  provisioner "shell" {
    execute_command  = local.sudo
    environment_vars = ["HEALTH_URL=${var.health_url}"]
    scripts          = ["${path.root}/scripts/30-check-health.sh"]
  }

  provisioner "shell" {
    execute_command  = local.sudo
    environment_vars = ["REPORT=/tmp/kit-packages.tsv"]
    scripts          = ["${path.root}/scripts/80-package-list.sh"]
  }

  provisioner "file" {
    direction   = "download"
    source      = "/tmp/kit-packages.tsv"
    destination = "${var.reports_directory}/packages.tsv"
  }

  provisioner "shell" {
    execute_command  = local.sudo
    environment_vars = ["SERVICE=${local.package}", "BUILD_USER=${var.ssh_username}"]
    scripts          = ["${path.root}/scripts/90-cleanup.sh"]
  }

  post-processors {
    post-processor "checksum" {
      checksum_types = ["sha256"]
      output         = "${var.output_directory}/${var.vm_name}.{{ .ChecksumType }}"
    }
    post-processor "manifest" {
      output     = "${var.output_directory}/packer-manifest.json"
      strip_path = true
      custom_data = {
        deb           = local.deb_file
        base_image    = var.base_image
        base_checksum = var.base_checksum
        accelerator   = var.accelerator
        disk_size     = var.disk_size
      }
    }
  }
}
