"""The files `kit adopt` copies, and how a later `kit adopt` updates them.

Update model (copier's, simplified; see kitcli/adopt.py): every file adopt writes is recorded
in the service's `.kit-adopt.json` with its sha256 (the *base*). On the next run, for each
kit file, with base B, the file in the service D and the kit's new file N:

- D missing, or D == B (the user did not touch it): write N;
- D != B and N == B (the kit did not change it): keep the user's edit;
- D != B, N != B, D != N (both changed): keep D, write N beside it as `<file>.kit-new`
  and report it (the user merges by hand; copier would write a diff/.rej instead);
- a file the kit no longer ships: deleted if D == B, else left in place and reported.
A file that exists in the service but was never recorded counts as changed by the user
(so a service's own `ruff.toml`, say, is never overwritten).
"""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kitcli import fleet
from kitcli.errors import KitError

RECORD = ".kit-adopt.json"
NEW_SUFFIX = ".kit-new"
CI_FILE = ".ci/run"  # the kit's CI entry point, copied to .ci/run or .ci/kit-run

# Copied whole (minus caches), when the kit has them.
KIT_DIRS = ("kitcli", "lib", "templates", "tests/contract", "tests/selftest")
# Single files copied when the kit has them: test + lint configs the copied tools read.
KIT_FILES = (
    ".config/molecule/config.yml",  # what every molecule scenario shares
    "tests/__init__.py",
    "conftest.py",  # loads the contract's pytest plugin for every suite under the root
    "pytest.ini",
    "ruff.toml",
    ".yamllint",
    ".ansible-lint",
    ".shellcheckrc",
    ".hadolint.yaml",
)
# Never copied: caches, build output, editor and merge leftovers.
JUNK_DIRS = frozenset(
    {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".ansible", ".cache", ".kit"}
)
JUNK_SUFFIXES = (".pyc", ".pyo", NEW_SUFFIX, ".orig", ".rej", "~", ".swp")


@dataclass(frozen=True)
class LayerDir:
    name: str
    directory: Path
    scenario: str  # ansible/molecule/<scenario>
    needs: tuple[str, ...] = ()  # build.needs: layers whose artifacts its build consumes


def discover_layers(kit_root: Path) -> dict[str, LayerDir]:
    """Every `<dir>/layer.toml` of the kit (only the keys adopt needs: name, scenario)."""
    found: dict[str, LayerDir] = {}
    for path in sorted(kit_root.glob("*/layer.toml")):
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise KitError(
                f"{path}: not valid TOML ({exc})", "fix the syntax at that line"
            ) from None
        name = raw.get("layer", {}).get("name", path.parent.name)
        scenario = raw.get("target", {}).get("scenario", name)
        needs = tuple(raw.get("build", {}).get("needs", []))
        found[name] = LayerDir(name, path.parent, scenario, needs)
    return found


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _walk(root: Path, rel: str) -> Iterator[str]:
    """Files under root/rel (relative to root), sorted, without caches and leftovers."""
    base = root / rel
    if base.is_file():
        yield rel
        return
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = sorted(
            d for d in dirnames if d not in JUNK_DIRS and not d.endswith(".egg-info")
        )
        for name in sorted(filenames):
            if not name.endswith(JUNK_SUFFIXES):
                yield (Path(dirpath) / name).relative_to(root).as_posix()


