"""`kit adopt`: what it derives, what it refuses (one line each), what it copies and how a
second run updates (kitcli/adopt.py, kitcli/adopt_files.py). No docker, no network: a small
fake kit and a pre-locked service in tmp dirs. The real proof is tests/adopt/."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from kitcli import adopt, adopt_files
from kitcli.adopt import Given
from kitcli.errors import KitError
from kitcli.settings import ROOT, load

PYPROJECT = """\
[build-system]
requires = ["setuptools>=77"]
build-backend = "setuptools.build_meta"

[project]
name = "Tally_API"
version = "1.0.0"
description = "Tally: a tiny \\"JSON\\" item store"
license = "MIT"
authors = [{ name = "Tally Team", email = "tally@example.com" }]
dependencies = ["msgpack>=1.1"]
[project.urls]
Source = "https://example.com/tally-api"
[project.scripts]
tally-serve = "tally.server:main"
"""
FLAGS = Given(port=9191, uid=991, health="/health", items="/items")


def write(path: Path, text: str, mode: int = 0o644) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


@pytest.fixture
def kit(tmp_path: Path) -> Path:
    """A kit checkout in miniature: front door, CLI, three layers, roles, scenarios."""
    root = tmp_path / "kit"
    write(root / "kit", "#!/usr/bin/env bash\necho kit\n", 0o755)
    write(root / "kitcli" / "__init__.py", "")
    write(root / "kitcli" / "__pycache__" / "cli.cpython-311.pyc", "junk")
    write(root / "lib" / "build.sh", "# lib\n")
    write(root / "templates" / "unit.service.j2", "[Unit]\n")
    write(root / "tests" / "__init__.py", "")
    write(root / "tests" / "contract" / "test_contract.py", "# contract\n")
    write(root / "tests" / "kit" / "test_settings.py", "# the kit's own tests: not copied\n")
    write(root / "ruff.toml", "line-length = 100\n")
    write(root / ".ci" / "run", "#!/usr/bin/env bash\n./kit test\n", 0o755)
    write(root / "sample_service" / "pyproject.toml", "# the sample: not copied\n")
    write(
        root / "kit.toml",
        '[targets]\ndistros = ["trixie"]\nmirror = "http://mirror.example/debian"\n'
        '[kit]\ncache_dir = "/var/cache/kit-test"\n',
    )
    for layer in ("wheel", "deb", "docker"):
        write(
            root / layer / "layer.toml",
            f'[layer]\nname = "{layer}"\n[target]\nscenario = "{layer}"\n',
        )
        write(root / layer / "build.sh", f"# build {layer}\n", 0o755)
        write(root / "ansible" / "molecule" / layer / "molecule.yml", f"# {layer}\n")
        write(root / "ansible" / "roles" / f"service_{layer}" / "tasks" / "main.yml", "---\n")
    write(root / "ansible" / "ansible.cfg", "[defaults]\n")
    write(root / "ansible" / "roles" / "service_common" / "tasks" / "main.yml", "---\n")
    write(root / "ansible" / "tasks" / "contract.yml", "---\n")
    write(root / "ansible" / "molecule" / "shared" / "upgrade.yml", "---\n")
    return root


@pytest.fixture
def service(tmp_path: Path) -> Path:
    """A service repository that passes the kit's own kit.toml validation once adopted."""
    repo = tmp_path / "tally-api"
    write(repo / "pyproject.toml", PYPROJECT)
    write(repo / "src" / "tally" / "__init__.py", "")
    write(repo / "src" / "tally" / "server.py", "def main() -> None: ...\n")
    write(repo / "requirements.lock", "msgpack==1.1.0 --hash=sha256:00\n")  # no uv, no network
    write(repo / ".gitignore", "__pycache__/\n")
    return repo


def run_adopt(service: Path, kit: Path, given: Given = FLAGS, **kw: Any) -> adopt.Result:
    return adopt.adopt(service, given, kit_root=kit, **kw)


def one_line(exc: pytest.ExceptionInfo[KitError]) -> str:
    text = str(exc.value)
    assert "\n" not in text and " — fix: " in text
    return text


# ------------------------------------------------------------------ derivation


def test_derives_name_import_name_and_metadata(service: Path) -> None:
    project = adopt.read_project(service)
    assert project.name == "tally-api"  # Tally_API, normalised
    assert project.version == "1.0.0"
    assert project.default_script() == "tally-serve"
    assert project.import_name("tally-serve") == "tally"
    assert project.maintainer == "Tally Team <tally@example.com>"
    assert (project.license, project.homepage) == ("MIT", "https://example.com/tally-api")


