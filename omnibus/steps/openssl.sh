#!/usr/bin/env bash
# Step openssl: libssl + libcrypto (shared) and their headers into embedded/; no openssl
# command (no-apps), no docs, no test programs, no legacy ciphers. OPENSSLDIR is embedded/ssl; the package scripts point
# its cert.pem and certs/ at the host's CA store (/etc/ssl/certs, Debian's ca-certificates)
# when there is one, so TLS clients in the service verify against what the host trusts.
#   run by config/software/openssl.rb (Omnibus) and omnibus/build.sh, in the unpacked source
# shellcheck source=omnibus/steps/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
run ./config --prefix="$KIT_EMBEDDED" --libdir=lib --openssldir="$KIT_EMBEDDED/ssl" \
  shared no-apps no-tests no-docs no-comp no-idea no-mdc2 no-rc5 no-ssl3 no-zlib \
  "-Wl,-rpath,$KIT_EMBEDDED/lib"
run make -j"$KIT_JOBS"
run make install_sw install_ssldirs
# No CA store in the package: postinst links ssl/certs and ssl/cert.pem to the host's
# (Debian's ca-certificates) when it has one — a link shipped here would dangle without it.
run rm -rf "$KIT_EMBEDDED/ssl/certs" "$KIT_EMBEDDED/ssl/cert.pem" "$KIT_EMBEDDED/ssl/misc"
run strip_installed
