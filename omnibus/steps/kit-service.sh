#!/usr/bin/env bash
# Step kit-service: the service into the embedded Python — its hash-checked wheelhouse
# (wheel/build.sh, cp3X wheels for this CPU), installed offline by the pinned pip run from
# its wheel (pip itself is never installed), bytecode compiled by that Python — plus the
# runtime files every systemd layer shares (the kit's templates/, rendered: unit, sysusers,
# tmpfiles, default config) under embedded/share/kit for the package scripts, and
# /opt/<name>/bin/<script> → ../embedded/bin/<script>.
#   run by config/software/kit-service.rb (Omnibus) and omnibus/build.sh; its source is the
#   kit's build dir (KIT_BUILD_DIR: kit.env, wheel/, extra/pip-*.whl, rendered/runtime/)
# shellcheck source=omnibus/steps/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
: "${KIT_BUILD_DIR:?is not set}" "${KIT_INSTALL_DIR:?is not set}"
# shellcheck source=/dev/null
. "$KIT_BUILD_DIR/kit.env"
wheelhouse="$KIT_BUILD_DIR/wheel/$KIT_NAME-$KIT_VERSION-$KIT_DISTRO-$KIT_ARCH.wheelhouse.tar.gz"
[ -f "$wheelhouse" ] || { echo "step kit-service: $wheelhouse not found — fix: ./kit build omnibus (omnibus/build.sh step 1 puts it there)" >&2; exit 1; }
pips=("$KIT_BUILD_DIR"/extra/pip-*.whl)
[ -f "${pips[0]}" ] || { echo "step kit-service: no pinned pip in $KIT_BUILD_DIR/extra — fix: ./kit build omnibus (omnibus/build.sh step 1 puts it there)" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
run tar -C "$work" -xzf "$wheelhouse"
run "$KIT_EMBEDDED/bin/python3" "${pips[0]}/pip" install --no-index --disable-pip-version-check \
  --no-cache-dir --no-compile --find-links "$work/wheelhouse" -r "$work/install.txt"
# Bytecode as the standard library's (steps/python.sh): level 0, checked-hash — valid
# whatever mtime the package gives the sources.
site="$("$KIT_EMBEDDED/bin/python3" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
run "$KIT_EMBEDDED/bin/python3" -m compileall -q -j0 -o 0 --invalidation-mode checked-hash "$site"
[ -x "$KIT_EMBEDDED/bin/$KIT_SCRIPT" ] \
  || { echo "step kit-service: embedded/bin/$KIT_SCRIPT is not installed — fix: kit.toml [service] command[0] must be a [project.scripts] entry" >&2; exit 1; }
run install -d "$KIT_EMBEDDED/share/kit" "$KIT_INSTALL_DIR/bin"
for f in unit.service sysusers.conf tmpfiles.conf config.toml; do
  if [ -f "$KIT_BUILD_DIR/rendered/runtime/$f" ]; then
    run install -m 0644 "$KIT_BUILD_DIR/rendered/runtime/$f" "$KIT_EMBEDDED/share/kit/$f"
  fi
done
run ln -sfn "../embedded/bin/$KIT_SCRIPT" "$KIT_INSTALL_DIR/bin/$KIT_SCRIPT"