def test_finds_pyproject_one_directory_down(tmp_path: Path, service: Path) -> None:
    outer = tmp_path / "monorepo"
    outer.mkdir()
    service.rename(outer / "tally")
    assert adopt.find_pyproject(outer) == outer / "tally" / "pyproject.toml"


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (lambda t: "", "not a Python project"),
        (lambda t: "[tool.x]\na = 1\n", "no [project] table"),
        (lambda t: t.replace('version = "1.0.0"', 'dynamic = ["version"]'), "version is dynamic"),
        (lambda t: t.replace('version = "1.0.0"', 'version = "1.0"'), "MAJOR.MINOR.PATCH"),
        (lambda t: t.split("[project.scripts]")[0], "no entry point"),
    ],
    ids=["no-pyproject", "no-project", "dynamic-version", "two-part-version", "no-entry-point"],
)
def test_refusals_are_one_line(service: Path, kit: Path, edit: Any, needle: str) -> None:
    text = edit(PYPROJECT)
    if text:
        (service / "pyproject.toml").write_text(text)
    else:
        (service / "pyproject.toml").unlink()
    with pytest.raises(KitError) as exc:
        run_adopt(service, kit)
    assert needle in one_line(exc)
    assert not (service / "kit").exists(), "a refusal writes nothing"


def test_refuses_an_unrelated_kit(service: Path, kit: Path) -> None:
    write(service / "kit", "#!/bin/sh\necho another tool\n", 0o755)
    with pytest.raises(KitError) as exc:
        run_adopt(service, kit)
    assert "not written by kit adopt" in one_line(exc)
    (service / "kit").unlink()
    (service / "kit").mkdir()  # a Python package called kit, say
    with pytest.raises(KitError, match="not written by kit adopt"):
        run_adopt(service, kit)


def test_refuses_the_kits_own_checkout(kit: Path) -> None:
    with pytest.raises(KitError, match="this kit's own checkout"):
        adopt.adopt(kit, FLAGS, kit_root=kit)


# ------------------------------------------------------------------ answers


def test_without_terminal_missing_flags_are_named_in_one_line(service: Path, kit: Path) -> None:
    with pytest.raises(KitError) as exc:
        run_adopt(service, kit, Given())
    text = one_line(exc)
    assert "--port" in text and "--uid" in text and "--health" in text
    assert "--maintainer" not in text, "derived from pyproject's authors"


def test_several_scripts_need_command(service: Path, kit: Path) -> None:
    text = PYPROJECT + 'tally-admin = "tally.admin:main"\n'
    (service / "pyproject.toml").write_text(text)
    with pytest.raises(KitError) as exc:
        run_adopt(service, kit)
    assert "--command" in one_line(exc) and "tally-admin, tally-serve" in str(exc.value)
    given = Given(**{**FLAGS.__dict__, "command": "tally-serve --bind 0.0.0.0:9191"})
    run_adopt(service, kit, given)
    assert load(service / "kit.toml").command == ("tally-serve", "--bind", "0.0.0.0:9191")


def test_script_named_like_the_project_wins(service: Path) -> None:
    text = PYPROJECT.replace('name = "Tally_API"', 'name = "tally-serve"')
    (service / "pyproject.toml").write_text(text + 'tally-admin = "tally.admin:main"\n')
    assert adopt.read_project(service).default_script() == "tally-serve"


@pytest.mark.parametrize(
    ("field", "value", "flag"),
    [
        ("port", 0, "--port"),
        ("uid", 0, "--uid"),
        ("user", "root", "--user"),
        ("health", "health", "--health"),
        ("command", "nope", "--command"),
        ("maintainer", "nobody", "--maintainer"),
        ("config_template", "missing.j2", "--config-template"),
        ("version", "version", "--version-path"),
    ],
)
def test_bad_flag_names_the_flag(
    service: Path, kit: Path, field: str, value: Any, flag: str
) -> None:
    with pytest.raises(KitError) as exc:
        run_adopt(service, kit, Given(**{**FLAGS.__dict__, field: value}))
    assert one_line(exc).startswith(f"{flag} ")


def test_unknown_layer(service: Path, kit: Path) -> None:
    with pytest.raises(KitError, match="unknown layer 'omnibus' — fix: use some of: wheel, deb"):
        run_adopt(service, kit, Given(**{**FLAGS.__dict__, "layers": "deb,omnibus"}))


