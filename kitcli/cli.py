"""`./kit` — the front door. Every command prints the raw commands it runs."""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from kitcli import (
    adopt,
    background,
    checks,
    compare,
    doctor,
    flash,
    fleet,
    harness,
    images,
    layers,
    render,
    vm,
)
from kitcli.errors import KitError
from kitcli.settings import Settings, load
from kitcli.steps import console

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Build the sample service down the packaging gradient and prove each layer.",
)

ArchOpt = Annotated[
    str | None,
    typer.Option("--arch", help="amd64 or arm64 (the target's CPU; default: the layer's)"),
]
DistroOpt = Annotated[
    str | None, typer.Option("--distro", help="Debian release (default: first in kit.toml)")
]


def _settings() -> Settings:
    return load()


def _distro(settings: Settings, distro: str | None) -> str:
    distro = distro or settings.default_distro
    if distro not in settings.distros:
        raise KitError(
            f"--distro {distro} is not a target in kit.toml",
            f"use one of {', '.join(settings.distros)} or add it to [targets] distros",
        )
    return distro


@app.command("doctor")
def doctor_cmd(
    fix: Annotated[bool, typer.Option("--fix", help="install and start what is missing")] = False,
) -> None:
    """Check every host prerequisite; print the exact fix for each missing one."""
    missing = doctor.report()
    if missing and fix:
        doctor.fix(missing)
        console.print()
        missing = doctor.report()
    if missing:
        console.print(
            f"\n{len(missing)} missing — run the fix lines above, or `./kit doctor --fix` as root."
        )
        raise typer.Exit(1)
    console.print("\nall prerequisites present")


@app.command("images")
def images_cmd(
    distro: Annotated[
        list[str] | None, typer.Option("--distro", help="repeatable; default: all")
    ] = None,
    variant: Annotated[
        list[str] | None,
        typer.Option("--variant", help=f"repeatable; one of {sorted(images.VARIANTS)}"),
    ] = None,
) -> None:
    """Make the local base images (mmdebstrap + docker import), cached by content hash."""
    settings = _settings()
    distros = [_distro(settings, d) for d in distro] if distro else list(settings.distros)
    start = time.monotonic()
    refs = images.ensure_all(settings, distros, variant or list(images.VARIANTS))
    console.print(f"{len(refs)} images ready in {time.monotonic() - start:.1f} s")


@app.command("layers")
def layers_cmd() -> None:
    """List the layers the kit knows (every directory with a layer.toml)."""
    for layer in layers.discover().values():
        console.print(
            f"[bold]{layer.name:10}[/] {escape(layer.title)}  [dim](target: "
            f"{layer.target_kind}{', ' + layer.target_image if layer.target_image else ''}"
            f"{''.join(' + ' + p for p in layer.target_packages)}; scenario {layer.scenario})[/]"
        )


@app.command("build")
def build_cmd(
    layer: Annotated[str, typer.Argument(help="layer name, see `./kit layers`")],
    distro: DistroOpt = None,
    version: Annotated[str | None, typer.Option(help="override the service's version")] = None,
    arch: ArchOpt = None,
) -> None:
    """Build one layer's artifact into dist/<layer>/<distro>/<version>/."""
    settings = _settings()
    chosen, d = layers.get(layer), _distro(settings, distro)
    harness.build(settings, chosen, d, version, arch)
    harness.vars_file(settings, chosen, d)  # so the contract can be run by hand next


@app.command("render")
def render_cmd(
    layer: Annotated[str, typer.Argument(help="layer name, see `./kit layers`")],
    distro: DistroOpt = None,
    version: Annotated[str | None, typer.Option(help="override the service's version")] = None,
    arch: ArchOpt = None,
) -> None:
    """Render a layer's build dir from kit.toml (kit.env, facts.json, rendered/)."""
    settings = _settings()
    chosen, d = layers.get(layer), _distro(settings, distro)
    where = render.render(
        settings, chosen, d, version or settings.version, arch or chosen.target_arch
    )
    console.print(escape(str(where)))


