"""Render a layer's build directory from kit.toml: the facts computed once (release Python,
architecture, SOURCE_DATE_EPOCH), the shared runtime files (one template each, in
templates/) and the layer's own templates (layer.toml `build.templates`).

    .kit/build/<layer>/<distro>/<version>/
      kit.env             shell-sourceable facts for the build script (lib/build.sh reads it)
      facts.json          the whole template context
      rendered/runtime/   unit.service, sysusers.conf, tmpfiles.conf, config.toml (if any)
      rendered/<path>     the layer's own templates; `*.j2` rendered, `PACKAGE` → the name
      source/             only for the next version when kit.toml's [upgrade] next_files
                          adds files: the service's tree + them (kit.env's KIT_SOURCE)
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import jinja2

from kitcli.errors import KitError
from kitcli.layers import Layer
from kitcli.settings import DISTRO_PYTHON, ROOT, Settings

TEMPLATES = ROOT / "templates"
BUILD = ROOT / ".kit" / "build"
ARCH_MACHINE = {"amd64": "x86_64", "arm64": "aarch64"}
RUNTIME = {
    "unit.service": "unit.service.j2",
    "sysusers.conf": "sysusers.conf.j2",
    "tmpfiles.conf": "tmpfiles.conf.j2",
}
PLACEHOLDER = "PACKAGE"  # a path component of a layer template that becomes the name


def source_date_epoch(settings: Settings) -> int:
    """SOURCE_DATE_EPOCH for every build: the caller's, else the last commit's time."""
    if os.environ.get("SOURCE_DATE_EPOCH", "").isdigit():
        return int(os.environ["SOURCE_DATE_EPOCH"])
    proc = subprocess.run(
        ["git", "-C", str(settings.path.parent), "log", "-1", "--format=%ct"],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode == 0 and proc.stdout.strip().isdigit():
        return int(proc.stdout.strip())
    raise KitError(
        f"cannot date the build: {settings.path.parent} is not a git checkout with a commit",
        "commit the service (`git init && git add -A && git commit`), or export "
        "SOURCE_DATE_EPOCH=<unix time> for reproducible builds",
    )


def build_facts(
    settings: Settings, distro: str, version: str, arch: str = "amd64", python: str = ""
) -> dict[str, Any]:
    """kit_build: what depends on the release and machine, computed once, here."""
    if arch not in ARCH_MACHINE:
        raise KitError(
            f"architecture {arch!r} is not supported", f"use one of {sorted(ARCH_MACHINE)}"
        )
    epoch = source_date_epoch(settings)
    when = datetime.fromtimestamp(epoch, UTC)
    return {
        "distro": distro,
        "version": version,
        "python_version": python or DISTRO_PYTHON[distro],
        "arch": arch,
        "machine": ARCH_MACHINE[arch],
        "source_date_epoch": epoch,
        "date_rfc2822": format_datetime(when),
        "year": when.year,
    }


def target_context(settings: Settings, layer: Layer, distro: str, version: str) -> dict[str, Any]:
    """The facts a target sees too (kit-vars.json): everything but kit_build."""
    argv = layer.exec_argv(settings)
    return {
        "kit_service": settings.facts() | {"version": version},
        "kit_layer": layer.name,
        "kit_distro": distro,
        "kit_version": version,
        "kit_contract": layer.contract_facts(settings),
        "kit_exec": argv,
        "kit_exec_start": shlex.join(argv),
    }


def context(
    settings: Settings, layer: Layer, distro: str, version: str, arch: str = "amd64"
) -> dict[str, Any]:
    """The whole template context of a build: the target's facts + kit_build."""
    return target_context(settings, layer, distro, version) | {
        "kit_build": build_facts(settings, distro, version, arch, layer.build_python),
    }


