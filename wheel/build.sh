#!/usr/bin/env bash
# Library rung: the service's wheel + a hash-checked wheelhouse of its locked
# dependencies for the target's Python and CPU, in one tarball. The target installs it
# with pip --no-index (no network at deploy time).
#
# Build (exact commands; `./kit build wheel` runs the same pair):
#   ./kit render wheel --distro trixie --version 1.0.0
#   bash wheel/build.sh --build-dir .kit/build/wheel/trixie/1.0.0 --out dist/wheel/trixie/1.0.0
#
# Everything else comes from the build dir's kit.env, which the kit computes once from
# kit.toml: the source tree (KIT_SOURCE), the version to stamp (KIT_VERSION), the
# target's Python (KIT_PYTHON_VERSION), CPU (KIT_ARCH/KIT_MACHINE: amd64/x86_64 or
# arm64/aarch64, as rendered) and SOURCE_DATE_EPOCH. The deb, rpm and docker builds call
# this script with their own build dir to get the same wheelhouse.
#
# Output: $KIT_NAME-$KIT_VERSION-$KIT_DISTRO-$KIT_ARCH.wheelhouse.tar.gz (+ .sha256)
# holding wheelhouse/*.whl and install.txt (the lock + the service wheel's own hash).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib/build.sh
. "$here/../lib/build.sh"
kit_args "$@"
[ "${#KIT_EXTRA[@]}" -eq 0 ] \
  || die "unknown argument '${KIT_EXTRA[0]}'" "pass only --build-dir DIR --out DIR (every other fact is in DIR/kit.env)"

lock="$KIT_SOURCE/requirements.lock"
[ -f "$KIT_SOURCE/pyproject.toml" ] \
  || die "$KIT_SOURCE/pyproject.toml not found" "point kit.toml's [service] source at the directory holding pyproject.toml"
[ -f "$lock" ] \
  || die "$lock not found" "lock the dependencies with hashes: uv pip compile --universal --generate-hashes pyproject.toml -o $lock"

# The distribution name may differ from kit.toml's name: read it from pyproject.
# Normalised twice: the wheel file's form (PEP 427: my_service) and the requirement's
# form (PEP 503: my-service).
read -r dist_name wheel_name pyproject_version < <(
  python3 - "$KIT_SOURCE/pyproject.toml" <<'PY'
import re, sys, tomllib
with open(sys.argv[1], "rb") as f:
    project = tomllib.load(f).get("project", {})
name = project.get("name", "")
if not name:
    sys.exit(f"{sys.argv[1]} has no [project] name")
print(re.sub(r"[-_.]+", "-", name).lower(), re.sub(r"[-_.]+", "_", name).lower(),
      project.get("version", "dynamic"))
PY
) || die "cannot read [project] name from $KIT_SOURCE/pyproject.toml" "add name = \"...\" under [project] there"

kit_work
mkdir -p "$work/src" "$work/wheelhouse"

step "copy source $KIT_SOURCE, stamp version $KIT_VERSION"
# Only what git sees (committed or new, not ignored): with `source = "."` the service's
# checkout also holds .kit/ (venvs), dist/ and .git, which a wheel must never carry.
# (A tree the kit prepared, e.g. the next version's under the ignored .kit/, is copied whole.)
if git -C "$KIT_SOURCE" rev-parse --is-inside-work-tree >/dev/null 2>&1 \
  && ! git -C "$KIT_SOURCE" check-ignore -q . 2>/dev/null; then
  # (deleted-but-tracked files are skipped; the inner sh expands $f itself)
  # shellcheck disable=SC2016
  git -C "$KIT_SOURCE" ls-files -z --cached --others --exclude-standard -- . |
    (cd "$KIT_SOURCE" && xargs -0 -r sh -c 'for f; do if [ -e "$f" ]; then printf "%s\0" "$f"; fi; done' sh) |
    tar -C "$KIT_SOURCE" --null -T - -cf - | tar -C "$work/src" -xf -
else
  tar -C "$KIT_SOURCE" --exclude=./.kit --exclude=./dist --exclude=./.git -cf - . | tar -C "$work/src" -xf -
fi
rm -rf "$work/src/build" "$work/src/"*.egg-info "$work/src/src/"*.egg-info
if [ "$pyproject_version" != "$KIT_VERSION" ] && [ "$pyproject_version" != dynamic ]; then
  # Another version than the source's (the upgrade test builds the next one).
  sed -i -E "0,/^version = \"[^\"]*\"/s//version = \"$KIT_VERSION\"/" "$work/src/pyproject.toml"
  grep -q "^version = \"$KIT_VERSION\"" "$work/src/pyproject.toml" \
    || die "could not stamp version $KIT_VERSION into pyproject.toml" "keep a literal 'version = \"X.Y.Z\"' line under [project]"
fi
# A dynamic version (setuptools-scm) takes the kit's version from here.
export SETUPTOOLS_SCM_PRETEND_VERSION="$KIT_VERSION"

step "build the service wheel ($dist_name $KIT_VERSION)"
show python3 -m pip wheel -q --no-deps --disable-pip-version-check -w "$work/wheelhouse" "$work/src"
python3 -m pip wheel -q --no-deps --disable-pip-version-check -w "$work/wheelhouse" "$work/src"

abi="cp${KIT_PYTHON_VERSION/./}"
step "download locked dependency wheels for $abi manylinux $KIT_MACHINE (hash-checked)"
download=(python3 -m pip download -q --disable-pip-version-check --require-hashes --only-binary=:all:
  --python-version "$KIT_PYTHON_VERSION" --implementation cp --abi "$abi" --abi abi3 --abi none
  --platform "manylinux_2_28_$KIT_MACHINE" --platform "manylinux_2_17_$KIT_MACHINE"
  --platform "manylinux2014_$KIT_MACHINE" --platform any
  -r "$lock" -d "$work/wheelhouse")
show "${download[@]}"
"${download[@]}" \
  || die "a locked dependency has no wheel for $abi on manylinux $KIT_MACHINE (or PyPI is unreachable)" \
    "check PyPI access (PIP_INDEX_URL / PIP_CERT), or pin a version that ships that wheel in $lock"

step "write install.txt (the lock + the service wheel's own hash)"
app_whls=("$work/wheelhouse/$wheel_name-$KIT_VERSION-"*.whl)
[ -f "${app_whls[0]}" ] \
  || die "the service wheel $wheel_name-$KIT_VERSION-*.whl was not built" "check that $KIT_SOURCE/pyproject.toml builds with: python3 -m pip wheel --no-deps $KIT_SOURCE"
app_hash="$(sha256sum "${app_whls[0]}" | cut -d' ' -f1)"
{ cat "$lock"; echo "$dist_name==$KIT_VERSION --hash=sha256:$app_hash"; } >"$work/install.txt"

tarball="$OUT/$KIT_NAME-$KIT_VERSION-$KIT_DISTRO-$KIT_ARCH.wheelhouse.tar.gz"
step "pack $tarball"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" \
  -C "$work" -cf - wheelhouse install.txt | gzip -n >"$tarball"
(cd "$OUT" && sha256sum "$(basename "$tarball")" >"$(basename "$tarball").sha256")
wheels=("$work/wheelhouse/"*.whl)
step "done: $(du -h "$tarball" | cut -f1) (${#wheels[@]} wheels)"
