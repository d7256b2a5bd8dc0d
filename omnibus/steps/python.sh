#!/usr/bin/env bash
# Step python: CPython from its release tarball, shared (libpython3.X.so with an rpath to
# embedded/lib), linked against the embedded OpenSSL, SQLite, libffi, zlib, bz2 and lzma —
# never the system's. No ensurepip (the service's pinned pip runs from its wheel, outside),
# no test modules or test suite (--disable-test-modules), no static libpython, no readline,
# no dbm. Then the modules the service stands on must import.
#   run by config/software/python.rb (Omnibus) and omnibus/build.sh, in the unpacked source
# shellcheck source=omnibus/steps/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
run ./configure --prefix="$KIT_EMBEDDED" --enable-shared --without-static-libpython \
  --with-openssl="$KIT_EMBEDDED" --with-openssl-rpath=no \
  --without-ensurepip --disable-test-modules --with-dbmliborder= --with-readline=no \
  --without-system-expat --without-system-libmpdec
run make -j"$KIT_JOBS"
# checked-hash bytecode, not timestamps: the packages clamp every mtime to
# SOURCE_DATE_EPOCH, so a timestamp .pyc would be stale on the host and recompiled in memory
# at every start (the install tree is read-only to the service) — 1.2 s of imports instead
# of 0.3 s. (make compiles levels 0–2; the project's `exclude` ships level 0.)
run make install COMPILEALL_OPTS="-j0 --invalidation-mode checked-hash"
# A module whose library was not found is silently skipped by CPython's build: refuse that.
run "$KIT_EMBEDDED/bin/python3" -c '
import bz2, ctypes, decimal, hashlib, lzma, pyexpat, sqlite3, ssl, zlib
print("   ", ssl.OPENSSL_VERSION, "| SQLite", sqlite3.sqlite_version, "| zlib", zlib.ZLIB_RUNTIME_VERSION)'
run strip_installed
