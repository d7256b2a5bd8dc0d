#!/usr/bin/env bash
# Step liblzma: xz-utils' library only (no xz/lzma command-line tools, no docs, no NLS).
#   run by config/software/liblzma.rb (Omnibus) and omnibus/build.sh, in the unpacked source
# shellcheck source=omnibus/steps/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
run ./configure --prefix="$KIT_EMBEDDED" --disable-static --disable-doc --disable-nls \
  --disable-scripts --disable-xz --disable-xzdec --disable-lzmadec --disable-lzmainfo \
  --disable-lzma-links
run make -j"$KIT_JOBS"
run make install
run strip_installed
