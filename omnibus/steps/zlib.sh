#!/usr/bin/env bash
# Step zlib: the shared library + headers into embedded/ (the project's `exclude` list keeps
# headers and the static library out of the package).
#   run by config/software/zlib.rb (Omnibus) and omnibus/build.sh, in the unpacked source
# shellcheck source=omnibus/steps/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
run ./configure --prefix="$KIT_EMBEDDED"
run make -j"$KIT_JOBS"
run make install
run strip_installed