def test_interactive_asks_with_derived_defaults_and_reasks_bad_answers(
    service: Path, kit: Path
) -> None:
    asked: list[tuple[str, str]] = []
    answers = {"TCP port": ["http", "9191"], "fixed uid": ["991"], "liveness": ["/health"]}

    def ask(question: str, default: str) -> str:
        asked.append((question, default))
        for start, queue in answers.items():
            if question.startswith(start) and queue:
                return queue.pop(0)
        return default

    run_adopt(service, kit, Given(), ask=ask)
    defaults = dict(asked)
    assert defaults[adopt.QUESTIONS["name"]] == "tally-api"
    assert defaults[adopt.QUESTIONS["gid"]] == "991"  # the uid just given
    assert defaults[adopt.QUESTIONS["maintainer"]] == "Tally Team <tally@example.com>"
    assert sum(q == adopt.QUESTIONS["port"] for q, _ in asked) == 2  # "http" was re-asked
    assert load(service / "kit.toml").port == 9191


# ------------------------------------------------------------------ copying + kit.toml


def test_first_adopt_copies_the_kit_and_writes_a_valid_kit_toml(service: Path, kit: Path) -> None:
    result = run_adopt(service, kit, Given(**{**FLAGS.__dict__, "layers": "deb"}))
    assert result.layers == ["wheel", "deb"]  # wheel always: deb builds call wheel/build.sh
    files = set(json.loads((service / adopt_files.RECORD).read_text())["files"])
    assert {"kit", "kitcli/__init__.py", "lib/build.sh", "templates/unit.service.j2"} <= files
    assert {"tests/__init__.py", "tests/contract/test_contract.py", "ruff.toml", ".ci/run"} <= files
    assert {"wheel/build.sh", "deb/build.sh", "ansible/ansible.cfg"} <= files
    assert {
        "ansible/roles/service_common/tasks/main.yml",
        "ansible/roles/service_deb/tasks/main.yml",
    } <= files
    assert {"ansible/molecule/deb/molecule.yml", "ansible/molecule/shared/upgrade.yml"} <= files
    assert not {f for f in files if "docker" in f or "__pycache__" in f or "tests/kit" in f}
    assert not any(f.startswith("sample_service") for f in files)
    assert (service / "kit").stat().st_mode & 0o111, "the front door stays executable"

    settings = load(service / "kit.toml")  # the kit's own validation accepts it
    assert (settings.name, settings.python_package, settings.user) == (
        "tally-api",
        "tally",
        "tally-api",
    )
    assert (settings.port, settings.uid, settings.gid) == (9191, 991, 991)
    assert settings.command == ("tally-serve",)
    assert settings.description == 'Tally: a tiny "JSON" item store'
    assert settings.source == service and settings.config_template is None
    assert settings.http["items"] == "/items" and settings.http["version"] == ""
    assert settings.http["openapi"] == "", "no OpenAPI document unless given: fuzzing skips"
    assert (settings.distros, settings.mirror) == (("trixie",), "http://mirror.example/debian")
    assert str(settings.cache_dir) == "/var/cache/kit-test"
    assert ".kit/" in (service / ".gitignore").read_text().splitlines()


def test_source_is_relative_to_kit_toml(tmp_path: Path, service: Path, kit: Path) -> None:
    outer = tmp_path / "repo"
    outer.mkdir()
    service.rename(outer / "svc")
    run_adopt(outer, kit)
    raw = tomllib.loads((outer / "kit.toml").read_text())
    assert raw["service"]["source"] == "svc"
    assert load(outer / "kit.toml").source == outer / "svc"


def test_service_with_its_own_ci_run_gets_kit_run(service: Path, kit: Path) -> None:
    write(service / ".ci" / "run", "#!/bin/sh\nmake test\n", 0o755)
    result = run_adopt(service, kit)
    assert result.ci == ".ci/kit-run"
    assert (service / ".ci" / "run").read_text() == "#!/bin/sh\nmake test\n"
    assert (service / ".ci" / "kit-run").read_text() == (kit / ".ci" / "run").read_text()


def test_a_services_own_file_is_never_overwritten(service: Path, kit: Path) -> None:
    write(service / "ruff.toml", "line-length = 88\n")
    result = run_adopt(service, kit)
    assert (service / "ruff.toml").read_text() == "line-length = 88\n"
    assert (service / "ruff.toml.kit-new").read_text() == "line-length = 100\n"
    assert result.outcome.conflicts == ["ruff.toml"]


