#!/usr/bin/env bash
# The Pi layer's own lint (layer.toml tests.lint; kit test's lint stage runs it): the
# first-boot program has no .py suffix, so the repo-wide ruff/mypy runs do not see it.
#   bash hardware/lint.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin="$here/../.kit/venv/bin"
prog="$here/firstboot/kit-firstboot"
for tool in ruff mypy; do
  [ -x "$bin/$tool" ] || { echo "hardware/lint.sh: $bin/$tool not found — fix: run ./kit once (it makes .kit/venv)" >&2; exit 1; }
done
echo "  \$ ruff check + ruff format --check + mypy --strict $prog"
"$bin/ruff" check "$prog"
"$bin/ruff" format --check "$prog"
"$bin/mypy" --strict --scripts-are-modules "$prog"
