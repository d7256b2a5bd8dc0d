# OpenSSL: CPython's ssl and hashlib modules. Steps: omnibus/steps/openssl.sh
require_relative "../../lib/kit_omnibus"

name "openssl"
default_version "3.5.7"
license "Apache-2.0"
license_file "LICENSE.txt"
skip_transitive_dependency_licensing true

version "3.5.7" do
  source url: "https://github.com/openssl/openssl/releases/download/openssl-3.5.7/openssl-3.5.7.tar.gz",
         sha256: "a8c0d28a529ca480f9f36cf5792e2cd21984552a3c8e4aa11a24aa31aeac98e8"
  # Debian's orig tarball is upstream's signed one, byte for byte (same sha256).
  internal_source url: KitOmnibus.debian("pool/main/o/openssl/openssl_3.5.7.orig.tar.gz"),
                  sha256: "a8c0d28a529ca480f9f36cf5792e2cd21984552a3c8e4aa11a24aa31aeac98e8"
end

relative_path "openssl-#{version}"

v = version
build do
  command KitOmnibus.step("openssl"), env: KitOmnibus.step_env(install_dir, v, workers)
end
