# SQLite: CPython's sqlite3 module (the service's database). Steps: omnibus/steps/libsqlite3.sh
require_relative "../../lib/kit_omnibus"

name "libsqlite3"
default_version "3.46.1"
license "Public-Domain"
skip_transitive_dependency_licensing true

version "3.46.1" do
  source url: "https://www.sqlite.org/2024/sqlite-autoconf-3460100.tar.gz",
         sha256: "67d3fe6d268e6eaddcae3727fce58fcc8e9c53869bdd07a0c61e38ddf2965071"
  # Debian's orig tarball is SQLite's canonical source tree, not the amalgamation tarball:
  # other bytes, its own sha256, its own directory; `make` generates the amalgamation
  # (tclsh on the builder).
  internal_source url: KitOmnibus.debian("pool/main/s/sqlite3/sqlite3_3.46.1.orig.tar.xz"),
                  sha256: "d0cdd2ece271b29e7ce18095745d892517ee26d0f270065b3a25c2e9eb11639c"
end

if KitOmnibus.debian_sources?
  relative_path "sqlite3-#{version}"
  license_file "LICENSE.md"
else
  relative_path "sqlite-autoconf-3460100"
  license_file "https://www.sqlite.org/copyright.html"
end

v = version
build do
  command KitOmnibus.step("libsqlite3"), env: KitOmnibus.step_env(install_dir, v, workers)
end
