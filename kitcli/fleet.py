"""`kit test fleet`: the fleet playbooks (ansible/playbooks/fleet) proven on three systemd
containers and a repository server (molecule scenario ansible/molecule/fleet): a signed
apt repository, a health-gated rolling update, every refusal, a rollback; and, with the
rpm layer in the checkout, a signed rpm repository an rpm host installs from (a tampered
package and a tampered repomd.xml refused). Then the ad-hoc path: the fabric tasks
(ansible/fabric) against a systemd container with sshd."""

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
RPM_LAYER = "rpm"  # the rpm host: this layer's target image, its packages in the rpm repository
RPM_GROUP = "fleet_rpm"  # the scenario's inventory group of the rpm host
IDLE_GROUP = "idle"  # ... and where it waits, doing nothing, without the rpm layer


def rpm_host_env(fallback_image: str, rpm_image: str | None) -> dict[str, str]:
    """What the scenario's rpm host needs (molecule.yml reads it): the rpm layer's target
    image, or, without the rpm layer (RPM_IMAGE None), FALLBACK_IMAGE in a group no play
    names. Its packages are dist/rpm/<distro>/<version>/ (the scenario finds them)."""
    if rpm_image is None:
        return {"KIT_RPM_IMAGE": fallback_image, "KIT_FLEET_RPM_GROUP": IDLE_GROUP}
    return {"KIT_RPM_IMAGE": rpm_image, "KIT_FLEET_RPM_GROUP": RPM_GROUP}


def _rpm_half(settings: Settings, distro: str) -> str | None:
    """Build this and the next version's .rpm and make the rpm layer's target image;
    return that image (None when this checkout has no rpm layer)."""
    if RPM_LAYER not in layers.discover():
        return None
    rpm = layers.get(RPM_LAYER)
    image = images.ensure(settings, rpm.target_image, distro, rpm.target_packages)
    harness.build_for_test(settings, rpm, distro)
    return image


def available() -> bool:
    """The scenario is in this checkout (an adopted service without the deb layer has none)."""
    return (SCENARIO_DIR / "molecule.yml").is_file() and LAYER in layers.discover()


def test(settings: Settings, distro: str) -> None:
    """Build this and the next version's .deb (and .rpm), then run the whole fleet scenario."""
    layer = layers.get(LAYER)
    with step(f"test fleet on {distro}"):
        image = images.ensure(settings, layer.target_image, distro, layer.target_packages)
        harness.build_for_test(settings, layer, distro)
        rpm = _rpm_half(settings, distro)
        env = (
            harness.molecule_env(settings, layer, distro, image)
            | {"MOLECULE_EPHEMERAL_DIRECTORY": str(ROOT / ".kit" / "molecule" / SCENARIO)}
            | rpm_host_env(image, rpm)
        )
        harness.molecule_test(
            SCENARIO,
            env,
            f"rerun `cd ansible && {harness.by_hand(env)} molecule converge -s {SCENARIO}` "
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
