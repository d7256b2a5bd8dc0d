# Every knob of the VM image build, typed and described. Defaults are what a user outside
# needs (the official Debian 13 cloud image, KVM); packer/build.sh overrides the base
# image and the accelerator for an offline build machine. Per-OS values live in
# os/<os>.pkrvars.hcl.

variable "base_image" {
  type        = string
  description = "The qcow2 the VM starts from (Packer's iso_url with disk_image = true): a Debian cloud image with cloud-init (NoCloud). A URL or file:// path."
  default     = "https://cloud.debian.org/images/cloud/trixie/latest/debian-13-genericcloud-amd64.qcow2"
}

variable "base_checksum" {
  type        = string
  description = "Checksum of base_image: \"sha256:<hex>\", \"sha512:<hex>\" or \"file:<URL of a SHA*SUMS file>\". \"none\" is refused: an image is only as trustworthy as its base."
  default     = "file:https://cloud.debian.org/images/cloud/trixie/latest/SHA512SUMS"

  validation {
    # Packer 1.6.6 has no regex(): prefixes and lengths (hex digits: Packer checks them).
    condition = ((substr(var.base_checksum, 0, 7) == "sha256:" && length(var.base_checksum) == 71)
      || (substr(var.base_checksum, 0, 7) == "sha512:" && length(var.base_checksum) == 135)
    || (substr(var.base_checksum, 0, 5) == "file:" && length(var.base_checksum) > 5))
    error_message = "The base_checksum must be sha256:<64 hex>, sha512:<128 hex> or file:<SHA*SUMS URL> (never none)."
  }
}

variable "deb" {
  type        = string
  description = "The service's .deb to bake in (path on the build machine), e.g. dist/deb/trixie/1.0.0/sample-service_1.0.0_amd64.deb. Its Depends must already be in the base image: it is installed with no network."

  validation {
    condition     = try(substr(var.deb, -4, -1), "") == ".deb"
    error_message = "The deb variable must name a .deb file (./kit build deb makes one)."
  }
}

variable "health_url" {
  type        = string
  description = "URL (inside the VM) that must answer 200 after the install, e.g. http://127.0.0.1:<port>/healthz; \"\" skips the check."
  default     = ""
}

variable "layer" {
  type        = string
  description = "What the service reports as its layer (KIT_LAYER in a unit drop-in): the image, not the package it was baked from."
  default     = "packer"
}

variable "vm_name" {
  type        = string
  description = "File name of the image in output_directory: <name>-<version>-<distro>-amd64.qcow2."
  default     = "image-amd64.qcow2"

  validation {
    condition     = try(substr(var.vm_name, -6, -1), "") == ".qcow2" && length(split("/", var.vm_name)) == 1
    error_message = "The vm_name must be a plain file name ending in .qcow2."
  }
}

variable "output_directory" {
  type        = string
  description = "Directory Packer writes the image into; it must not exist yet."
  default     = "output"
}

variable "reports_directory" {
  type        = string
  description = "Existing directory on the build machine that receives what the VM reports about itself before cleanup (packages.tsv: the installed Debian packages)."
  default     = "."
}

variable "disk_size" {
  type        = string
  description = "Virtual size of the image's disk (qemu-img units, e.g. 4G); the root partition grows to it on first boot (cloud-init growpart). Never smaller than the base image."
  default     = "4G"

  validation {
    condition     = length(var.disk_size) > 1 && contains(["M", "G"], substr(var.disk_size, -1, -1))
    error_message = "The disk_size must be a number with M or G, e.g. 4G."
  }
}

variable "memory" {
  type        = number
  description = "RAM of the build VM in MiB."
  default     = 1024
}

variable "cpus" {
  type        = number
  description = "vCPUs of the build VM."
  default     = 2
}

variable "accelerator" {
  type        = string
  description = "qemu accelerator: kvm on a Linux host with working /dev/kvm (fast), tcg where there is none (pure emulation, slow but works everywhere)."
  default     = "kvm"

  validation {
    condition     = contains(["kvm", "tcg", "hvf", "whpx"], var.accelerator)
    error_message = "The accelerator must be one of kvm, tcg, hvf, whpx."
  }
}

variable "seed_image" {
  type        = string
  description = "cloud-init NoCloud seed for the build: a raw disk labelled CIDATA whose user-data creates ssh_username with the public half of ssh_private_key_file (lib/nocloud-seed.sh). Made fresh per build by packer/build.sh."
}

variable "ssh_username" {
  type        = string
  description = "The throw-away build user the seed creates; 90-cleanup.sh removes it (as the VM powers off)."
  default     = "kit-build"
}

variable "ssh_private_key_file" {
  type        = string
  description = "Private key of the build user (generated per build, deleted after)."
}

variable "ssh_timeout" {
  type        = string
  description = "How long to wait for the first SSH login (boot + cloud-init). Emulation (tcg) is slow."
  default     = "10m"
}

variable "serial_log" {
  type        = string
  description = "File that receives the VM's serial console (kernel, systemd, cloud-init); \"\" for none."
  default     = ""
}

variable "qemu_pidfile" {
  type        = string
  description = "File qemu writes its process id to, so a wrapper can always stop the VM (packer/build.sh does); \"\" for none."
  default     = ""
}
