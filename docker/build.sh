#!/usr/bin/env bash
# Container rung: the service as a small, non-root, read-only image (docker/Dockerfile),
# built from the same hash-checked wheelhouse as the wheel rung, plus an SBOM of the
# image's Python environment and image.json (ref, id, sizes, build timing) beside it.
#
# Build (exact command; `./kit build docker` runs the same, with --standin-base):
#   bash docker/build.sh --distro trixie --version 1.0.0 --out dist/docker/trixie/1.0.0
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
here="$root/docker"

distro=trixie
version=""
out=""
name=sample-service                 # CHANGE ME: your distribution name (the Dockerfile's paths)
uid=990                             # CHANGE ME: the service user's fixed ids (kit.toml)
gid=990
port=8080
image=""                            # CHANGE ME: your registry/repository, e.g. registry.example.com/team/sample-service (default: kit/<name>)
base_image=""                       # default: python:<distro's python>-slim-<distro> (the upstream image)
standin_base=false                  # build a local stand-in for the base when it is absent (offline machines)
source_dir="$root/sample_service"   # CHANGE ME: your service's source tree (pyproject.toml + requirements.lock)
source_url="${KIT_IMAGE_SOURCE:-}"  # org.opencontainers.image.source; default: git remote origin

usage() {
  echo "usage: $0 --distro trixie|bookworm --version X.Y.Z --out DIR [--name NAME] [--uid N --gid N]" \
    "[--port N] [--image REPO] [--base-image REF] [--standin-base] [--source DIR] [--source-url URL]" >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case "$1" in
    --distro) distro="$2"; shift 2 ;;
    --version) version="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --name) name="$2"; shift 2 ;;
    --uid) uid="$2"; shift 2 ;;
    --gid) gid="$2"; shift 2 ;;
    --port) port="$2"; shift 2 ;;
    --image) image="$2"; shift 2 ;;
    --base-image) base_image="$2"; shift 2 ;;
    --standin-base) standin_base=true; shift ;;
    --source) source_dir="$2"; shift 2 ;;
    --source-url) source_url="$2"; shift 2 ;;
    *) echo "build.sh: unknown argument '$1'" >&2; usage ;;
  esac
done
[ -n "$version" ] && [ -n "$out" ] || usage

die() { echo "build.sh: $1 — fix: $2" >&2; exit 1; }
case "$distro" in
  trixie) py=3.13 ;;
  bookworm) py=3.11 ;;
  *) die "--distro $distro is not supported" "use trixie or bookworm" ;;
esac
base_image="${base_image:-python:$py-slim-$distro}"
image="${image:-kit/$name}"
[[ "$uid" =~ ^[1-9][0-9]*$ && "$gid" =~ ^[1-9][0-9]*$ ]] || die "--uid $uid / --gid $gid must be non-zero numbers" "use the service user's fixed ids from kit.toml"
grep -q "/opt/$name/venv" "$here/Dockerfile" || die "docker/Dockerfile does not use /opt/$name" "render its CHANGE ME names for '$name' (kit adopt does)"
docker info >/dev/null 2>&1 || die "the docker engine is not reachable" "start it: ./kit doctor --fix (or: dockerd &)"
cdx="$(command -v cyclonedx-py || echo "$root/.kit/venv/bin/cyclonedx-py")"
[ -x "$cdx" ] || die "cyclonedx-py not found" "pip install cyclonedx-bom (./kit installs it in .kit/venv)"

t0=$SECONDS
step() { echo "▶ [$((SECONDS - t0)) s] $*"; }
show() { printf '$'; printf ' %q' "$@"; echo; }

