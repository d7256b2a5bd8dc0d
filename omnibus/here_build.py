#!/usr/bin/env python3
"""The kit's here-build of the Omnibus project, for builders without the omnibus gem.

It runs the recipe's OWN step commands — the ones the software definitions declare
(`ruby omnibus/check.rb --plan` evaluates them) — in Omnibus's build order, each in the
builder container with the network off, from sources fetched and sha256-checked here.
It is not a second recipe: it knows no component by name; everything it runs comes from
config/software/*.rb and omnibus/steps/.

What it keeps from Omnibus:
  - the per-component build cache: component i's key hashes component i-1's key, its
    definition, its step script, steps/lib.sh, its source's sha256 (a local source: its
    content) and the builder image; install_dir is snapshotted after each component, and a
    rebuild restores the longest cached prefix and builds only what follows (Omnibus's git
    cache, as tars under <cache>/omnibus/build/);
  - licence collection (LICENSES/<component>-<file> after each component, LICENSE);
  - version-manifest.json (format 2) and version-manifest.txt.

  python3 omnibus/here_build.py --plan PLAN.json --builder IMAGE --cache-dir DIR \
      --opt DIR [--times FILE] [--jobs N]          build install_dir into DIR
  python3 omnibus/here_build.py --plan PLAN.json --opt DIR --stage DEST
                                                   copy it to DEST minus `exclude`
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shlex
import shutil
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RECIPE = "1"  # bump when what the here-build does around a step changes


class BuildError(Exception):
    """One line: what failed, and the fix."""


def say(message: str) -> None:
    print(message, flush=True)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_tree(root: Path) -> str:
    """A local source's content hash (Omnibus hashes a path source the same way: every
    file's path and bytes)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and ".kit" not in p.parts):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(sha256_file(path).encode())
    return digest.hexdigest()


def fetch(component: dict[str, Any], store: Path) -> Path | None:
    """The component's source tarball in the cache (by sha256), downloaded if missing.
    A path source returns None (it is mounted as it is)."""
    source = component["source"]
    if "path" in source:
        return None
    url, want = source["url"], source["sha256"]
    name = component["name"]
    target = store / f"{want}-{url.rsplit('/', 1)[-1]}"
    if target.is_file():
        return target
    store.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    t0 = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=60) as response, partial.open("wb") as out:
            shutil.copyfileobj(response, out)
    except (urllib.error.URLError, OSError) as err:
        partial.unlink(missing_ok=True)
        raise BuildError(
            f"{name}: cannot fetch {url} ({err}) — fix: check the network; a 404 from Debian's "
            "pool means that version was superseded: pin one listed in "
            f"dists/<release>/main/source/Sources in omnibus/config/software/{name}.rb "
            "(or build with --sources upstream where the upstream sites are reachable)"
        ) from err
    got = sha256_file(partial)
    if got != want:
        partial.unlink()
        raise BuildError(
            f"{name}: {url} has sha256 {got}, its definition pins {want} — fix: a corrupted or "
            f"changed download: retry; if upstream really changed it, review and re-pin "
            f"config/software/{name}.rb"
        )
    partial.rename(target)
    say(
        f"  fetched {url} ({target.stat().st_size >> 10} KiB, sha256 ok,"
        f" {time.monotonic() - t0:.0f} s)"
    )
    return target


def component_keys(plan: dict[str, Any], builder_id: str) -> list[str]:
    keys: list[str] = []
    previous = f"recipe={RECIPE} builder={builder_id}"
    lib = (HERE / "steps" / "lib.sh").read_bytes()
    for comp in plan["components"]:
        digest = hashlib.sha256(previous.encode())
        digest.update(Path(comp["definition"]).read_bytes())
        digest.update(lib)
        for cmd in comp["commands"]:
            # The checkout's own path is not part of a component's identity: the same
            # definitions in another checkout (CI's clone, an adopted service) hit the cache.
            digest.update(json.dumps(cmd, sort_keys=True).replace(str(HERE), "<omnibus>").encode())
            for word in shlex.split(cmd.get("command", "")):
                if word.endswith(".sh") and Path(word).is_file():
                    digest.update(Path(word).read_bytes())
        source = comp["source"]
        digest.update(
            source["sha256"].encode()
            if "sha256" in source
            else sha256_tree(Path(source["path"])).encode()
        )
        previous = digest.hexdigest()
        keys.append(previous)
    return keys


def docker_run(argv: list[str], what: str, log: Path | None = None) -> None:
    """Run one builder container; with LOG, its output goes there (a compile's thousands
    of lines) and only the last 60 lines are shown when it fails."""
    if log is None:
        proc = subprocess.run(argv, check=False)
    else:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("wb") as out:
            proc = subprocess.run(argv, check=False, stdout=out, stderr=subprocess.STDOUT)
        if proc.returncode != 0:
            lines = log.read_text(errors="replace").splitlines()[-60:]
            print("\n".join(f"    | {line}" for line in lines), file=sys.stderr, flush=True)
    if proc.returncode != 0:
        where = f"the last lines above; all of it in {log}" if log else "the output above"
        raise BuildError(f"{what} failed (rc {proc.returncode}) — fix: see {where}")


