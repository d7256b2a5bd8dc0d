"""The docker layer's parts that need no engine: its layer.toml, the build-stage helper
(docker/stage.py) and the upgrade step's connection for controller-side converges."""

from __future__ import annotations

import importlib.util
import os
import re
import stat
import sys
from pathlib import Path
from types import ModuleType

import pytest

from kitcli import layers
from kitcli.settings import ROOT, load


def _module(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def stage() -> ModuleType:
    return _module(ROOT / "docker" / "stage.py", "docker_stage")


def test_docker_layer_declares_a_container_contract() -> None:
    layer = layers.get("docker")
    facts = layer.contract_facts(load())
    assert facts["supervisor"] == "docker"
    assert facts["converge_on"] == "controller"
    assert facts["interpreter"] == "/opt/sample-service/venv/bin/python3"
    assert "slim" in layer.build_images
    scenario = ROOT / "ansible" / "molecule" / layer.scenario
    for playbook in ("create.yml", "converge.yml", "verify.yml", "destroy.yml"):
        assert (scenario / playbook).is_file(), playbook


def test_build_argv_passes_the_service_ids(tmp_path: Path) -> None:
    argv = layers.get("docker").build_argv(load(), distro="trixie", version="9.9.9", out=tmp_path)
    for flag, value in (("--uid", "990"), ("--gid", "990"), ("--port", "8080")):
        assert argv[argv.index(flag) + 1] == value


def test_dockerfile_names_match_kit_toml() -> None:
    """Exec-form ENTRYPOINT/HEALTHCHECK cannot expand build args, so the Dockerfile spells
    the service's paths out: they must be kit.toml's (kit adopt renders them)."""
    settings = load()
    text = (ROOT / "docker" / "Dockerfile").read_text()
    assert set(re.findall(r"/opt/([a-z0-9-]+)/venv", text)) == {settings.name}
    assert f'"-m", "{settings.python_package}"' in text
    assert "bash docker/build.sh --distro trixie --version" in text  # the header's command


def test_copier_recreates_symlink_chains_and_strips_setuid(
    stage: ModuleType, tmp_path: Path
) -> None:
    src, dest = tmp_path / "src", tmp_path / "dest"
    (src / "usr" / "lib").mkdir(parents=True)
    (src / "lib").symlink_to("usr/lib")  # usrmerge
    real = src / "usr" / "lib" / "libx.so.1.2"
    real.write_bytes(b"\x7fELF-not-really")
    real.chmod(0o4755)
    (src / "usr" / "lib" / "libx.so.1").symlink_to("libx.so.1.2")

    copier = stage.Copier(str(dest))
    copier.path(str(src / "lib" / "libx.so.1"))

    mirrored = Path(str(dest) + str(src))
    assert os.readlink(mirrored / "lib") == "usr/lib"
    assert os.readlink(mirrored / "usr" / "lib" / "libx.so.1") == "libx.so.1.2"
    copied = mirrored / "usr" / "lib" / "libx.so.1.2"
    assert copied.read_bytes() == real.read_bytes()
    assert stat.S_IMODE(copied.stat().st_mode) == 0o755, "setuid bit survived"
    assert copier.files == {str(real)}


@pytest.mark.parametrize(
    ("name", "kept"),
    [
        ("json", True),
        ("sqlite3", True),
        ("_ssl.cpython-313-x86_64-linux-gnu.so", True),
        ("test", False),
        ("idlelib", False),
        ("ensurepip", False),
        ("site-packages", False),
        ("_tkinter.cpython-313-x86_64-linux-gnu.so", False),
        ("_dbm.cpython-313-x86_64-linux-gnu.so", False),
        ("libpython3.13.a", False),
    ],
)
def test_stdlib_trim_keeps_what_a_service_imports(
    stage: ModuleType, tmp_path: Path, name: str, kept: bool
) -> None:
    path = tmp_path / name
    if "." in name:
        path.write_text("")
    else:
        path.mkdir()
    assert stage.keep_stdlib(str(tmp_path), name) is kept


def test_controller_side_upgrade_runs_locally() -> None:
    converge = _module(ROOT / "tests" / "contract" / "converge.py", "contract_converge")
    argv = converge.ansible_target("docker://root@kit-docker-trixie", "controller")
    assert argv[:4] == ["-i", "kit-docker-trixie,", "-c", "local"]
    assert f"ansible_python_interpreter={sys.executable}" in argv
    assert converge.ansible_target("docker://kit-wheel-trixie", "target")[3] == (
        "community.docker.docker"
    )