def plan(kit_root: Path, layers: list[LayerDir], ci_dest: str) -> dict[str, Path]:
    """Destination path (relative to the service's root) -> source file in the kit."""
    files: dict[str, Path] = {}

    def add(rel: str, dest: str | None = None) -> None:
        if (kit_root / rel).exists():
            for r in _walk(kit_root, rel):
                files[dest or r] = kit_root / r

    for required in ("kit", "kitcli"):
        if not (kit_root / required).exists():
            raise KitError(f"{kit_root / required} is missing", "run adopt from a kit checkout")
    add("kit")
    for rel in (*KIT_DIRS, *KIT_FILES):
        add(rel)
    add(CI_FILE, ci_dest)

    chosen = {layer.name for layer in layers}
    scenarios = {layer.scenario for layer in layers}
    if fleet.LAYER in chosen:  # the fleet scenario rolls out that layer's package
        scenarios.add(fleet.SCENARIO)
    ansible = kit_root / "ansible"
    if ansible.is_dir():
        for entry in sorted(ansible.iterdir()):
            if entry.is_file() and not entry.name.endswith(JUNK_SUFFIXES):
                add(f"ansible/{entry.name}")
        add("ansible/tasks")
        add("ansible/playbooks")  # plays several scenarios share (the VM image layers')
        add("ansible/inventory")  # the fleet's example inventory
        if fleet.LAYER in chosen:  # the ad-hoc path: fabric tasks deploying its package
            add("ansible/fabric")
        # The roles, minus those of layers not chosen (a role `<x>_<layer>` belongs to it).
        unchosen = set(discover_layers(kit_root)) - chosen
        roles = ansible / "roles"
        for role in sorted(roles.iterdir()) if roles.is_dir() else []:
            if role.is_dir() and not any(role.name.endswith(f"_{u}") for u in unchosen):
                add(f"ansible/roles/{role.name}")
        # The chosen layers' molecule scenarios, plus anything there that is no scenario.
        molecule = ansible / "molecule"
        for entry in sorted(molecule.iterdir()) if molecule.is_dir() else []:
            is_scenario = (entry / "molecule.yml").is_file()
            if not is_scenario or entry.name in scenarios:
                add(f"ansible/molecule/{entry.name}")
    for layer in layers:
        add(layer.directory.relative_to(kit_root).as_posix())
    return files


@dataclass
class Outcome:
    """What an apply did, per file (paths relative to the service's root)."""

    written: list[str] = field(default_factory=list)  # new, or updated where untouched
    unchanged: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # the user's edit kept, kit unchanged
    conflicts: list[str] = field(default_factory=list)  # <file>.kit-new written beside it
    removed: list[str] = field(default_factory=list)  # no longer shipped, untouched
    orphaned: list[str] = field(default_factory=list)  # no longer shipped, user-edited
    record: dict[str, str] = field(default_factory=dict)  # the new bases: path -> sha256


def _write(dest: Path, src: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".kit-tmp")
    tmp.unlink(missing_ok=True)
    link = os.readlink(src) if src.is_symlink() else ""
    if link and not os.path.isabs(link):
        # The kit keeps one copy of a shared file and links to it (a role's unit template
        # is templates/unit.service.j2): the adopted tree keeps the link, not a twin.
        tmp.symlink_to(link)
    else:
        tmp.write_bytes(src.read_bytes())
        tmp.chmod(src.stat().st_mode & 0o777)
    tmp.replace(dest)


def apply(repo: Path, files: Mapping[str, Path], bases: Mapping[str, str]) -> Outcome:
    """Write `files` into repo following the update model above (bases: the last record)."""
    out = Outcome()
    for rel, src in sorted(files.items()):
        dest, new = repo / rel, sha256(src)
        beside = repo / (rel + NEW_SUFFIX)
        out.record[rel] = new
        if not dest.is_file():
            _write(dest, src)
            out.written.append(rel)
            continue
        have, base = sha256(dest), bases.get(rel)
        if have == new:
            dest.chmod(src.stat().st_mode & 0o777)
            out.unchanged.append(rel)
        elif have == base:
            _write(dest, src)
            out.written.append(rel)
        elif new == base:
            out.kept.append(rel)
            continue  # keep any earlier .kit-new: the user has not merged it yet
        else:
            _write(beside, src)
            out.conflicts.append(rel)
            continue
        beside.unlink(missing_ok=True)  # a leftover .kit-new is settled now
    for rel in sorted(set(bases) - set(files)):
        dest = repo / rel
        if not dest.is_file():
            continue
        if sha256(dest) == bases[rel]:
            dest.unlink()
            out.removed.append(rel)
            _prune(dest.parent, repo)
        else:
            out.orphaned.append(rel)
    return out


def _prune(directory: Path, stop: Path) -> None:
    while directory != stop and directory.is_dir() and not any(directory.iterdir()):
        directory.rmdir()
        directory = directory.parent


def read_record(repo: Path) -> dict[str, Any] | None:
    path = repo / RECORD
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise KitError(
            f"{path} is not valid JSON ({exc})",
            "restore it from git (it records what adopt wrote), or delete it to adopt afresh",
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("files"), dict):
        raise KitError(f"{path} has no `files` table", "restore it from git, or delete it")
    return data


def write_record(repo: Path, record: Mapping[str, Any]) -> None:
    (repo / RECORD).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
