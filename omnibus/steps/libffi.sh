#!/usr/bin/env bash
# Step libffi: the shared library + headers into embedded/lib and embedded/include.
# Upstream's release tarball carries ./configure; Debian's orig tarball (the git tree) does
# not — then autogen.sh makes it (autoconf, automake, libtool on the builder).
#   run by config/software/libffi.rb (Omnibus) and omnibus/build.sh, in the unpacked source
# shellcheck source=omnibus/steps/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
[ -x configure ] || run ./autogen.sh
run ./configure --prefix="$KIT_EMBEDDED" --libdir="$KIT_EMBEDDED/lib" --disable-static \
  --disable-docs --disable-multi-os-directory
run make -j"$KIT_JOBS"
run make install
run strip_installed
