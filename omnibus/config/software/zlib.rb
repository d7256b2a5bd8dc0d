# zlib: CPython's zlib module (gzip, zipfile, pip's wheels). Steps: omnibus/steps/zlib.sh
require_relative "../../lib/kit_omnibus"

name "zlib"
default_version "1.3.1"
license "Zlib"
license_file "LICENSE"
skip_transitive_dependency_licensing true

version "1.3.1" do
  source url: "https://zlib.net/fossils/zlib-1.3.1.tar.gz",
         sha256: "9a93b2b7dfdac77ceba5a558a580e74667dd6fede4585b91eefb60f03b72df23"
  # Debian repacked it (+dfsg: contrib/, win32/ and the RFC texts left out): other bytes,
  # its own sha256; the same zlib-1.3.1/ tree otherwise.
  internal_source url: KitOmnibus.debian("pool/main/z/zlib/zlib_1.3.dfsg+really1.3.1.orig.tar.gz"),
                  sha256: "60dd315c07f616887caa029408308a018ace66e3d142726a97db164b3b8f69fb"
end

relative_path "zlib-#{version}"

v = version
build do
  command KitOmnibus.step("zlib"), env: KitOmnibus.step_env(install_dir, v, workers)
end
