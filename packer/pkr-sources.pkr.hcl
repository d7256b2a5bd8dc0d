# The build VM: qemu boots a copy of the base cloud image (disk_image = true) with a
# cloud-init NoCloud seed disk that creates the throw-away build user, on user-mode
# networking with restrict=on — the VM reaches nothing but Packer's SSH port forward, so
# provisioning is provably offline.

locals {
  # The drives and the network, spelled out: qemuargs that name -drive or -netdev replace
  # Packer's own. drive 0 = the image Packer copied from base_image (virtio, discard
  # passed through so fstrim empties the qcow2), drive 1 = the seed, read-only.
  # {{ .SSHHostPort }} is filled in by Packer when it starts qemu.
  qemu_drives = [
    ["-drive", "file=${var.output_directory}/${var.vm_name},if=virtio,cache=writeback,discard=unmap,detect-zeroes=unmap,format=qcow2"],
    ["-drive", "file=${var.seed_image},if=virtio,format=raw,readonly=on"],
    ["-netdev", "user,id=user.0,restrict=on,hostfwd=tcp:127.0.0.1:{{ .SSHHostPort }}-:22"],
  ]
  qemu_serial  = var.serial_log == "" ? [] : [["-serial", "file:${var.serial_log}"]]
  qemu_pidfile = var.qemu_pidfile == "" ? [] : [["-pidfile", var.qemu_pidfile]]
}

source "qemu" "debian" {
  iso_url      = var.base_image
  iso_checksum = var.base_checksum
  disk_image   = true
  format       = "qcow2"
  disk_size    = var.disk_size
  # Compact and compress the image when the VM is off (qemu-img convert -c).
  disk_compression = true

  vm_name          = var.vm_name
  output_directory = var.output_directory
  accelerator      = var.accelerator
  cpus             = var.cpus
  memory           = var.memory
  net_device       = "virtio-net"
  disk_interface   = "virtio"
  headless         = true
  disable_vnc      = true
  qemuargs         = concat(local.qemu_drives, local.qemu_serial, local.qemu_pidfile)

  boot_wait              = "1s"
  communicator           = "ssh"
  ssh_host               = "127.0.0.1"
  ssh_username           = var.ssh_username
  ssh_private_key_file   = var.ssh_private_key_file
  ssh_timeout            = var.ssh_timeout
  ssh_handshake_attempts = 100
  # 90-cleanup.sh removes the build user as the VM powers off (a transient unit's
  # ExecStop), so this is the last command the user runs.
  shutdown_command = "sudo -n systemctl poweroff"
  shutdown_timeout = "5m"
}