def test_locks_dependencies_when_there_is_no_lock(
    service: Path, kit: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (service / "requirements.lock").unlink()
    text = PYPROJECT.replace(
        "[project.urls]", '[project.optional-dependencies]\ntest = ["pytest"]\n[project.urls]'
    )
    (service / "pyproject.toml").write_text(text)
    calls: list[tuple[list[str], Path | None]] = []

    def fake_run(argv: list[str], *, cwd: Path | None = None, **kw: Any) -> Any:
        calls.append(([str(a) for a in argv], cwd))
        if "compile" in argv:
            write(service / argv[-1], "msgpack==1.1.0 --hash=sha256:00\n")
        return None

    monkeypatch.setattr(adopt, "run", fake_run)
    monkeypatch.setattr(adopt, "_kit_commit", lambda root: "abc")
    result = run_adopt(service, kit)
    compiled = [(argv[1:], cwd) for argv, cwd in calls if "compile" in argv]
    common = ["pip", "compile", "--quiet", "--universal", "--generate-hashes"]
    common += ["--python-version", "3.11", "pyproject.toml"]
    assert compiled == [
        ([*common, "-o", "requirements.lock"], service),
        ([*common, "--extra", "test", "-o", "requirements-dev.lock"], service),
    ]
    assert result.wrote_lock
    calls.clear()
    run_adopt(service, kit)  # locks exist now: never relocked
    assert not [argv for argv, _ in calls if "compile" in argv]


# ------------------------------------------------------------------ update


def test_second_adopt_updates_kit_files_only(service: Path, kit: Path) -> None:
    run_adopt(service, kit, Given(**{**FLAGS.__dict__, "layers": "deb,docker"}))
    kit_toml = (service / "kit.toml").read_bytes()
    code = (service / "src" / "tally" / "server.py").read_bytes()
    lock = (service / "requirements.lock").read_bytes()
    # The user edits two kit files; the kit then changes one of them, one untouched file,
    # drops a file and a layer's build script.
    (service / "lib" / "build.sh").write_text("# lib, edited locally\n")
    (service / "ruff.toml").write_text("line-length = 120\n")
    (kit / "lib" / "build.sh").write_text("# lib v2\n")
    (kit / "templates" / "unit.service.j2").write_text("[Unit]\nv2\n")
    (kit / "ansible" / "tasks" / "contract.yml").unlink()

    again = Given(port=1234, name="other")  # identity flags are ignored on update
    result = run_adopt(service, kit, again)
    out = result.outcome
    assert (service / "kit.toml").read_bytes() == kit_toml
    assert (service / "src" / "tally" / "server.py").read_bytes() == code
    assert (service / "requirements.lock").read_bytes() == lock
    assert result.layers == ["wheel", "deb", "docker"], "the recorded layers"
    assert (service / "templates" / "unit.service.j2").read_text() == "[Unit]\nv2\n"
    assert "templates/unit.service.j2" in out.written
    assert out.conflicts == ["lib/build.sh"]
    assert (service / "lib" / "build.sh").read_text() == "# lib, edited locally\n"
    assert (service / "lib" / "build.sh.kit-new").read_text() == "# lib v2\n"
    assert out.kept == ["ruff.toml"]  # edited, and the kit did not change it
    assert out.removed == ["ansible/tasks/contract.yml"]
    assert not (service / "ansible" / "tasks").exists(), "emptied dirs are pruned"

    # The user merges: the next run settles it and removes the .kit-new.
    (service / "lib" / "build.sh").write_text("# lib v2\n")
    out = run_adopt(service, kit).outcome
    assert not out.conflicts and not (service / "lib" / "build.sh.kit-new").exists()


def test_update_can_drop_a_layer(service: Path, kit: Path) -> None:
    run_adopt(service, kit, Given(**{**FLAGS.__dict__, "layers": "deb,docker"}))
    (service / "docker" / "build.sh").write_text("# edited\n")
    out = run_adopt(service, kit, Given(layers="deb")).outcome
    assert not (service / "ansible" / "molecule" / "docker").exists()
    assert "docker/layer.toml" in out.removed
    assert out.orphaned == ["docker/build.sh"]  # edited: left in place, reported
    assert (service / "docker" / "build.sh").read_text() == "# edited\n"


@pytest.mark.parametrize(
    ("dest", "base", "new", "expect", "content", "beside"),
    [
        (None, None, "N", "written", "N", None),
        ("B", "B", "N", "written", "N", None),
        ("N", "B", "N", "unchanged", "N", None),
        ("D", "B", "B", "kept", "D", None),
        ("D", "B", "N", "conflicts", "D", "N"),
        ("D", None, "N", "conflicts", "D", "N"),  # the service's own file, never recorded
    ],
)
def test_update_model(
    tmp_path: Path,
    dest: str | None,
    base: str | None,
    new: str,
    expect: str,
    content: str,
    beside: str | None,
) -> None:
    repo, src = tmp_path / "repo", write(tmp_path / "kit" / "f.txt", new)
    if dest is not None:
        write(repo / "f.txt", dest)
    repo.mkdir(exist_ok=True)
    bases = {"f.txt": adopt_files.sha256(write(tmp_path / "b", base))} if base else {}
    out = adopt_files.apply(repo, {"f.txt": src}, bases)
    assert getattr(out, expect) == ["f.txt"]
    assert (repo / "f.txt").read_text() == content
    kit_new = repo / "f.txt.kit-new"
    assert (kit_new.read_text() if kit_new.exists() else None) == beside
    assert out.record == {"f.txt": adopt_files.sha256(src)}


# ------------------------------------------------------------------ the real kit + CLI


def test_plan_of_the_real_kit() -> None:
    layers = adopt_files.discover_layers(ROOT)
    assert {"wheel", "deb"} <= set(layers)
    files = adopt_files.plan(ROOT, [layers["wheel"], layers["deb"]], ".ci/run")
    assert {"kit", "kitcli/cli.py", "kitcli/adopt.py", "ansible/ansible.cfg"} <= set(files)
    assert any(f.startswith("tests/contract/") for f in files)
    assert any(f.startswith("ansible/molecule/deb/") for f in files)
    assert not any(
        f.startswith(("ansible/molecule/docker/", "docker/", "tests/kit/")) for f in files
    )
    assert not any("__pycache__" in f or f.endswith(".pyc") for f in files)
    assert not any(
        f.startswith(("sample_service/", "dist/", ".kit/", "tests/adopt/")) for f in files
    )


def test_an_image_layer_brings_the_package_layer_it_bakes_in() -> None:
    known = adopt_files.discover_layers(ROOT)
    assert adopt.choose_layers("hardware", known) == ["wheel", "deb", "hardware"]
    assert adopt.choose_layers("packer,docker", known) == ["wheel", "deb", "docker", "packer"]
    files = adopt_files.plan(ROOT, [known[n] for n in ("wheel", "deb", "hardware")], ".ci/run")
    assert "ansible/playbooks/vm/create.yml" in files  # the plays the VM scenarios share
    assert "ansible/molecule/hardware/molecule.yml" in files
    assert "hardware/firstboot/kit-firstboot" in files


def test_register_adds_the_command(service: Path) -> None:
    app = typer.Typer()
    app.command("noop")(lambda: None)
    adopt.register(app)
    runner = CliRunner()
    shown = runner.invoke(app, ["adopt", "--help"])
    assert shown.exit_code == 0 and "--layers" in shown.output and "--version-path" in shown.output
    refused = runner.invoke(app, ["adopt", str(service), "--yes"])
    assert isinstance(refused.exception, KitError) and "--port" in str(refused.exception)


def test_output_shows_bracketed_text_verbatim(
    tmp_path: Path, service: Path, kit: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    odd = service.rename(tmp_path / "tally[dim]api")
    run_adopt(odd, kit)
    out = capsys.readouterr().out
    assert f"copy the kit (wheel, deb, docker) into {odd}" in out
    assert f"wrote {odd}/kit.toml" in out


def test_the_adopt_proof_passes_the_tier_knobs_to_the_adopted_kit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.adopt.test_adopt import clean_env

    monkeypatch.setenv("KIT_CONFIG", "/elsewhere/kit.toml")
    monkeypatch.setenv("KIT_DRILL_TRIALS", "3")
    monkeypatch.setenv("KIT_SELFTEST", "skip")
    env = clean_env()
    assert "KIT_CONFIG" not in env  # the calling kit's own settings stay behind
    assert env["KIT_DRILL_TRIALS"] == "3" and env["KIT_SELFTEST"] == "skip"


def test_the_deb_layer_brings_the_fleet() -> None:
    """The fleet rolls out the deb layer's package: its scenario, playbooks, roles and
    example inventory come with deb, and stay out without it."""
    known = adopt_files.discover_layers(ROOT)
    with_deb = adopt_files.plan(ROOT, [known[n] for n in ("wheel", "deb")], ".ci/run")
    for rel in (
        "ansible/molecule/fleet/molecule.yml",
        "ansible/molecule/fleet/break-deb.sh",
        "ansible/playbooks/fleet/rollout.yml",
        "ansible/roles/repo_publish/tasks/main.yml",
        "ansible/roles/rollout/tasks/gate.yml",
        "ansible/inventory/fleet.example.yml",
        "ansible/fabric/fabfile.py",
    ):
        assert rel in with_deb, rel
    without = adopt_files.plan(ROOT, [known["wheel"]], ".ci/run")
    assert not any(f.startswith(("ansible/molecule/fleet/", "ansible/fabric/")) for f in without)
