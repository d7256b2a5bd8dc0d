#!/usr/bin/env bash
# Step libsqlite3: the shared library + headers into embedded/ (not the sqlite3 shell: the
# service only needs the library). Upstream's autoconf
# tarball carries the amalgamation; Debian's orig tarball is the canonical tree, whose
# `make` generates it first (tclsh on the builder). The same commands build both.
#   run by config/software/libsqlite3.rb (Omnibus) and omnibus/build.sh, in the unpacked source
# shellcheck source=omnibus/steps/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# What CPython's sqlite3 module and the service use: JSON (built in), FTS5, math functions,
# column metadata, a thread-safe library.
export CFLAGS="$CFLAGS -DSQLITE_ENABLE_COLUMN_METADATA=1 -DSQLITE_ENABLE_FTS5=1 -DSQLITE_ENABLE_MATH_FUNCTIONS=1 -DSQLITE_THREADSAFE=1"
run ./configure --prefix="$KIT_EMBEDDED" --enable-shared --disable-static --disable-tcl \
  --disable-readline
# Only the library: `make`'s default also builds the sqlite3 shell, which compiles the
# whole amalgamation a second time (40 s here) for a program the service never runs.
run make -j"$KIT_JOBS" libsqlite3.la sqlite3.h sqlite3.pc
if grep -q '^lib_install:' Makefile; then # the canonical tree (Debian's orig tarball)
  run make lib_install
  run install -d "$KIT_EMBEDDED/include" "$KIT_EMBEDDED/lib/pkgconfig"
  run install -m 0644 sqlite3.h src/sqlite3ext.h "$KIT_EMBEDDED/include/"
  run install -m 0644 sqlite3.pc "$KIT_EMBEDDED/lib/pkgconfig/"
else # upstream's autoconf tarball (automake's install targets)
  run make install-libLTLIBRARIES install-includeHEADERS install-pkgconfigDATA
fi
run strip_installed
