#!/usr/bin/env bash
# The host's own tree, one line per path, for rpm/tests/test_company_rpmdb.py: taken with
# the package erased, again after an install + erase, and compared — the package may leave
# nothing behind and change nothing of the host. Covers /etc, /usr, /opt and /var/lib:
# every path with its type, mode and owner, regular files with their size and (a second
# line) sha256, symlinks with their target; no times (they change when nothing else does).
# Runs on the target; each argument is a directory left out (the data dir, which erase
# keeps on purpose, and the company rpmdb, whose records are checked with rpm -q):
#   bash rpm/tests/host_tree.sh /var/lib/<name> /opt/acme/var/lib/rpm
set -euo pipefail
roots=(/etc /usr /opt /var/lib)
prune=()
for dir in "$@"; do
  prune+=(-path "$dir" -prune -o)
done
{
  find "${roots[@]}" -xdev "${prune[@]}" \
    \( -type f -printf 'f %m %u:%g %s %p\n' \) \
    -o \( -type l -printf 'l %m %u:%g %p -> %l\n' \) \
    -o -printf '%y %m %u:%g %p\n'
  find "${roots[@]}" -xdev "${prune[@]}" -type f -print0 | xargs -0r sha256sum
} | LC_ALL=C sort
