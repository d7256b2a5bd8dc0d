"""One mechanism for every layer: render its build dir from kit.toml, build the artifact
(current and next version), make the target, then run the layer's molecule scenario,
whose verify step runs the shared contract. Nothing here knows a layer by name; the
target kind (layer.toml `target.kind`) picks how the target is made and reached."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kitcli import background, images, layers, render, vm
from kitcli.doctor import require_arch
from kitcli.errors import KitError
from kitcli.layers import Layer
from kitcli.settings import ROOT, Settings
from kitcli.steps import console, run, step

DIST = ROOT / "dist"
ANSIBLE = ROOT / "ansible"
# What every scenario shares. Molecule finds it by itself at a git repository's root; the
# kit names it (relative to ANSIBLE, where molecule runs) so a service adopted into a
# directory that is no git repository gets it too.
MOLECULE_BASE = "../.config/molecule/config.yml"
VENV_BIN = ROOT / ".kit" / "venv" / "bin"


# Builds made by this process: (layer, distro, version, arch) → out dir. A layer needed by
# two others in one `kit test` run (the deb of the packer image), or one build installed on
# every release (build.on = "oldest"), is built once.
_BUILT: dict[tuple[str, str, str, str], Path] = {}


def out_dir(layer: Layer, distro: str, version: str, arch: str = "amd64") -> Path:
    """dist/<layer>/<distro>/<version>/ (another architecture: .../<version>-<arch>/)."""
    return DIST / layer.name / distro / (version if arch == "amd64" else f"{version}-{arch}")


def build(
    settings: Settings,
    layer: Layer,
    distro: str,
    version: str | None = None,
    arch: str | None = None,
) -> Path:
    """Render and build one layer (and first what it needs) for DISTRO, VERSION and ARCH
    (default: the layer's target.arch); return its out dir."""
    version = version or settings.version
    arch = arch or layer.target_arch
    distro = layer.build_distro(settings, distro)  # build.on = "oldest": one build for all
    require_arch(arch)
    out = out_dir(layer, distro, version, arch)
    if _BUILT.get((layer.name, distro, version, arch)) == out and out.is_dir():
        console.print(
            f"  {layer.name} {version} for {distro} {arch}: built by this run, {out}", markup=False
        )
        return out
    label = distro if arch == "amd64" else f"{distro} {arch}"
    with step(f"render {layer.name}'s build dir from kit.toml ({version}, {label})"):
        where = render.render(settings, layer, distro, version, arch)
        console.print(f"  {where}/ (kit.env, facts.json, rendered/)", markup=False)
    prepare = _start_prepare(settings, layer, distro, version, out, where)
    try:
        needed = {
            need: build(settings, layers.get(need), distro, version, arch) for need in layer.needs
        }
    except BaseException:
        if prepare:
            background.stop(prepare[0])
        raise
    with step(f"build {layer.name} {version} for {label}"):
        if prepare:
            _finish_prepare(layer, *prepare)
        for variant in layer.build_images:
            images.ensure(settings, variant, distro, arch=build_images_arch(layer, arch))
        if out.exists():
            shutil.rmtree(out)
        out.mkdir(parents=True)
        argv = layer.build_argv(
            settings, distro=distro, version=version, out=out, build_dir=where, needed=needed
        )
        run(argv, cwd=ROOT, fix=f"see {layer.directory.name}/README.md, section Build")
        artifacts = sorted(p for p in out.iterdir() if p.is_file())
        if not artifacts:
            raise KitError(
                f"the {layer.name} build left nothing in {out}",
                f"make {layer.directory.name}'s build write its artifact to --out",
            )
        for a in artifacts:
            console.print(f"  artifact {a} ({a.stat().st_size / 1e6:.1f} MB)", markup=False)
    _BUILT[(layer.name, distro, version, arch)] = out
    return out


def forget(layer: Layer, version: str) -> None:
    """Forget that this run built LAYER at VERSION (any release, any CPU), and what it
    needs, so the next build() builds them all again (kit compare times whole builds)."""
    for need in layer.needs:
        forget(layers.get(need), version)
    for key in [k for k in _BUILT if k[0] == layer.name and k[2] == version]:
        del _BUILT[key]


def build_images_arch(layer: Layer, arch: str) -> str:
    """The CPU of the images a build for ARCH runs on: ARCH's own (emulated under qemu-user
    when it is not the host's), or the host's for a layer that cross-builds (build.cross)."""
    return "amd64" if layer.cross else arch


def _start_prepare(
    settings: Settings, layer: Layer, distro: str, version: str, out: Path, where: Path
) -> tuple[subprocess.Popen[bytes], Path] | None:
    """build.prepare, started in the background while the needed layers build."""
    if not layer.prepare:
        return None
    argv = layer.build_argv(
        settings, distro=distro, version=version, out=out, build_dir=where, key="prepare"
    )
    log = where / "prepare.log"
    console.print(
        f"  {layer.name}: build.prepare starts now, beside the build of "
        f"{', '.join(layer.needs) or 'nothing'} ($ {shlex.join(argv)} > {log})",
        markup=False,
    )
    return background.spawn(argv, log), log


def _finish_prepare(layer: Layer, proc: subprocess.Popen[bytes], log: Path) -> None:
    """Wait for build.prepare and show its output; stop if it failed."""
    with step(f"{layer.name}: build.prepare (ran beside the needed builds)"):
        background.follow(proc, log, "  | ")
        if proc.returncode != 0:
            raise KitError(
                f"{layer.name}'s build.prepare exited {proc.returncode} (output above)",
                f"see {layer.directory.name}/README.md, section Build",
            )


def target_image(settings: Settings, layer: Layer, distro: str) -> str:
    return images.image_ref(layer.target_image, distro, layer.target_packages)


def facts(settings: Settings, layer: Layer, distro: str) -> dict[str, Any]:
    """Everything the layer's role, scenario and the contract need (kit-vars.json)."""
    ctx = render.target_context(settings, layer, distro, settings.version)
    packages = layers.get(layer.packages_from)
    built_on = packages.build_distro(settings, distro)
    return ctx | {
        "kit_root": str(ROOT),
        "kit_image": vm_image(layer, distro, settings.version)
        if layer.target_kind == "vm"
        else target_image(settings, layer, distro),
        # The service's name in it: the kit's own checkout and an adopted one never share a
        # container (molecule's destroy step would remove the other's).
        "kit_instance": f"kit-{settings.name}-{layer.name}-{distro}",
        # What the converge play installs: this layer's artifacts, or (an image layer) the
        # package layer's it baked in; the upgrade installs that layer's next version.
        "kit_artifact_dir": str(out_dir(packages, built_on, settings.version, layer.target_arch)),
        "kit_next_artifact_dir": str(
            out_dir(packages, built_on, settings.next_version, layer.target_arch)
        ),
        # How kit vm up boots a VM target (kitcli/vm.py): board, seed, extra disk.
        "kit_vm_options": [
            f"--machine={layer.vm_machine}",
            f"--seed={layer.vm_seed}",
            f"--grow-mib={layer.vm_grow_mib}",
        ],
        "kit_upgrade_playbook": str(ANSIBLE / "molecule" / layer.scenario / "converge.yml"),
    }


def vm_image(layer: Layer, distro: str, version: str) -> str:
    """The disk image a VM layer's build wrote (the one *.qcow2 or raw *.img in its out
    dir), or where it will be."""
    where = out_dir(layer, distro, version, layer.target_arch)
    found = sorted([*where.glob("*.qcow2"), *where.glob("*.img")])
    return str(found[0] if found else where / "(not built).qcow2")


def vars_file(
    settings: Settings,
    layer: Layer,
    distro: str,
    known: dict[str, Any] | None = None,
    package_format: str = "",
) -> Path:
    """Write facts() where molecule (-e @FILE) and the contract (--kit-vars) read them:
    kit-vars.json, or kit-vars.<format>.json for a layer's second package format."""
    first = not package_format or package_format == next(iter(layer.target_formats), "")
    path = (
        DIST
        / layer.name
        / distro
        / ("kit-vars.json" if first else f"kit-vars.{package_format}.json")
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    known = known if known is not None else facts(settings, layer, distro)
    path.write_text(json.dumps(known, indent=2) + "\n")
    return path


def artifact_tests(settings: Settings, layer: Layer, distro: str) -> None:
    """The ecosystem's own tests of both builds (layer.toml tests.artifact, e.g. piuparts)."""
    # {target_image}: the layer's target image of this release (kit images), made on demand
    # — e.g. a one-build layer's smoke install on a release it is not fully tested on.
    wants_image = any("{target_image}" in part for argv in layer.artifact_tests for part in argv)
    image = (
        images.ensure(settings, layer.target_image, distro, layer.target_packages)
        if wants_image
        else ""
    )
    built_on = layer.build_distro(settings, distro)
    argvs = layer.artifact_argvs(
        settings,
        distro=distro,
        target_image=image,
        artifact_dir=out_dir(layer, built_on, settings.version, layer.target_arch),
        next_artifact_dir=out_dir(layer, built_on, settings.next_version, layer.target_arch),
        build_dir=render.build_dir(layer, built_on, settings.version, layer.target_arch),
    )
    for argv in argvs:
        with step(f"{layer.name} artifact test: {' '.join(argv[:2])}"):
            run(argv, cwd=ROOT, fix=f"see {layer.directory.name}/README.md, section Test")


def molecule(*args: str) -> list[str]:
    """The molecule command line, with the kit's shared scenario config."""
    return ["molecule", "--base-config", MOLECULE_BASE, *args]


def molecule_env(
    settings: Settings, layer: Layer, distro: str, image: str, package_format: str = ""
) -> dict[str, str]:
    known = facts(settings, layer, distro)
    if package_format:
        known["kit_package_format"] = package_format
    return {
        "KIT_VARS": str(vars_file(settings, layer, distro, known, package_format)),
        "KIT_IMAGE": image,
        "KIT_INSTANCE": known["kit_instance"],
        "KIT_PORT": str(settings.port),  # published on 127.0.0.1 (a random host port)
        # Molecule keys its state on the project dir's basename (`ansible` in every
        # checkout): keep this checkout's state in this checkout.
        "MOLECULE_EPHEMERAL_DIRECTORY": str(ROOT / ".kit" / "molecule" / layer.scenario),
        "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}",
        "ANSIBLE_FORCE_COLOR": "1",
        "PY_COLORS": "1",
    } | tier_env(layer)


def by_hand(env: dict[str, str]) -> str:
    """The variables a scenario run by hand needs (see .config/molecule/config.yml)."""
    return " ".join(f"{k}={shlex.quote(env[k])}" for k in ("KIT_VARS", "KIT_IMAGE", "KIT_PORT"))


def tier_env(layer: Layer) -> dict[str, str]:
    """Outside `kit test --matrix` (KIT_TIER=matrix): KIT_SELFTEST=skip
    (ansible/tasks/contract.yml) for a tests.selftest = "matrix" layer, KIT_UPGRADE=skip
    (tests/contract/plugin.py) for a tests.upgrade = "matrix" one."""
    if os.environ.get("KIT_TIER") == "matrix":
        return {}
    env = {"KIT_SELFTEST": "skip"} if layer.selftest == "matrix" else {}
    if layer.upgrade == "matrix":
        env["KIT_UPGRADE"] = f"skip:{layer.packages_from}"
    return env


def molecule_test(scenario: str, env: dict[str, str], fix: str, package_format: str = "") -> None:
    """A whole scenario: create, converge, idempotence, verify, destroy."""
    of = f" (the .{package_format})" if package_format else ""
    with step(f"molecule test -s {scenario}{of}"):
        run(molecule("test", "-s", scenario), cwd=ANSIBLE, env=env, fix=fix)


def _test_container(settings: Settings, layer: Layer, distro: str, prebuilt: bool) -> None:
    """A local container target (kit images), driven by the layer's molecule scenario."""
    image = images.ensure(settings, layer.target_image, distro, layer.target_packages)
    if not prebuilt:
        build_for_test(settings, layer, distro)
    artifact_tests(settings, layer, distro)
    # One fresh target per package format the build makes (target.formats), one after
    # the other: the same scenario, the same contract.
    for package_format in layer.target_formats or ("",):
        env = molecule_env(settings, layer, distro, image, package_format)
        molecule_test(
            layer.scenario,
            env,
            f"rerun `cd ansible && {by_hand(env)} molecule converge -s {layer.scenario}` "
            f"and `molecule verify -s {layer.scenario}` to look at the target",
            package_format,
        )


def _drill_container(
    settings: Settings, layer: Layer, distro: str, trials: int, keep: bool
) -> None:
    """Install the layer on its container target and run the fault drills, longer."""
    image = images.ensure(settings, layer.target_image, distro, layer.target_packages)
    build(settings, layer, distro)
    env = molecule_env(settings, layer, distro, image)
    fix = f"look at the target: cd ansible && molecule login -s {layer.scenario}"
    try:
        with step(f"molecule converge -s {layer.scenario}"):
            run(molecule("converge", "-s", layer.scenario), cwd=ANSIBLE, env=env, fix=fix)
        user = "root@" if layer.contract.get("supervisor") == "docker" else ""
        hosts = f"docker://{user}{facts(settings, layer, distro)['kit_instance']}"
        with step(f"fault drills, {trials} crash trials"):
            run(
                [
                    str(VENV_BIN / "python"),
                    "-m",
                    "pytest",
                    "tests/contract/test_drills.py",
                    f"--hosts={hosts}",
                    f"--kit-vars={env['KIT_VARS']}",
                    "-p",
                    "no:cacheprovider",
                    "-rA",
                    "-s",
                ],
                cwd=ROOT,
                env=env | {"KIT_DRILL_TRIALS": str(trials)},
                fix=fix,
            )
    finally:
        if not keep:
            with step(f"molecule destroy -s {layer.scenario}"):
                run(molecule("destroy", "-s", layer.scenario), cwd=ANSIBLE, env=env, fix=fix)


def drill(settings: Settings, layer: Layer, distro: str, trials: int, keep: bool) -> None:
    if layer.target_kind != "container":
        raise KitError(
            f"kit drill has no runner for target.kind = {layer.target_kind!r} yet",
            "run the drills through `./kit test` for that layer",
        )
    with step(f"drill {layer.name} on {distro}"):
        _drill_container(settings, layer, distro, trials, keep)


def build_for_test(settings: Settings, layer: Layer, distro: str) -> None:
    """Everything `kit test LAYER` installs: this version, and the next version of the
    package layer its upgrade check installs (the layer itself, or contract.packages_from
    for an image layer). `kit prebuild` runs this in a second process (build.background)."""
    build(settings, layer, distro)
    packages = layers.get(layer.packages_from)
    build(settings, packages, distro, settings.next_version, layer.target_arch)


def _test_vm(settings: Settings, layer: Layer, distro: str, prebuilt: bool) -> None:
    """A VM target: the layer's disk image booted under qemu (kit vm up), reached over
    SSH, driven by the layer's molecule scenario (delegated driver). Upgrades install the
    next version of the package layer the image baked in (contract.packages_from)."""
    if not prebuilt:
        build_for_test(settings, layer, distro)
    artifact_tests(settings, layer, distro)
    env = molecule_env(settings, layer, distro, vm_image(layer, distro, settings.version))
    with vm.one_at_a_time(f"{layer.name} on {distro}"):
        molecule_test(
            layer.scenario,
            env,
            f"boot it yourself: ./kit vm up NAME --image {env['KIT_IMAGE']} "
            f"--port {settings.port}, then `cd ansible && molecule verify -s {layer.scenario}`",
        )


# How each target kind (layer.toml `target.kind`) is made and tested: a container (kit
# images, molecule's docker driver) or a VM (kit vm: qemu, reached over ssh://).
TARGETS: dict[str, Callable[[Settings, Layer, str, bool], None]] = {
    "container": _test_container,
    "vm": _test_vm,
}


def test(settings: Settings, layer: Layer, distro: str, prebuilt: bool = False) -> None:
    """Build (unless PREBUILT: a background build made both versions), install, contract."""
    runner = TARGETS.get(layer.target_kind)
    if runner is None:
        raise KitError(
            f"{layer.directory.name}/layer.toml: no test harness for target.kind = "
            f"{layer.target_kind!r} yet",
            f"use one of {', '.join(TARGETS)}, or add a runner to TARGETS in kitcli/harness.py",
        )
    with step(f"test {layer.name} on {distro}"):
        runner(settings, layer, distro, prebuilt)