@app.command("test")
def test_cmd(
    names: Annotated[
        list[str] | None, typer.Argument(help="layers to test; default: checks + all layers")
    ] = None,
    distro: Annotated[
        str | None,
        typer.Option(
            "--distro", help="one Debian release (default: every release each layer supports)"
        ),
    ] = None,
    skip_checks: Annotated[
        bool, typer.Option("--skip-checks", help="skip lint + unit tests")
    ] = False,
    matrix: Annotated[
        bool,
        typer.Option(
            "--matrix",
            help="every release each layer supports on its target (default: the first "
            "release in kit.toml; the others still get the layers' artifact tests)",
        ),
    ] = False,
) -> None:
    """Lint, unit-test, then prove each layer: build, install on its target, run the contract."""
    settings = _settings()
    if not names:  # the whole run: a fresh machine is set up first
        doctor.ensure()
    only = _distro(settings, distro) if distro else None
    if matrix:  # the long tier: the full crash drill and the self-test on every target
        os.environ["KIT_TIER"] = "matrix"
        os.environ.setdefault("KIT_DRILL_TRIALS", "10")
    start = time.monotonic()
    stages: list[tuple[str, Callable[[], None]]] = []
    emulated: list[tuple[str, Callable[[], None]]] = []  # stages that boot an emulated VM
    last: list[tuple[str, Callable[[], None]]] = []  # stages of background builds
    started: list[background.Build] = []
    if not names and not skip_checks:
        stages += [("lint", lambda: checks.lint(settings)), ("unit", lambda: checks.unit(settings))]
    # "fleet" is not a layer: the fleet playbooks proven on the deb layer's package.
    wants_fleet = not names or fleet.SCENARIO in names
    if names and fleet.SCENARIO in names and not fleet.available():
        raise KitError(
            "this checkout has no fleet scenario (ansible/molecule/fleet) or no deb layer",
            "kit adopt --layers deb brings both; or leave fleet out of the names",
        )
    for name in [n for n in names if n != fleet.SCENARIO] if names else list(layers.discover()):
        layer = layers.get(name)
        supported = layer.supported(settings.distros)
        on_target = on_targets(supported, only, matrix)
        if layer.background:
            # A long build starts now in a second process, which then tests what it built
            # on each of its target releases; the stage that waits for it runs last. One
            # process per release built on: a build.on = "oldest" layer's one build serves
            # every target release.
            by_build: dict[str, list[str]] = {}
            for d in on_target:
                by_build.setdefault(layer.build_distro(settings, d), []).append(d)
            for targets in by_build.values():
                build = background.start(name, targets[0], targets)
                started.append(build)
                last += [(f"{name}/{d}", build.wait) for d in targets]
        else:
            test = partial(harness.test, settings, layer)
            ours = [(f"{name}/{d}", partial(test, d)) for d in on_target]
            if runs_late(layer):
                emulated += ours
            else:
                stages += ours
    if not names and not skip_checks and checks.COMPARE_PROOF.is_dir():
        stages.append(("compare", checks.compare))
    if wants_fleet and fleet.available():
        deb = layers.get(fleet.LAYER).supported(settings.distros)
        stages += [
            (f"fleet/{d}", partial(fleet.test, settings, d)) for d in on_targets(deb, only, matrix)
        ]
    if not names and not skip_checks and checks.ADOPT_PROOF.is_dir():
        stages.append(("adopt", lambda: checks.adopt(settings, matrix)))
    stages += emulated + last
    passed: list[str] = []
    try:
        for label, stage in stages:
            stage()
            passed.append(label)
    finally:
        for build in started:
            build.stop()
        failed = len(passed) < len(stages)
        colour = "red" if failed else "green"
        console.print(
            f"[dim]stages passed: {', '.join(passed) or 'none'} "
            f"({time.monotonic() - start:.0f} s)[/]"
        )
        console.print(f"[bold {colour}]stages: {len(passed)} passed, {int(failed)} failed[/]")


def runs_late(layer: layers.Layer) -> bool:
    """A foreground layer tested on an emulated VM runs after the other stages. Emulated
    VMs take turns (one at a time) and a background build tests its own (the Pi image)
    early: a VM stage in the middle waited 586 s for it in CI, the second core idle, the
    run 3943 s; at the end the background's VM test is long done."""
    return layer.target_kind == "vm" and not layer.background


def on_targets(supported: list[str], only: str | None, matrix: bool) -> list[str]:
    """The releases installed on a target: the one asked for, every supported one
    (--matrix), or the first (the default tier)."""
    return [only] if only else supported if matrix else supported[:1]


@app.command("prebuild", hidden=True)
def prebuild_cmd(
    layer: Annotated[str, typer.Argument(help="layer name")],
    distro: DistroOpt = None,
    tests: Annotated[
        list[str] | None,
        typer.Option("--test", help="then install and test it on this release (repeatable)"),
    ] = None,
) -> None:
    """What `kit test LAYER` installs (this version + the next package), then the test on
    each --test release: kit test runs it in a second process for layers with
    build.background = true."""
    settings = _settings()
    chosen = layers.get(layer)
    harness.build_for_test(settings, chosen, _distro(settings, distro))
    for target in tests or []:
        harness.test(settings, chosen, _distro(settings, target), prebuilt=True)


