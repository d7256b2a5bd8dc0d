# CPython, compiled from its release tarball against the embedded libraries above, no
# system library but the C runtime (the health check holds it to that). 3.13: the trixie
# lock's wheels (cp313) serve it. Steps: omnibus/steps/python.sh (configure, build,
# install, then drop the test suite, static library, headers' neighbours and docs).
require_relative "../../lib/kit_omnibus"

name "python"
default_version "3.13.5"
license "Python-2.0"
license_file "LICENSE"
skip_transitive_dependency_licensing true

dependency "zlib"
dependency "bzip2"
dependency "liblzma"
dependency "libffi"
dependency "libsqlite3"
dependency "openssl"

version "3.13.5" do
  source url: "https://www.python.org/ftp/python/3.13.5/Python-3.13.5.tar.xz",
         sha256: "93e583f243454e6e9e4588ca2c2662206ad961659863277afcdb96801647d640"
  # Debian's orig tarball is python.org's, byte for byte (same sha256).
  internal_source url: KitOmnibus.debian("pool/main/p/python3.13/python3.13_3.13.5.orig.tar.xz"),
                  sha256: "93e583f243454e6e9e4588ca2c2662206ad961659863277afcdb96801647d640"
end

relative_path "Python-#{version}"

v = version
build do
  command KitOmnibus.step("python"), env: KitOmnibus.step_env(install_dir, v, workers)
end
