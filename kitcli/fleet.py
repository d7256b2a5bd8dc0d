"""`kit test fleet`: the fleet playbooks (ansible/playbooks/fleet) proven on three systemd
containers and a repository server (molecule scenario ansible/molecule/fleet): a signed
apt repository, a health-gated rolling update, every refusal, a rollback. Then the ad-hoc
path: the fabric tasks (ansible/fabric) against a systemd container with sshd."""

from __future__ import annotations

import sys

from kitcli import harness, images, layers
from kitcli.settings import ROOT, Settings
from kitcli.steps import run, step

LAYER = "deb"  # the package the fleet installs from its repository
SCENARIO = "fleet"
SCENARIO_DIR = ROOT / "ansible" / "molecule" / SCENARIO
FABRIC_TESTS = ROOT / "ansible" / "fabric" / "tests"
SSH_PACKAGES = ("openssh-server",)  # on top of the deb layer's target image: an SSH host


def available() -> bool:
    """The scenario is in this checkout (an adopted service without the deb layer has none)."""
    return (SCENARIO_DIR / "molecule.yml").is_file() and LAYER in layers.discover()


def test(settings: Settings, distro: str) -> None:
    """Build this and the next version's .deb, then run the whole fleet scenario."""
    layer = layers.get(LAYER)
    with step(f"test fleet on {distro}"):
        image = images.ensure(settings, layer.target_image, distro, layer.target_packages)
        harness.build_for_test(settings, layer, distro)
        env = harness.molecule_env(settings, layer, distro, image) | {
            "MOLECULE_EPHEMERAL_DIRECTORY": str(ROOT / ".kit" / "molecule" / SCENARIO),
        }
        harness.molecule_test(
            SCENARIO,
            env,
            f"rerun `cd ansible && KIT_VARS={env['KIT_VARS']} molecule converge -s {SCENARIO}` "
            f"and `molecule verify -s {SCENARIO}` to look at the fleet",
        )
        if FABRIC_TESTS.is_dir():
            ssh_image = images.ensure(
                settings, layer.target_image, distro, (*layer.target_packages, *SSH_PACKAGES)
            )
            with step("fabric tasks: deploy, status, logs, rollback over SSH"):
                run(
                    [sys.executable, "-m", "pytest", "-q", "-s", "-m", "fabric", str(FABRIC_TESTS)],
                    cwd=ROOT,
                    env=env | {"KIT_FABRIC_IMAGE": ssh_image},
                    fix="the failing check's output above says what broke",
                )
