#!/bin/bash
# The target's OWN package databases, as one text: dpkg's status file and everything
# under /var/lib/rpm (the distro rpm's default db; Debian ships it empty, and even a
# plain `rpm -qp` would create rpmdb.sqlite there). The rpm scenario's prepare.yml
# records it before the first install (ansible/molecule/rpm/prepare.yml);
# rpm/tests/test_lifecycle.py compares after install, upgrade, erase, reinstall and
# relocation: the company rpmdb must never touch them. Runs on the target:
#   bash rpm/tests/host_dbs.sh
set -euo pipefail
sha256sum /var/lib/dpkg/status
find /var/lib/rpm -printf '%M %u:%g %s %p\n' | sort
find /var/lib/rpm -type f -print0 | sort -z | xargs -0r sha256sum
if [ -e /root/.rpmdb ]; then echo "/root/.rpmdb exists"; fi
