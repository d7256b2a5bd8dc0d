"""One mechanism for every layer: build the artifact (current and next version), make
the target image, then run the layer's molecule scenario, whose verify step runs the
shared contract. Nothing here knows a layer by name."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from kitcli import images
from kitcli.errors import KitError
from kitcli.layers import Layer
from kitcli.settings import ROOT, Settings
from kitcli.steps import console, run, step

DIST = ROOT / "dist"
ANSIBLE = ROOT / "ansible"
VENV_BIN = Path(__file__).resolve().parent.parent / ".kit" / "venv" / "bin"


def out_dir(layer: Layer, distro: str, version: str) -> Path:
    return DIST / layer.name / distro / version


def build(settings: Settings, layer: Layer, distro: str, version: str | None = None) -> Path:
    version = version or settings.version
    out = out_dir(layer, distro, version)
    with step(f"build {layer.name} {version} for {distro}"):
        for variant in layer.build_images:
            images.ensure(settings, variant, distro)
        if out.exists():
            shutil.rmtree(out)
        out.mkdir(parents=True)
        argv = layer.build_argv(settings, distro=distro, version=version, out=out)
        run(argv, cwd=ROOT, fix=f"see {layer.directory.name}/README.md, section Build")
        artifacts = sorted(p for p in out.iterdir() if p.is_file())
        if not artifacts:
            raise KitError(
                f"the {layer.name} build left nothing in {out}",
                f"make {layer.directory.name}'s build write its artifact to --out",
            )
        for a in artifacts:
            console.print(
                f"  artifact {a.relative_to(ROOT)} [dim]({a.stat().st_size / 1e6:.1f} MB)[/]"
            )
    return out


def facts(settings: Settings, layer: Layer, distro: str) -> dict[str, Any]:
    """Everything the layer's role, scenario and the contract need."""
    return {
        "kit_layer": layer.name,
        "kit_distro": distro,
        "kit_root": str(ROOT),
        "kit_image": images.image_ref(layer.target_image, distro),
        "kit_instance": f"kit-{layer.name}-{distro}",
        "kit_version": settings.version,
        "kit_artifact_dir": str(out_dir(layer, distro, settings.version)),
        "kit_next_artifact_dir": str(out_dir(layer, distro, settings.next_version)),
        "kit_upgrade_playbook": str(ANSIBLE / "molecule" / layer.scenario / "converge.yml"),
        "kit_service": settings.facts(),
        "kit_contract": layer.contract_facts(settings),
    }


def vars_file(settings: Settings, layer: Layer, distro: str) -> Path:
    """Write facts() where molecule (-e @FILE) and the contract (--kit-vars) read them."""
    path = DIST / layer.name / distro / "kit-vars.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(facts(settings, layer, distro), indent=2) + "\n")
    return path


def test(settings: Settings, layer: Layer, distro: str) -> None:
    with step(f"test {layer.name} on {distro}"):
        images.ensure(settings, layer.target_image, distro)
        build(settings, layer, distro)
        build(settings, layer, distro, settings.next_version)
        known = facts(settings, layer, distro)
        env = {
            "KIT_VARS": str(vars_file(settings, layer, distro)),
            "KIT_IMAGE": known["kit_image"],
            "KIT_INSTANCE": known["kit_instance"],
            "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}",
            "ANSIBLE_FORCE_COLOR": "1",
            "PY_COLORS": "1",
        }
        with step(f"molecule test -s {layer.scenario}"):
            run(
                ["molecule", "test", "-s", layer.scenario],
                cwd=ANSIBLE,
                env=env,
                fix=f"rerun `cd ansible && molecule converge -s {layer.scenario}` and "
                f"`molecule verify -s {layer.scenario}` to look at the target",
            )
