#!/bin/sh -eux
# The installed Debian packages, as the image ships them: name, version, architecture,
# source package and version (tab-separated), for packages.tsv and the CycloneDX SBOM
# beside the image. Readable by the build user, who downloads it.
#   env: REPORT  where to write it
: "${REPORT:?REPORT=<file> is required}"
dpkg-query -W -f='${db:Status-Abbrev}\t${binary:Package}\t${Version}\t${Architecture}\t${source:Package}\t${source:Version}\n' \
  | awk -F'\t' '$1 ~ /^ii/ { sub(/:.*/, "", $2); print $2 "\t" $3 "\t" $4 "\t" $5 "\t" $6 }' \
  | LC_ALL=C sort >"$REPORT"
chmod 0644 "$REPORT"
wc -l <"$REPORT"
