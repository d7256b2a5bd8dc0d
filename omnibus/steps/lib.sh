# shellcheck shell=bash
# Sourced by every step script. A step builds ONE component into $KIT_EMBEDDED from its
# unpacked source (the current directory), run by either runner:
#   - Omnibus: config/software/<name>.rb `command KitOmnibus.step(...)`, env from
#     KitOmnibus.step_env (omnibus/lib/kit_omnibus.rb);
#   - the kit's here-build: omnibus/build.sh, same env, same order (check.rb --plan).
# The compiler flags are set HERE, not by the runner — Omnibus's
# with_standard_compiler_flags(with_embedded_path), written once — so both runners compile
# the same way: headers and libraries from embedded/ first, an rpath to embedded/lib in
# every ELF (no LD_LIBRARY_PATH at run time), pkg-config blind to the system's .pc files.
set -euo pipefail
: "${KIT_EMBEDDED:?is not set — run steps through Omnibus or omnibus/build.sh, not by hand}"
: "${KIT_JOBS:=2}"
KIT_STEP="$(basename "$0" .sh)"
export PATH="$KIT_EMBEDDED/bin:$PATH"
export CPPFLAGS="-I$KIT_EMBEDDED/include"
export CFLAGS="-I$KIT_EMBEDDED/include -O2 -fstack-protector-strong -D_FORTIFY_SOURCE=2"
export LDFLAGS="-Wl,-rpath,$KIT_EMBEDDED/lib -L$KIT_EMBEDDED/lib -Wl,-z,relro -Wl,-z,now"
export LD_RUN_PATH="$KIT_EMBEDDED/lib"
export PKG_CONFIG_PATH="$KIT_EMBEDDED/lib/pkgconfig"
export PKG_CONFIG_LIBDIR="$KIT_EMBEDDED/lib/pkgconfig"

# run CMD ARGS… — print the raw command, then run it (a failure names the step).
run() {
  printf '  $'
  printf ' %q' "$@"
  printf '\n'
  "$@" || { echo "step $KIT_STEP: '$1' failed (rc $?) in $PWD — fix: see its output above" >&2; exit 1; }
}

# strip_installed — strip symbols and debug info from every ELF file under $KIT_EMBEDDED,
# as Omnibus packages ship (CPython's default -g alone is ~40 MB of libpython and its
# extension modules). Code and data are untouched: behaviour, the rpath and the health
# check's view are the same. Each native step ends with it (re-stripping is a no-op).
strip_installed() {
  local f magic
  while IFS= read -r -d '' f; do
    magic="$(head -c 4 "$f" | od -An -c | tr -d ' ')"
    [ "$magic" = '177ELF' ] || continue
    strip --strip-unneeded "$f" || { echo "step $KIT_STEP: strip failed on $f — fix: see above" >&2; exit 1; }
  done < <(find "$KIT_EMBEDDED" -type f ! -name '*.a' ! -name '*.o' -print0)
}
