#!/usr/bin/env bash
# Step bzip2: libbz2 (shared, with its soname) + bzlib.h into embedded/. bzip2 has no
# configure: its Makefile-libbz2_so makes the shared library, the plain Makefile the rest.
#   run by config/software/bzip2.rb (Omnibus) and omnibus/build.sh, in the unpacked source
# shellcheck source=omnibus/steps/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
run make -j"$KIT_JOBS" -f Makefile-libbz2_so CC="gcc" CFLAGS="$CFLAGS -fPIC -D_FILE_OFFSET_BITS=64" \
  LDFLAGS="$LDFLAGS"
run install -d "$KIT_EMBEDDED/lib" "$KIT_EMBEDDED/include"
run install -m 0755 "libbz2.so.$KIT_COMPONENT_VERSION" "$KIT_EMBEDDED/lib/"
run ln -sf "libbz2.so.$KIT_COMPONENT_VERSION" "$KIT_EMBEDDED/lib/libbz2.so.1.0"
run ln -sf "libbz2.so.1.0" "$KIT_EMBEDDED/lib/libbz2.so"
run install -m 0644 bzlib.h "$KIT_EMBEDDED/include/"
run strip_installed
