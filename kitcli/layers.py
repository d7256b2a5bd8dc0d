"""Layers: each one is a directory with a `layer.toml` naming its builder, its target
and the facts the shared contract needs. The harness knows no layer by name."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kitcli.errors import KitError
from kitcli.settings import DISTRO_PYTHON, ROOT, Settings

TARGET_KINDS = ("container", "vm")
SUPERVISORS = ("systemd", "docker")
ARCHES = ("amd64", "arm64")
# How a VM target boots (kitcli/vm.py): a PC disk under qemu-system-x86_64, or an arm64
# image whose kernel, initrd and command line are read from its own boot partition and
# booted on qemu's generic arm64 board (-M virt).
VM_MACHINES = ("pc", "arm64-virt")
# How a VM target gets this run's login key: a cloud-init NoCloud seed disk, or a
# firstboot.toml written onto the image's FAT boot partition (the Pi image's own way).
VM_SEEDS = ("nocloud", "firstboot")
BUILD_ON = ("", "oldest")
PACKAGE_FORMATS = ("deb", "rpm")  # target.formats: what a multi-format build installs


def oldest_release(distros: tuple[str, ...] | list[str]) -> str:
    """The release with the oldest Python (and so the oldest glibc) among DISTROS."""
    return min(distros, key=lambda d: tuple(int(p) for p in DISTRO_PYTHON[d].split(".")))


@dataclass(frozen=True)
class Layer:
    name: str
    title: str
    rung: int  # layer.rung: its place on the packaging gradient (kit compare's order)
    directory: Path
    build_command: tuple[str, ...]
    build_images: tuple[str, ...]  # `kit images` variants the build itself runs on
    # build.cross: a build for another CPU (target.arch of a layer that needs this one) runs
    # on the host's own build images as a cross build, not on emulated images of that CPU.
    cross: bool
    # Layers whose artifacts this one's build consumes (layer.toml build.needs, e.g. an
    # image layer baking in the deb): built first, for the same release and version; their
    # out dirs are the placeholders {artifact_dir_<layer>} of build.command.
    needs: tuple[str, ...]
    templates: tuple[str, ...]  # the layer's own templates (kitcli/render.py renders them)
    # build.prepare: a command run AT THE SAME TIME as the needed layers' builds (it must
    # not read their artifacts), e.g. the Pi image's rootfs bootstrap beside the arm64 .deb:
    # each is single-core emulation. Same placeholders as build.command.
    prepare: tuple[str, ...]
    # build.background: `kit test` builds this layer in a second process from its start
    # (long single-core emulated work) and runs its stage last (kitcli/background.py).
    background: bool
    # build.python: the interpreter the build targets when it is not the release's own
    # (an Omnibus build compiles CPython 3.13 on every release); "" = the release's.
    build_python: str
    # build.on: "oldest" = build once, on the oldest release in kit.toml, and install that
    # one artifact on every release (a full-stack package: glibc is the floor); "" = build
    # on each release for itself.
    build_on: str
    target_kind: str
    target_arch: str  # the target's CPU: builds of this layer (and its needs) are for it
    vm_machine: str  # target.machine (VM targets): one of VM_MACHINES
    vm_seed: str  # target.seed (VM targets): one of VM_SEEDS
    vm_grow_mib: int  # target.grow_mib (VM targets): the disk is this much bigger than the image
    target_image: str
    target_packages: tuple[str, ...]  # extra Debian packages on the target image
    # target.formats: package formats one build makes, each installed on its own fresh
    # target by its own molecule run (kit_package_format in the facts); () = one run.
    target_formats: tuple[str, ...]
    scenario: str
    distros: tuple[str, ...]  # releases the layer is proven on; empty = all in kit.toml
    unit_tests: tuple[str, ...]  # the layer's host-less pytest suites (layer.toml tests.unit)
    # The ecosystem's own tests of the built artifacts (layer.toml tests.artifact: argv
    # lists, e.g. piuparts), run by `kit test` after both builds, before the target.
    artifact_tests: tuple[tuple[str, ...], ...]
    # The layer's own linters (layer.toml tests.lint: argv lists, e.g. packer fmt -check +
    # packer validate), run by `kit test`'s lint stage.
    lint: tuple[tuple[str, ...], ...]
    # tests.selftest: "matrix" = the contract's self-test runs on this layer's target in
    # `kit test --matrix` only (another layer proves it on the same kind of target in the
    # bounded tier); "" = every tier.
    selftest: str
    # tests.upgrade: "matrix" = the contract's upgrade checks (next version over this one,
    # then back) run on this layer's target in `kit test --matrix` only: an image layer
    # whose installs are another layer's package (contract.packages_from), upgraded the
    # same way where that layer is proven in the bounded tier; "" = every tier.
    upgrade: str
    contract: dict[str, Any]

    def build_distro(self, settings: Settings, distro: str) -> str:
        """The release whose builder makes the artifact installed on DISTRO."""
        if self.build_on == "oldest":
            return oldest_release(settings.distros)
        return distro

    def supported(self, wanted: tuple[str, ...]) -> list[str]:
        return [d for d in wanted if not self.distros or d in self.distros]

    def render(self, settings: Settings, **extra: str) -> dict[str, str]:
        """The substitutions a layer's strings may use: kit_service's facts, its HTTP
        paths as http_<what> ({http_health}), and EXTRA."""
        facts = settings.facts()
        paths = {f"http_{k}": str(v) for k, v in facts["http"].items()}
        return {k: str(v) for k, v in facts.items()} | paths | extra

    @property
    def packages_from(self) -> str:
        """The layer whose artifacts the converge play installs (contract.packages_from;
        default this one): an image layer bakes in a package and upgrades with the next."""
        return str(self.contract.get("packages_from", self.name))

    def _format(
        self, settings: Settings, argvs: tuple[tuple[str, ...], ...], key: str, **extra: str
    ) -> list[list[str]]:
        subs = self.render(
            settings, mirror=settings.mirror, cache_dir=str(settings.cache_dir), **extra
        )
        try:
            return [[part.format(**subs) for part in argv] for argv in argvs]
        except KeyError as exc:
            raise KitError(
                f"{self.directory}/layer.toml: {key} uses unknown placeholder {exc}",
                f"use only {{{'}, {'.join(sorted(subs))}}}",
            ) from None

    def build_argv(
        self,
        settings: Settings,
        *,
        distro: str,
        version: str,
        out: Path,
        build_dir: Path,
        needed: dict[str, Path] | None = None,
        key: str = "command",
    ) -> list[str]:
        """build.command (or build.prepare: KEY) with its placeholders filled in."""
        return self._format(
            settings,
            (self.build_command if key == "command" else self.prepare,),
            f"build.{key}",
            distro=distro,
            version=version,
            out=str(out),
            build_dir=str(build_dir),
            **{f"artifact_dir_{k}": str(v) for k, v in (needed or {}).items()},
        )[0]

    def artifact_argvs(
        self,
        settings: Settings,
        *,
        distro: str,
        artifact_dir: Path,
        next_artifact_dir: Path,
        target_image: str = "",
        build_dir: Path | None = None,
    ) -> list[list[str]]:
        """tests.artifact with its placeholders: {artifact_dir}, {next_artifact_dir},
        {distro}, {target_image} and {build_dir} (this version's rendered build dir, e.g.
        for the default config in rendered/runtime/)."""
        return self._format(
            settings,
            self.artifact_tests,
            "tests.artifact",
            distro=distro,
            target_image=target_image,
            artifact_dir=str(artifact_dir),
            next_artifact_dir=str(next_artifact_dir),
            build_dir=str(build_dir or ""),
        )

    def contract_facts(self, settings: Settings) -> dict[str, Any]:
        subs = self.render(settings)
        return {k: v.format(**subs) if isinstance(v, str) else v for k, v in self.contract.items()}

    def exec_argv(self, settings: Settings) -> list[str]:
        """What the supervisor runs: the console script through the venv's interpreter, so
        sys.executable is the layer's interpreter (pip's /bin/sh trampolines are valid
        Python too)."""
        facts = settings.facts()
        contract = self.contract_facts(settings)
        script = f"{contract['bin_dir']}/{facts['script']}"
        return [contract["interpreter"], script, *facts["args"]]


def _require(table: dict[str, Any], key: str, where: Path, kind: type) -> Any:
    value = table.get(key)
    if not isinstance(value, kind):
        raise KitError(
            f"{where}: `{key}` is missing or not a {kind.__name__}",
            "see wheel/layer.toml for a complete example",
        )
    return value


def load_layer(directory: Path) -> Layer:
    path = directory / "layer.toml"
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise KitError(f"{path}: not valid TOML ({exc})", "fix the syntax at that line") from None
    layer = _require(raw, "layer", path, dict)
    build = _require(raw, "build", path, dict)
    target = _require(raw, "target", path, dict)
    contract = _require(raw, "contract", path, dict)
    kind = _require(target, "kind", path, str)
    if kind not in TARGET_KINDS:
        raise KitError(f"{path}: target.kind = {kind!r} is unknown", f"use one of {TARGET_KINDS}")
    supervisor = _require(contract, "supervisor", path, str)
    if supervisor not in SUPERVISORS:
        raise KitError(
            f"{path}: contract.supervisor = {supervisor!r} is unknown", f"use one of {SUPERVISORS}"
        )
    for key in ("interpreter", "bin_dir", "install_root"):
        _require(contract, key, path, str)
    for key, value, allowed in (
        ("target.arch", target.get("arch", "amd64"), ARCHES),
        ("target.machine", target.get("machine", "pc"), VM_MACHINES),
        ("target.seed", target.get("seed", "nocloud"), VM_SEEDS),
    ):
        if value not in allowed:
            raise KitError(f"{path}: {key} = {value!r} is unknown", f"use one of {allowed}")
    formats = target.get("formats", [])
    if not isinstance(formats, list) or any(f not in PACKAGE_FORMATS for f in formats):
        raise KitError(
            f"{path}: target.formats = {formats!r}",
            f"use a list of {PACKAGE_FORMATS} or leave it out",
        )
    selftest, upgrade = (raw.get("tests", {}).get(key, "") for key in ("selftest", "upgrade"))
    for key, value in (("selftest", selftest), ("upgrade", upgrade)):
        if value not in ("", "matrix"):
            raise KitError(
                f"{path}: tests.{key} = {value!r} is unknown", 'use "matrix" or leave it out'
            )
    if upgrade and not raw.get("contract", {}).get("packages_from"):
        raise KitError(
            f'{path}: tests.upgrade = "matrix" but contract.packages_from is not set',
            "only a layer that installs another layer's package may leave its upgrade "
            "to --matrix (that layer proves it in every tier); remove tests.upgrade",
        )
    build_on = build.get("on", "")
    if build_on not in BUILD_ON:
        raise KitError(
            f"{path}: build.on = {build_on!r} is unknown", 'use "oldest" or leave it out'
        )
    build_python = build.get("python", "")
    if build_python and build_python not in DISTRO_PYTHON.values():
        raise KitError(
            f"{path}: build.python = {build_python!r} is not a release's Python",
            f"use one of {sorted(set(DISTRO_PYTHON.values()))} (its lock and wheels serve)",
        )
    return Layer(
        name=_require(layer, "name", path, str),
        title=_require(layer, "title", path, str),
        rung=int(layer.get("rung", 99)),
        directory=directory,
        build_command=tuple(_require(build, "command", path, list)),
        build_images=tuple(build.get("images", [])),
        cross=bool(build.get("cross", False)),
        needs=tuple(build.get("needs", [])),
        templates=tuple(build.get("templates", [])),
        prepare=tuple(build.get("prepare", [])),
        background=bool(build.get("background", False)),
        build_python=build_python,
        build_on=build_on,
        target_kind=kind,
        target_arch=target.get("arch", "amd64"),
        vm_machine=target.get("machine", "pc"),
        vm_seed=target.get("seed", "nocloud"),
        vm_grow_mib=int(target.get("grow_mib", 0)),
        # A container target names its kit image variant; a VM boots the layer's own image.
        target_image=_require(target, "image", path, str) if kind == "container" else "",
        target_packages=tuple(target.get("packages", [])),
        target_formats=tuple(formats),
        scenario=_require(target, "scenario", path, str),
        distros=tuple(target.get("distros", [])),
        unit_tests=tuple(raw.get("tests", {}).get("unit", [])),
        artifact_tests=tuple(tuple(argv) for argv in raw.get("tests", {}).get("artifact", [])),
        lint=tuple(tuple(argv) for argv in raw.get("tests", {}).get("lint", [])),
        selftest=selftest,
        upgrade=upgrade,
        contract=contract,
    )


def discover(root: Path = ROOT) -> dict[str, Layer]:
    layers = {}
    for path in sorted(root.glob("*/layer.toml")):
        layer = load_layer(path.parent)
        layers[layer.name] = layer
    return layers


def get(name: str, root: Path = ROOT) -> Layer:
    direct = root / name / "layer.toml"
    if direct.is_file():  # one broken layer.toml elsewhere does not stop this layer
        layer = load_layer(direct.parent)
        if layer.name == name:
            return layer
    layers = discover(root)
    if name not in layers:
        known = ", ".join(layers) or "none yet"
        raise KitError(f"no layer called {name!r}", f"use one of: {known}")
    return layers[name]