def build_component(
    comp: dict[str, Any],
    tarball: Path | None,
    opt: Path,
    install_dir: str,
    builder: str,
    jobs: int,
    log: Path | None = None,
) -> None:
    """Unpack the source in the builder, run the definition's commands there (network
    off), then collect the licence files into install_dir/LICENSES."""
    mounts = ["-v", f"{opt}:{install_dir}", "-v", f"{HERE}:{HERE}:ro"]
    env: dict[str, str] = {}
    for cmd in comp["commands"]:
        env.update(cmd.get("env", {}))
    env["KIT_JOBS"] = str(jobs)
    build_dir = env.get("KIT_BUILD_DIR")
    if build_dir:
        mounts += ["-v", f"{build_dir}:{build_dir}:ro"]
    if tarball is not None:
        mounts += ["-v", f"{tarball}:/in/source:ro"]
        prepare = "mkdir -p /src && tar -xf /in/source -C /src && cd /src/" + shlex.quote(
            comp["relative_path"]
        )
    else:
        prepare = "cd " + shlex.quote(comp["source"]["path"])
    script = [prepare]
    for cmd in comp["commands"]:
        if "command" not in cmd:
            raise BuildError(
                f"{comp['name']}: its build uses `{cmd['verb']}`, which only real Omnibus runs"
                f" — fix: put it in omnibus/steps/{comp['name']}.sh"
            )
        script.append(cmd["command"])
    licences = [f for f in comp["license_files"] if "://" not in f]
    if licences:
        script.append(f"mkdir -p {shlex.quote(install_dir)}/LICENSES")
        for lic in licences:
            dest = f"{install_dir}/LICENSES/{comp['name']}-{Path(lic).name}"
            script.append(f"install -m 0644 {shlex.quote(lic)} {shlex.quote(dest)}")
    argv = ["docker", "run", "--rm", "--network", "none", *mounts]
    for key, value in env.items():
        argv += ["-e", f"{key}={value}"]
    argv += [builder, "bash", "-euo", "pipefail", "-c", " && ".join(script)]
    docker_run(argv, f"component {comp['name']} {comp['version']}", log)


def snapshot(opt: Path, dest: Path) -> None:
    partial = dest.with_name(dest.name + ".partial")
    with tarfile.open(partial, "w") as tar:
        tar.add(opt, arcname=".")
    partial.rename(dest)


def restore(src: Path, opt: Path) -> None:
    shutil.rmtree(opt, ignore_errors=True)
    opt.mkdir(parents=True)
    with tarfile.open(src) as tar:
        tar.extractall(opt, filter="tar")


def git_revision() -> str:
    """The kit checkout's commit (Omnibus records the project repository's), or "unknown"."""
    proc = subprocess.run(
        ["git", "-C", str(HERE), "rev-parse", "HEAD"], capture_output=True, text=True, check=False
    )
    return proc.stdout.strip() if proc.returncode == 0 else "unknown"


def write_manifests(plan: dict[str, Any], opt: Path) -> None:
    """version-manifest.json (Omnibus's format 2), version-manifest.txt and LICENSE."""
    project = plan["project"]
    software = {}
    for comp in plan["components"]:
        source = comp["source"]
        locked = {k: v for k, v in source.items() if k in ("url", "sha256")}
        if "path" in source:
            # The kit's build dir, named from the kit root (no build machine's path in the
            # package); its content is the service's wheelhouse, pinned by its sha256.
            where = Path(source["path"]).resolve()
            kit_root = HERE.parent.resolve()
            locked["path"] = str(
                where.relative_to(kit_root) if where.is_relative_to(kit_root) else where.name
            )
            wheelhouses = sorted(where.glob("wheel/*.wheelhouse.tar.gz"))
            if len(wheelhouses) == 1:
                locked["wheelhouse"] = wheelhouses[0].name
                locked["sha256"] = sha256_file(wheelhouses[0])
        software[comp["name"]] = {
            "locked_version": comp["version"],
            "locked_source": locked,
            "source_type": "path" if "path" in source else "url",
            "described_version": comp["version"],
            "license": project["license"]
            if comp["license"] == "project_license"
            else comp["license"],
        }
    manifest = {
        "manifest_format": 2,
        "software": software,
        "build_version": project["build_version"],
        "build_git_revision": git_revision(),
        "license": project["license"],
    }
    (opt / "version-manifest.json").write_text(
        json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    )
    rows = [
        (c["name"], c["version"], f"sha256:{c['source'].get('sha256', 'local')}")
        for c in plan["components"]
    ]
    width = [
        max(len(r[i]) for r in [*rows, ("Component", "Installed Version", "Version GUID")])
        for i in range(3)
    ]
    lines = [f"{project['name']} {project['build_version']}", ""]
    for row in [("Component", "Installed Version", "Version GUID"), *rows]:
        lines.append("  ".join(cell.ljust(width[i]) for i, cell in enumerate(row)).rstrip())
    (opt / "version-manifest.txt").write_text("\n".join(lines) + "\n")
    text = [f'{project["name"]} {project["build_version"]} license: "{project["license"]}"', ""]
    for comp in plan["components"]:
        if comp["license"] == "project_license":
            continue
        files = ", ".join(f"LICENSES/{comp['name']}-{Path(f).name}" for f in comp["license_files"])
        text += [
            f"This product bundles {comp['name']} {comp['version']},",
            f'which is available under a "{comp["license"]}" License.',
            f"For details, see:\n{files}",
            "",
        ]
    (opt / "LICENSE").write_text("\n".join(text))