_ENV = jinja2.Environment(
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    autoescape=False,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render_text(template: Path, ctx: dict[str, Any]) -> str:
    try:
        return _ENV.from_string(template.read_text(encoding="utf-8")).render(ctx)
    except jinja2.TemplateSyntaxError as exc:
        raise KitError(
            f"{template}:{exc.lineno}: template syntax error ({exc.message})",
            "fix the Jinja2 syntax at that line",
        ) from None
    except jinja2.UndefinedError as exc:
        raise KitError(
            f"{template}: {exc.message}",
            "use only the variables listed in templates/README.md",
        ) from None


def _write(dest: Path, text: str, like: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(text, encoding="utf-8")
    dest.chmod(like.stat().st_mode & 0o777)


def _layer_files(layer: Layer) -> list[tuple[Path, Path]]:
    """(source file, path relative to rendered/) for every layer template."""
    pairs = []
    for entry in layer.templates:
        src = layer.directory / entry
        if not src.exists():
            raise KitError(
                f"{layer.directory.name}/layer.toml: build.templates names {entry}, "
                "which does not exist",
                f"create {layer.directory.name}/{entry} or remove it from the list",
            )
        files = sorted(p for p in src.rglob("*") if p.is_file()) if src.is_dir() else [src]
        for f in files:
            if "__pycache__" in f.parts:
                continue
            pairs.append((f, f.relative_to(layer.directory)))
    return pairs


def render_tree(settings: Settings, layer: Layer, ctx: dict[str, Any], dest: Path) -> list[Path]:
    """Render the shared runtime files and the layer's templates into dest/."""
    written = []
    for name, template in RUNTIME.items():
        out = dest / "runtime" / name
        _write(out, render_text(TEMPLATES / template, ctx), TEMPLATES / template)
        written.append(out)
    if settings.config_template is not None:
        out = dest / "runtime" / "config.toml"
        _write(out, render_text(settings.config_template, ctx), settings.config_template)
        written.append(out)
    for src, rel in _layer_files(layer):
        parts = [
            settings.name if p == PLACEHOLDER else p.replace(PLACEHOLDER, settings.name)
            for p in rel.parts
        ]
        out = dest.joinpath(*parts)
        if out.suffix == ".j2":
            out = out.with_suffix("")
            _write(out, render_text(src, ctx), src)
        else:
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, out)
        written.append(out)
    return written


def source_tree(settings: Settings, version: str, build_dir: Path) -> Path:
    """The source a build reads: the service's own tree, or — for the next version when
    kit.toml's [upgrade] next_files adds files — a copy of what git sees of it plus them."""
    if version != settings.next_version or not settings.next_files:
        return settings.source
    dest = build_dir / "source"
    listed = subprocess.run(
        [
            "git",
            "-C",
            str(settings.source),
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
            "--",
            ".",
        ],
        capture_output=True,
        check=False,
    )
    if listed.returncode == 0:
        for rel in filter(None, listed.stdout.decode().split("\0")):
            src = settings.source / rel
            if src.is_file():
                (dest / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dest / rel, follow_symlinks=False)
    else:  # not a git checkout
        shutil.copytree(
            settings.source,
            dest,
            symlinks=True,
            ignore=shutil.ignore_patterns(".git", ".kit", "dist", "__pycache__"),
        )
    for rel, file in settings.next_files:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(file, dest / rel)
    return dest


def kit_env(settings: Settings, ctx: dict[str, Any], build_dir: Path, source: Path) -> str:
    svc, build = ctx["kit_service"], ctx["kit_build"]
    values: dict[str, Any] = {
        "KIT_ROOT": ROOT,
        "KIT_SOURCE": source,
        "KIT_NAME": svc["name"],
        "KIT_PYTHON_PACKAGE": svc["python_package"],
        "KIT_VERSION": ctx["kit_version"],
        "KIT_DISTRO": build["distro"],
        "KIT_PYTHON_VERSION": build["python_version"],
        # Every release in kit.toml with its Python ("trixie:3.13 bookworm:3.11"): for a
        # build whose one artifact carries each release's wheels (the pex layer).
        "KIT_RELEASES": " ".join(f"{d}:{DISTRO_PYTHON[d]}" for d in settings.distros),
        "KIT_ARCH": build["arch"],
        "KIT_MACHINE": build["machine"],
        "KIT_PORT": svc["port"],
        "KIT_USER": svc["user"],
        "KIT_UID": svc["uid"],
        "KIT_GID": svc["gid"],
        "KIT_SCRIPT": svc["script"],
        "KIT_LAYER": ctx["kit_layer"],
        "KIT_DESCRIPTION": svc["description"],
        "KIT_MAINTAINER": svc["maintainer"],
        "KIT_LICENSE": svc["license"],
        "KIT_HOMEPAGE": svc["homepage"],
        "KIT_CONFIG_FILE": svc["config_file"],
        "KIT_DATA_DIR": svc["data_dir"],
        "KIT_RENDERED": build_dir / "rendered",
        "SOURCE_DATE_EPOCH": build["source_date_epoch"],
    }
    lines = ["# Written by `./kit render` from kit.toml; sourced by lib/build.sh. Do not edit."]
    lines += [f"{k}={shlex.quote(str(v))}" for k, v in values.items()]
    lines.append("export SOURCE_DATE_EPOCH")
    return "\n".join(lines) + "\n"


def build_dir(layer: Layer, distro: str, version: str, arch: str = "amd64") -> Path:
    return BUILD / layer.name / distro / (version if arch == "amd64" else f"{version}-{arch}")


def render(
    settings: Settings, layer: Layer, distro: str, version: str, arch: str = "amd64"
) -> Path:
    """Write the layer's build directory; return it."""
    ctx = context(settings, layer, distro, version, arch)
    where = build_dir(layer, distro, version, arch)
    if where.exists():
        shutil.rmtree(where)
    where.mkdir(parents=True)
    render_tree(settings, layer, ctx, where / "rendered")
    source = source_tree(settings, version, where)
    (where / "kit.env").write_text(kit_env(settings, ctx, where, source))
    (where / "facts.json").write_text(json.dumps(ctx, indent=2, default=str) + "\n")
    return where
