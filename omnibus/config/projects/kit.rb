# The Omnibus project: the service, the CPython it runs on and every native library that
# Python needs, as ONE package under /opt/<name> that runs on a host with no Python at all.
# Nothing here names the service: name, version, maintainer, licence and paths come from
# the facts the kit renders from kit.toml (omnibus/lib/kit_omnibus.rb).
#
# Build with real Omnibus (a builder that reaches rubygems.org and the upstream sites):
#   ./kit render omnibus --distro bookworm --version 1.0.0
#   cd omnibus && bundle install
#   KIT_BUILD_DIR=../.kit/build/omnibus/bookworm/1.0.0 bundle exec omnibus build kit
# Build here, without the gem (the same step scripts, in the same order):
#   ./kit build omnibus
require_relative "../../lib/kit_omnibus"

svc = KitOmnibus.service

name svc.fetch("name")
friendly_name svc.fetch("name")
maintainer svc.fetch("maintainer")
homepage svc.fetch("homepage")
description svc.fetch("description")
license svc.fetch("license")

# Code in /opt/<name> (read-only, owned by root), the way omnibus-gitlab lays it out; the
# service's config and data stay where kit.toml puts them for every layer (/etc/<name>,
# /var/lib/<name>), made by the package scripts through systemd-sysusers/tmpfiles.
install_dir "#{default_root}/#{name}"

build_version svc.fetch("version")
build_iteration 1

# The service pulls in python, which pulls in the libraries (config/software/).
dependency "kit-service"

# What the packages leave out of install_dir (relative to it): what the build needed but the
# service never runs — headers, static and libtool archives, pkg-config files, the
# extension-building config dir, docs and man pages, the optimised bytecode levels, IDLE,
# tkinter and turtle (no Tk here), ensurepip's bundled pip (nothing is pip-installed on the
# host), OpenSSL's cmake files and its c_rehash (a Perl script; the host may have no Perl),
# the interpreter's helper scripts. The standard library's test suite is never installed
# (python.sh: --disable-test-modules); every ELF is stripped (steps/lib.sh strip_installed).
exclude "**/.git"
exclude "embedded/include"
exclude "embedded/lib/*.a"
exclude "embedded/lib/*.la"
exclude "embedded/lib/pkgconfig"
exclude "embedded/lib/python*/config-*"
exclude "embedded/share/man"
exclude "embedded/share/doc"
exclude "embedded/ssl/misc"
exclude "embedded/lib/python*/**/__pycache__/*.opt-1.pyc"
exclude "embedded/lib/python*/**/__pycache__/*.opt-2.pyc"
exclude "embedded/lib/python*/idlelib"
exclude "embedded/lib/python*/tkinter"
exclude "embedded/lib/python*/turtledemo"
exclude "embedded/lib/python*/ensurepip"
exclude "embedded/lib/cmake"
exclude "embedded/bin/c_rehash"
exclude "embedded/bin/idle3*"
exclude "embedded/bin/pydoc3*"
exclude "embedded/bin/python3*-config"

# Rendered by `./kit render omnibus` from package-scripts/kit/*.j2 (they name the service).
package_scripts_path File.join(KitOmnibus.build_dir, "rendered", "package-scripts", "kit")

package :deb do
  compression_type :xz
  compression_level 6
  section "net"
end

package :rpm do
  compression_type :xz
  compression_level 6
  category "Applications/Internet"
end
