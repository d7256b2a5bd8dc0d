# bzip2: CPython's bz2 module. Steps: omnibus/steps/bzip2.sh
require_relative "../../lib/kit_omnibus"

name "bzip2"
default_version "1.0.8"
license "bzip2-1.0.6"
license_file "LICENSE"
skip_transitive_dependency_licensing true

version "1.0.8" do
  source url: "https://sourceware.org/pub/bzip2/bzip2-1.0.8.tar.gz",
         sha256: "ab5a03176ee106d3f0fa90e381da478ddae405918153cca248e682cd0c4a2269"
  # Debian's orig tarball is upstream's, byte for byte (same sha256).
  internal_source url: KitOmnibus.debian("pool/main/b/bzip2/bzip2_1.0.8.orig.tar.gz"),
                  sha256: "ab5a03176ee106d3f0fa90e381da478ddae405918153cca248e682cd0c4a2269"
end

relative_path "bzip2-#{version}"

v = version
build do
  command KitOmnibus.step("bzip2"), env: KitOmnibus.step_env(install_dir, v, workers)
end
