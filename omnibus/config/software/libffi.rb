# libffi: CPython's ctypes module. Steps: omnibus/steps/libffi.sh
require_relative "../../lib/kit_omnibus"

name "libffi"
default_version "3.4.8"
license "MIT"
license_file "LICENSE"
skip_transitive_dependency_licensing true

version "3.4.8" do
  source url: "https://github.com/libffi/libffi/releases/download/v3.4.8/libffi-3.4.8.tar.gz",
         sha256: "bc9842a18898bfacb0ed1252c4febcc7e78fa139fd27fdc7a3e30d9d9356119b"
  # Debian's orig tarball is the git tag's tree, not the release tarball: other bytes, its
  # own sha256, and no generated ./configure (the step script runs autogen.sh then).
  internal_source url: KitOmnibus.debian("pool/main/libf/libffi/libffi_3.4.8.orig.tar.gz"),
                  sha256: "cbb7f0b3b095dc506387ec1e35b891bfb4891d05b90a495bc69a10f2293f80ff"
end

relative_path "libffi-#{version}"

v = version
build do
  command KitOmnibus.step("libffi"), env: KitOmnibus.step_env(install_dir, v, workers)
end
