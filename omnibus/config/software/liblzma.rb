# liblzma (xz-utils, the library only): CPython's lzma module. Steps: omnibus/steps/liblzma.sh
require_relative "../../lib/kit_omnibus"

name "liblzma"
default_version "5.8.1"
license "0BSD"
license_file "COPYING"
license_file "COPYING.0BSD"
skip_transitive_dependency_licensing true

version "5.8.1" do
  source url: "https://github.com/tukaani-project/xz/releases/download/v5.8.1/xz-5.8.1.tar.xz",
         sha256: "0b54f79df85912504de0b14aec7971e3f964491af1812d83447005807513cd9e"
  # Debian's orig tarball is upstream's signed one, byte for byte (same sha256).
  internal_source url: KitOmnibus.debian("pool/main/x/xz-utils/xz-utils_5.8.1.orig.tar.xz"),
                  sha256: "0b54f79df85912504de0b14aec7971e3f964491af1812d83447005807513cd9e"
end

relative_path "xz-#{version}"

v = version
build do
  command KitOmnibus.step("liblzma"), env: KitOmnibus.step_env(install_dir, v, workers)
end