@app.command("drill")
def drill_cmd(
    layer: Annotated[str, typer.Argument(help="layer name, see `./kit layers`")],
    distro: DistroOpt = None,
    trials: Annotated[
        int,
        typer.Option("--trials", min=1, help="kill -9 trials (contract: 5; 3 on emulated VMs)"),
    ] = 50,
    keep: Annotated[bool, typer.Option("--keep", help="leave the target running")] = False,
) -> None:
    """Fault drills, longer than the contract's: kill -9 under writes, disk full, bad config."""
    settings = _settings()
    harness.drill(settings, layers.get(layer), _distro(settings, distro), trials, keep)


@app.command("clean")
def clean_cmd() -> None:
    """Remove dist/ and the kit's cache dir (base image tars)."""
    settings = _settings()
    for path in (harness.DIST, settings.cache_dir):
        console.print(f"$ rm -rf {path}", markup=False)
        shutil.rmtree(path, ignore_errors=True)


vm_app = typer.Typer(help="Boot a VM image locally (the VM target the contract uses).")
app.add_typer(vm_app, name="vm")


@vm_app.command("up")
def vm_up_cmd(
    name: Annotated[str, typer.Argument(help="instance name (also the SSH host name)")],
    image: Annotated[
        Path, typer.Option(help="the qcow2 or raw .img to boot (never written: an overlay/copy)")
    ],
    port: Annotated[int, typer.Option(help="the service's port inside the VM")],
    accel: Annotated[str, typer.Option(help="kvm or tcg; default: a timed probe")] = "",
    timeout: Annotated[float, typer.Option(help="seconds to wait for SSH")] = 240,
    machine: Annotated[
        str, typer.Option(help="pc (x86_64 disk) or arm64-virt (kernel from the boot partition)")
    ] = "pc",
    seed: Annotated[
        str, typer.Option(help="nocloud (cloud-init seed disk) or firstboot (firstboot.toml)")
    ] = "nocloud",
    grow_mib: Annotated[
        int, typer.Option(min=0, help="make a raw image's disk this much bigger (a bigger card)")
    ] = 0,
    firstboot: Annotated[
        Path | None,
        typer.Option(
            help="firstboot.toml to put on the boot partition (@KEY@, @HOSTNAME@, @USER@)"
        ),
    ] = None,
) -> None:
    """Boot IMAGE with a fresh SSH key (cloud-init NoCloud seed, or the Pi image's
    firstboot.toml); ports on 127.0.0.1 only."""
    if accel not in ("", "kvm", "tcg"):
        raise KitError(f"--accel {accel!r} is unknown", "use --accel kvm or --accel tcg")
    inst = vm.up(
        name, image, port, accel=accel, timeout=timeout, machine=machine, seed=seed,
        grow_mib=grow_mib, firstboot=firstboot,
    )  # fmt: skip
    console.print(escape(f"ssh -F {inst.ssh_config} {name}    # service: http://{inst.endpoint}/"))


@vm_app.command("down")
def vm_down_cmd(name: Annotated[str, typer.Argument(help="instance name")]) -> None:
    """Stop the VM (SIGTERM, then SIGKILL) and remove its overlay, seed and key."""
    vm.down(name)


@app.command("flash")
def flash_cmd(
    image: Annotated[
        Path,
        typer.Argument(
            help="the .img (or .img.xz/.zst/.gz/.bz2); its .bmap and .sha256 beside it are used"
        ),
    ],
    device: Annotated[
        Path, typer.Argument(help="the SD card's whole disk (/dev/sdX, /dev/mmcblkN), or a file")
    ],
    yes: Annotated[bool, typer.Option("--yes", help="do not ask before erasing DEVICE")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="allow a disk that says it is not removable (only that)")
    ] = False,
    bmap: Annotated[
        Path | None, typer.Option("--bmap", help="the block map (default: the one beside IMAGE)")
    ] = None,
    no_verify: Annotated[
        bool, typer.Option("--no-verify", help="skip bmaptool's checksums and the read-back")
    ] = False,
) -> None:
    """Write an SD-card image with bmaptool, then read it back; refuses system, mounted,
    partition, too-small and (without --force) non-removable disks."""
    flash.flash(image, device, yes=yes, force=force, bmap=bmap, verify=not no_verify)


adopt.register(app)
compare.register(app)


def main() -> None:
    try:
        app(prog_name="kit")
    except KitError as exc:
        # Verbatim: a message may hold brackets (`[targets]`) that rich would eat as markup.
        console.print(
            f"[bold red]kit:[/] {escape(exc.problem)} — [bold]fix:[/] {escape(exc.fix)}",
            soft_wrap=True,
        )
        sys.exit(2)
