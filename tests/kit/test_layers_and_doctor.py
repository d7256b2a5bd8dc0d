"""The layer mechanism and doctor, without touching the host."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kitcli import doctor, harness, images, layers
from kitcli.errors import KitError
from kitcli.settings import load


def test_every_layer_dir_loads_and_has_its_scenario() -> None:
    found = layers.discover()
    assert "wheel" in found
    root = Path(layers.ROOT)
    for layer in found.values():
        assert (root / "ansible" / "molecule" / layer.scenario / "molecule.yml").is_file()
        assert layer.target_kind == "vm" or layer.target_image in images.VARIANTS
        assert set(layer.build_images) <= set(images.VARIANTS)
        assert (layer.directory / "README.md").is_file()


def test_build_argv_renders_placeholders(tmp_path: Path) -> None:
    argv = layers.get("wheel").build_argv(
        load(), distro="bookworm", version="9.9.9", out=tmp_path / "out", build_dir=tmp_path / "b"
    )
    assert str(tmp_path / "out") in argv and str(tmp_path / "b") in argv


def test_unknown_layer_names_the_known_ones() -> None:
    with pytest.raises(KitError, match=r"use one of: .*wheel"):
        layers.get("nope")


def test_bad_layer_toml_is_reported(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "layer.toml").write_text('[layer]\nname = "x"\n')
    with pytest.raises(KitError, match="`build` is missing"):
        layers.discover(tmp_path)


def test_image_hash_changes_with_recipe() -> None:
    s = load()
    a = images.content_hash(s, images.VARIANTS["systemd-python"], "trixie")
    assert a == images.content_hash(s, images.VARIANTS["systemd-python"], "trixie")
    assert a != images.content_hash(s, images.VARIANTS["systemd-python"], "bookworm")
    assert a != images.content_hash(s, images.VARIANTS["systemd"], "trixie")


def test_doctor_fix_refuses_without_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(doctor.os, "geteuid", lambda: 1000)
    with pytest.raises(KitError, match="needs root") as exc:
        doctor.fix(list(doctor.PREREQS))
    assert "sudo ./kit doctor --fix" in exc.value.fix


def test_doctor_prints_fix_for_each_missing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(doctor.shutil, "which", lambda _cmd: None)
    monkeypatch.setattr(doctor, "BINFMT", Path("/nonexistent"))
    missing = doctor.report()
    out = capsys.readouterr().out
    assert len(missing) == len(doctor.PREREQS)
    for p in doctor.PREREQS:
        assert p.fix.split("&&")[0].strip() in out.replace("\n", " ")


def _prereq(name: str, state: list[bool]) -> doctor.Prereq:
    return doctor.Prereq(name, "tests", lambda: state[0], (name,), f"apt-get install -y {name}")


def test_a_whole_run_stops_before_any_work_without_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """kit test / kit compare on a machine missing a tool, not as root: one line, the fix."""
    monkeypatch.setattr(doctor.os, "geteuid", lambda: 1000)
    fixed: list[list[doctor.Prereq]] = []
    monkeypatch.setattr(doctor, "fix", fixed.append)
    with pytest.raises(KitError, match="1 prerequisite\\(s\\) missing on this machine: wrk") as exc:
        doctor.ensure((_prereq("wrk", [False]), _prereq("git", [True])))
    assert "sudo ./kit doctor --fix" in exc.value.fix and fixed == []


def test_a_whole_run_sets_up_a_fresh_machine_as_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(doctor.os, "geteuid", lambda: 0)
    state = [False]
    wrk = _prereq("wrk", state)
    fixed: list[list[doctor.Prereq]] = []

    def fix(missing: list[doctor.Prereq]) -> None:
        fixed.append(missing)
        state[0] = True  # what apt-get install did

    monkeypatch.setattr(doctor, "fix", fix)
    doctor.ensure((wrk, _prereq("git", [True])))
    assert fixed == [[wrk]]
    state[0] = False
    monkeypatch.setattr(doctor, "fix", lambda missing: None)  # a set-up that did not help
    with pytest.raises(KitError, match="still missing after the set-up: wrk"):
        doctor.ensure((wrk,))


def test_images_name_the_fix_when_docker_is_down(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(doctor, "docker_running", lambda: False)
    with pytest.raises(KitError, match="docker engine is not running") as exc:
        images.ensure(load(), "slim", "trixie")
    assert "kit doctor --fix" in exc.value.fix


def test_another_arch_gets_its_own_image_tag_and_hash() -> None:
    s = load()
    v = images.VARIANTS["slim"]
    assert images.image_ref("slim", "trixie") == "debian:trixie-slim"
    assert images.image_ref("slim", "trixie", arch="arm64") == "kit/debian:trixie-slim-arm64"
    assert images.content_hash(s, v, "trixie") != images.content_hash(s, v, "trixie", arch="arm64")
    with pytest.raises(KitError, match="architecture 'riscv64' is not supported"):
        images.image_ref("slim", "trixie", arch="riscv64")


def test_the_pi_layer_builds_for_arm64_and_boots_from_its_boot_partition() -> None:
    pi = layers.get("hardware")
    assert (pi.target_arch, pi.vm_machine, pi.vm_seed) == ("arm64", "arm64-virt", "firstboot")
    assert pi.needs == ("deb",) and pi.packages_from == "deb"
    assert layers.get("packer").target_arch == "amd64"  # the default


def test_the_pi_layers_deb_is_cross_built_on_the_hosts_images() -> None:
    deb = layers.get("deb")
    assert "deb" in layers.get("hardware").needs
    assert harness.build_images_arch(deb, "arm64") == "amd64"  # no emulated arm64 builder
    assert harness.build_images_arch(layers.get("hardware"), "arm64") == "arm64"


@pytest.mark.parametrize(
    ("key", "value"),
    [("arch", "riscv64"), ("machine", "raspi4b"), ("seed", "ignition")],
)
def test_unknown_target_arch_machine_seed_are_refused(tmp_path: Path, key: str, value: str) -> None:
    text = (layers.ROOT / "hardware" / "layer.toml").read_text()
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "layer.toml").write_text(_with_target_key(text, key, value))
    with pytest.raises(KitError, match=rf"target.{key} = '{value}' is unknown"):
        layers.discover(tmp_path)


def _with_target_key(text: str, key: str, value: str) -> str:
    """The layer.toml TEXT with target.KEY set to VALUE (replacing the line if present)."""
    lines = [ln for ln in text.splitlines() if not ln.startswith(f"{key} =")]
    at = lines.index("[target]")
    return "\n".join([*lines[: at + 1], f'{key} = "{value}"', *lines[at + 1 :]]) + "\n"


def test_a_foreign_arch_without_binfmt_stops_before_any_work(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(doctor, "_binfmt_arm64", lambda: False)
    with pytest.raises(KitError, match="cannot run arm64 programs") as exc:
        doctor.require_arch("arm64")
    assert "./kit doctor --fix" in exc.value.fix
    doctor.require_arch("amd64")  # the host's own: nothing to check


def test_a_one_build_layer_is_built_on_the_oldest_release_for_every_release() -> None:
    settings = load()
    omnibus = layers.get("omnibus")
    assert layers.oldest_release(["trixie", "bookworm"]) == "bookworm"
    assert {omnibus.build_distro(settings, d) for d in settings.distros} == {"bookworm"}
    assert layers.get("deb").build_distro(settings, "trixie") == "trixie"


def test_build_python_overrides_the_releases_interpreter() -> None:
    from kitcli import render

    settings = load()
    facts = render.build_facts(settings, "bookworm", "1.0.0", python="3.13")
    assert facts["python_version"] == "3.13"
    assert render.build_facts(settings, "bookworm", "1.0.0")["python_version"] == "3.11"
    ctx = render.context(settings, layers.get("omnibus"), "bookworm", "1.0.0")
    assert ctx["kit_build"]["python_version"] == "3.13"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('on = "newest"', "build.on = 'newest' is unknown"),
        ('python = "3.9"', "build.python = '3.9'"),
    ],
)
def test_bad_build_on_and_python_are_refused(tmp_path: Path, line: str, message: str) -> None:
    text = (layers.ROOT / "omnibus" / "layer.toml").read_text()
    key = line.split()[0]
    kept = [ln for ln in text.splitlines() if not ln.startswith(f"{key} =")]
    at = kept.index("[build]")
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "layer.toml").write_text("\n".join([*kept[: at + 1], line, *kept[at + 1 :]]))
    with pytest.raises(KitError, match=message):
        layers.discover(tmp_path)


def test_http_paths_are_placeholders_of_layer_commands() -> None:
    subs = layers.get("omnibus").render(load())
    assert subs["http_health"] == load().http["health"]


def test_each_package_format_gets_its_own_run_and_vars_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from kitcli import harness

    settings, omnibus = load(), layers.get("omnibus")
    assert omnibus.target_formats == ("deb", "rpm")
    assert layers.get("deb").target_formats == ()  # one run, no format fact
    monkeypatch.setattr(harness, "DIST", tmp_path)
    first = harness.vars_file(settings, omnibus, "trixie", {"a": 1}, "deb")
    second = harness.vars_file(settings, omnibus, "trixie", {"a": 2}, "rpm")
    assert (first.name, second.name) == ("kit-vars.json", "kit-vars.rpm.json")
    env = harness.molecule_env(settings, omnibus, "trixie", "img", "rpm")
    assert json.loads(Path(env["KIT_VARS"]).read_text())["kit_package_format"] == "rpm"


def test_an_unknown_package_format_is_refused(tmp_path: Path) -> None:
    text = (layers.ROOT / "omnibus" / "layer.toml").read_text()
    text = text.replace('formats = ["deb", "rpm"]', 'formats = ["deb", "apk"]')
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "layer.toml").write_text(text)
    with pytest.raises(KitError, match=r"target\.formats"):
        layers.discover(tmp_path)


def test_a_matrix_only_selftest_is_skipped_outside_the_matrix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from kitcli import harness

    monkeypatch.delenv("KIT_TIER", raising=False)
    assert harness.tier_env(layers.get("hardware"))["KIT_SELFTEST"] == "skip"
    assert "KIT_SELFTEST" not in harness.tier_env(layers.get("packer"))
    monkeypatch.setenv("KIT_TIER", "matrix")
    assert harness.tier_env(layers.get("hardware")) == {}


def test_an_image_layers_upgrade_is_left_to_the_matrix_naming_who_proves_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from kitcli import harness

    monkeypatch.delenv("KIT_TIER", raising=False)
    for image in ("packer", "hardware"):
        assert harness.tier_env(layers.get(image))["KIT_UPGRADE"] == "skip:deb"
    assert "KIT_UPGRADE" not in harness.tier_env(layers.get("deb"))
    monkeypatch.setenv("KIT_TIER", "matrix")
    assert harness.tier_env(layers.get("packer")) == {}


def test_upgrade_matrix_without_packages_from_is_refused(tmp_path: Path) -> None:
    text = (layers.ROOT / "packer" / "layer.toml").read_text()
    assert '\nupgrade = "matrix"' in text
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "layer.toml").write_text(
        "\n".join(ln for ln in text.splitlines() if not ln.startswith("packages_from ="))
    )
    with pytest.raises(KitError, match=r"packages_from is not set.*remove tests\.upgrade"):
        layers.discover(tmp_path)
