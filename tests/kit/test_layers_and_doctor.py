"""The layer mechanism and doctor, without touching the host."""

from __future__ import annotations

from pathlib import Path

import pytest

from kitcli import doctor, images, layers
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


def test_images_name_the_fix_when_docker_is_down(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(doctor, "docker_running", lambda: False)
    with pytest.raises(KitError, match="docker engine is not running") as exc:
        images.ensure(load(), "slim", "trixie")
    assert "kit doctor --fix" in exc.value.fix
