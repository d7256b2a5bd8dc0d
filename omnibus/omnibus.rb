# Omnibus's own configuration for this project (read by `bundle exec omnibus build kit`).
#   KIT_BUILD_DIR=<rendered build dir> bundle exec omnibus build kit
require_relative "lib/kit_omnibus"

# Where Omnibus keeps downloads, unpacked sources, the per-component build cache (a git
# repository of install_dir, one tag per component) and packages.
base_dir ENV.fetch("OMNIBUS_BASE_DIR", "/var/cache/omnibus")
use_git_caching true

# Only this project's definitions (config/software/): no omnibus-software gem.
software_gems []

# Sources: upstream by default. KIT_OMNIBUS_SOURCES=debian takes every source from Debian's
# archive instead (each definition's `internal_source`, with that file's own sha256 where
# Debian repacked it) — what an offline builder with a Debian mirror uses.
use_internal_sources KitOmnibus.debian_sources?

fetcher_retries 3
build_retries 0
append_timestamp false
# The health check: every ELF under install_dir resolves its libraries inside it or on the
# generic Linux allow-list (libc, libm, libpthread, libdl, librt, libgcc_s, …).
health_check true
