#!/usr/bin/env bash
# The Omnibus health check: every ELF file under INSTALL_DIR must resolve each library it
# needs (ldd) to a file inside INSTALL_DIR, or to a base-system library named in the
# allow-list (omnibus/health-allowlist.txt). A library of the build host, or one not found
# at all, fails the check — one line per file and library — and stops the build before
# anything is packaged.
#   bash omnibus/health-check.sh INSTALL_DIR omnibus/health-allowlist.txt
# (omnibus/build.sh runs it in the builder; it needs only bash, coreutils, find, ldd.)
set -euo pipefail
root="${1:?usage: health-check.sh INSTALL_DIR ALLOWLIST}"
allow="${2:?usage: health-check.sh INSTALL_DIR ALLOWLIST}"
[ -d "$root" ] || { echo "health check: $root is not a directory — fix: build first" >&2; exit 2; }
mapfile -t allowed < <(sed -e 's/#.*//' "$allow" | awk 'NF {print $1}')
root="$(cd "$root" && pwd)"
bad=0 checked=0
while IFS= read -r -d '' file; do
  [ "$(head -c 4 "$file" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ] || continue # ELF magic
  checked=$((checked + 1))
  out="$(ldd "$file" 2>&1)" || true # a static or foreign file: ldd says so, nothing to resolve
  while IFS= read -r line; do
    line="${line#"${line%%[![:space:]]*}"}"
    case "$line" in "" | *"statically linked"* | *"not a dynamic executable"*) continue ;; esac
    lib="${line%% *}"
    if [[ "$line" == *"=> not found"* ]]; then
      echo "health check: ${file#"$root"/} needs $lib: not found — fix: embed it (a software definition) or allow-list it" >&2
      bad=$((bad + 1))
      continue
    fi
    path="$lib"
    if [[ "$line" == *"=> "* ]]; then path="${line#*=> }"; path="${path%% (*}"; fi
    [[ "$path" == "$root"/* ]] && continue
    soname="$(basename "$lib")"
    ok=0
    for pattern in "${allowed[@]}"; do
      # shellcheck disable=SC2053  # the allow-list holds globs
      if [[ "$soname" == $pattern ]]; then ok=1; break; fi
    done
    if [ "$ok" -eq 0 ]; then
      echo "health check: ${file#"$root"/} loads $soname from $path, outside $root and not allow-listed — fix: embed it (a software definition whose step builds it into embedded/) or, for a base-system library, add it to omnibus/health-allowlist.txt" >&2
      bad=$((bad + 1))
    fi
  done <<<"$out"
done < <(find "$root" -type f -print0)
if [ "$bad" -gt 0 ]; then
  echo "health check: FAILED — $bad finding(s) in $checked ELF files under $root" >&2
  exit 1
fi
echo "health check: $checked ELF files under $root resolve every library inside it or on the allow-list ($(wc -l <<<"$(printf '%s\n' "${allowed[@]}")") sonames)"