def stage(plan: dict[str, Any], opt: Path, dest: Path) -> tuple[int, int]:
    """Copy install_dir to dest/<install_dir> minus the project's `exclude` globs (relative to
    install_dir; a match takes everything below it too, as Omnibus's FileSyncer does).
    Returns (files kept, files excluded)."""
    excluded: set[Path] = set()
    for pattern in plan["exclude"]:
        for hit in opt.glob(pattern):
            excluded.add(hit)
            if hit.is_dir() and not hit.is_symlink():
                excluded.update(hit.rglob("*"))
    target = dest / plan["project"]["install_dir"].lstrip("/")
    kept = 0
    for path in sorted(opt.rglob("*")):
        if path in excluded:
            continue
        out = target / path.relative_to(opt)
        if path.is_symlink():
            out.parent.mkdir(parents=True, exist_ok=True)
            out.symlink_to(path.readlink())
        elif path.is_dir():
            out.mkdir(parents=True, exist_ok=True)
            shutil.copystat(path, out)
        else:
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, out)
            kept += 1
    return kept, sum(1 for p in excluded if p.is_file() or p.is_symlink())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--plan", type=Path, required=True)
    ap.add_argument("--builder", default="")
    ap.add_argument("--cache-dir", type=Path, default=Path("/var/cache/kit"))
    ap.add_argument("--opt", type=Path, required=True, help="the host dir mounted as install_dir")
    ap.add_argument("--times", type=Path, help="per-component seconds (TSV)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument(
        "--logs", type=Path, help="each component's build output goes to LOGS/<name>.log"
    )
    ap.add_argument("--stage", type=Path, help="only stage --opt into this dir (minus exclude)")
    args = ap.parse_args()
    plan = json.loads(args.plan.read_text())
    if args.stage:
        kept, dropped = stage(plan, args.opt, args.stage)
        say(f"  staged {kept} files, left out {dropped} (the project's exclude list)")
        return 0
    if not args.builder:
        ap.error("--builder IMAGE is required to build")
    install_dir = plan["project"]["install_dir"]
    builder_id = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Id}}", args.builder],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    store = args.cache_dir / "omnibus"
    try:
        tarballs = [fetch(c, store / "src") for c in plan["components"]]
        keys = component_keys(plan, builder_id)
        snaps = [
            store / "build" / f"{c['name']}-{k[:16]}.tar"
            for c, k in zip(plan["components"], keys, strict=True)
        ]
        hits = 0
        while hits < len(snaps) and snaps[hits].is_file():
            hits += 1
        times = ["component\tversion\tseconds\tcache"]
        if hits:
            restore(snaps[hits - 1], args.opt)
        else:
            shutil.rmtree(args.opt, ignore_errors=True)
            args.opt.mkdir(parents=True)
        for i, comp in enumerate(plan["components"]):
            label = f"{comp['name']} {comp['version']}"
            if i < hits:
                say(f"▸ {label}: from the build cache ({snaps[i].name})")
                times.append(f"{comp['name']}\t{comp['version']}\t0\thit")
                continue
            say(
                f"▸ {label}: building (config/software/{comp['name']}.rb → steps/{comp['name']}.sh)"
            )
            t0 = time.monotonic()
            log = args.logs / f"{comp['name']}.log" if args.logs else None
            build_component(comp, tarballs[i], args.opt, install_dir, args.builder, args.jobs, log)
            seconds = time.monotonic() - t0
            snaps[i].parent.mkdir(parents=True, exist_ok=True)
            snapshot(args.opt, snaps[i])
            for old in snaps[i].parent.glob(f"{comp['name']}-*.tar"):
                if old != snaps[i] and old.name.rsplit("-", 1)[0] == comp["name"]:
                    old.unlink()  # one snapshot per component: the newest recipe's
            say(f"◀ {label}: {seconds:.0f} s")
            times.append(f"{comp['name']}\t{comp['version']}\t{seconds:.0f}\tbuilt")
        write_manifests(plan, args.opt)
        if args.times:
            args.times.write_text("\n".join(times) + "\n")
    except BuildError as err:
        print(f"omnibus/here_build.py: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