work="$(mktemp -d)"
cid=""
cleanup() { [ -z "$cid" ] || docker rm -f -v "$cid" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
mkdir -p "$out"
out="$(cd "$out" && pwd)"

# --- the base image -------------------------------------------------------------------
if $standin_base; then
  recipe="$( (cat "$here/python-base.Dockerfile"; echo "$distro") | sha256sum | cut -c1-16)"
  have="$(docker image inspect -f '{{index .Config.Labels "org.kit.stand-in"}}' "$base_image" 2>/dev/null || echo absent)"
  if [ "$have" = "$recipe" ]; then
    step "base $base_image: local stand-in, current (recipe $recipe)"
  elif [ "$have" != absent ] && [ -z "$have" ]; then
    step "base $base_image: the real upstream image is present — using it"
  else
    step "base $base_image: absent — building the offline stand-in (Debian's python3 on debian:$distro-slim)"
    docker image inspect "debian:$distro-slim" >/dev/null 2>&1 \
      || die "debian:$distro-slim is not present" "./kit images --variant slim --distro $distro"
    mkdir "$work/empty"
    cmd=(docker build --force-rm -f "$here/python-base.Dockerfile" --build-arg "DEBIAN_IMAGE=debian:$distro-slim"
         --label "org.kit.stand-in=$recipe" -t "$base_image" "$work/empty")
    show "${cmd[@]}"
    "${cmd[@]}" || die "building the stand-in base failed" "check that http://deb.debian.org is reachable from containers"
  fi
fi

# --- the build context: the wheel rung's wheelhouse, split into deps and app ------------
step "wheelhouse (wheel/build.sh: the service wheel + hash-checked dependency wheels)"
bash "$root/wheel/build.sh" --distro "$distro" --version "$version" --out "$work/wheel" \
  --name "$name" --source "$source_dir"
tar -xzf "$work/wheel/$name-$version-$distro-amd64.wheelhouse.tar.gz" -C "$work/wheel"

step "stage the build context in $out/context"
ctx="$out/context"
rm -rf "$ctx"
mkdir -p "$ctx/deps" "$ctx/app"
app_whl="$(find "$work/wheel/wheelhouse" -name "${name//-/_}-$version-*.whl" -print -quit)"
[ -n "$app_whl" ] || die "the service wheel ${name//-/_}-$version-*.whl is missing" "check --name against pyproject's name"
cp "$source_dir/requirements.lock" "$ctx/deps/requirements.lock"
find "$work/wheel/wheelhouse" -name '*.whl' ! -path "$app_whl" -exec cp {} "$ctx/deps/" \;
cp "$app_whl" "$ctx/app/"
grep "^$name==$version " "$work/wheel/install.txt" >"$ctx/app/app.txt" \
  || die "install.txt has no pin for $name==$version" "rebuild the wheelhouse with wheel/build.sh"
cp "$here/stage.py" "$ctx/stage.py"
cp "$here/.dockerignore" "$ctx/.dockerignore"

# --- docker build ---------------------------------------------------------------------
revision="$(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)"
if [ "$revision" != unknown ] && [ -n "$(git -C "$root" status --porcelain 2>/dev/null | head -1)" ]; then
  revision="$revision-dirty"
fi
created="$(date -u -d "@${SOURCE_DATE_EPOCH:-$(git -C "$root" log -1 --format=%ct 2>/dev/null || echo 0)}" +%Y-%m-%dT%H:%M:%SZ)"
source_url="${source_url:-$(git -C "$root" remote get-url origin 2>/dev/null || true)}"
ref="$image:$version-$distro"
cmd=(docker build --force-rm -f "$here/Dockerfile" --iidfile "$work/iid"
     --build-arg "BASE_IMAGE=$base_image" --build-arg "UID=$uid" --build-arg "GID=$gid"
     --build-arg "PORT=$port" --build-arg "VERSION=$version" --build-arg "REVISION=$revision"
     --build-arg "CREATED=$created")
[ -z "$source_url" ] || cmd+=(--build-arg "SOURCE=$source_url")
cmd+=(-t "$ref" "$ctx")
step "docker build → $ref"
show "${cmd[@]}"
b0=$SECONDS
"${cmd[@]}" 2>&1 | tee "$out/build.log" \
  || die "docker build failed (log: $out/build.log)" "read the failing step's output above; rebuild with --no-cache if a cached layer is suspect"
build_seconds=$((SECONDS - b0))
id="$(cat "$work/iid")"
# Which filesystem steps (COPY/RUN) came from cache, and which were rebuilt (classic
# builder's log; BuildKit's plain log marks cached steps CACHED).
read -r steps cached rebuilt < <(awk '
  /^Step [0-9]+\/[0-9]+ : (COPY|RUN) / { n++; cur = $4 " " $5; pending = 1; next }
  pending && /^ ---> Using cache/ { c++; pending = 0; next }
  pending && /^ ---> / { r = r (r ? "," : "") cur; pending = 0 }
  /^#[0-9]+ \[.*\] (COPY|RUN) / { n++ } /^#[0-9]+ CACHED/ { c++ }
  END { print n + 0, c + 0, (r ? r : "-") }' "$out/build.log")
step "built $id in $build_seconds s: $cached of $steps COPY/RUN steps from cache (rebuilt: ${rebuilt//,/; })"

# --- measure: the image vs. interpreter + deps + app, counted inside the image ----------
step "measure the image"
run=(docker run --rm --network none --read-only --cap-drop ALL --security-opt no-new-privileges
     --entrypoint "/opt/$name/venv/bin/python3" "$ref" -I -c "$(cat "$here/stage.py")")
measured="$("${run[@]}" measure "$name" "/opt/$name/venv")"
compressed="$(docker save "$ref" | gzip -1 | wc -c)"

# --- SBOM of the image's Python environment ---------------------------------------------
# cyclonedx-py reads installed distributions' metadata. It runs on this host, so it reads
# the image's own site-packages, copied out, through a host venv whose site-packages is
# that copy (the host's python only lists the path; every record comes from the image).
step "SBOM (CycloneDX) of the image's venv"
cid="$(docker create "$ref")"
docker cp "$cid:/opt/$name/venv/lib" "$work/image-lib" >/dev/null
site="$(find "$work/image-lib" -maxdepth 2 -type d -name site-packages -print -quit)"
python3 -m venv --without-pip "$work/sbom-env"
shim="$("$work/sbom-env/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
rm -rf "$shim" && ln -s "$site" "$shim"
cmd=("$cdx" environment --output-reproducible --of JSON -o "$work/sbom.json" "$work/sbom-env")
show "${cmd[@]}"
"${cmd[@]}" || die "cyclonedx-py failed" "read its message above (cyclonedx-bom >= 4 is needed)"

# The image as the SBOM's subject; every component must match the lock the build used.

python3 - "$work/sbom.json" "$out/sbom.cdx.json" "$ctx" "$ref" "$id" "$version" <<'PY'
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
python3 - "$work/inspect.json" "$out/image.json" "$ref" "$base_image" "$build_seconds" "$steps" "$cached" "$rebuilt" "$compressed" "$measured" <<'PY'
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
step "done: $ref ($out/image.json, $out/sbom.cdx.json)"
