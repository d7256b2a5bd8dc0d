"""Rendering: every layer's build dir comes out of kit.toml alone. Rendered for another
identity (name, user, port, ids), no file of any layer still carries the sample's."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from kitcli import layers, render
from kitcli.settings import KIT_TOML, ROOT, Settings, parse

OTHER = {
    "name": "other-svc",
    "user": "other-svc",
    "port": 9417,
    "uid": 871,
    "gid": 872,
    "homepage": "https://other.example.org/",
}


def _settings(**change: Any) -> Settings:
    raw: dict[str, Any] = tomllib.loads(KIT_TOML.read_text())
    raw["service"].update(change)
    return parse(raw, base=ROOT)


@pytest.fixture(autouse=True)
def _build_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render, "BUILD", tmp_path / "build")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")


@pytest.fixture
def other(tmp_path: Path) -> Settings:
    """Another service: its own pyproject (name, version, console script, package)."""
    src = tmp_path / "other"
    (src / "src" / "other_pkg").mkdir(parents=True)
    (src / "src" / "other_pkg" / "__init__.py").write_text("")
    (src / "pyproject.toml").write_text(
        '[project]\nname = "other-svc"\nversion = "2.3.4"\n'
        '[project.scripts]\nother-run = "other_pkg.cli:main"\n'
    )
    return _settings(
        **OTHER,
        source=str(src),
        python_package="other_pkg",
        command=["other-run", "serve", "--config", "{config}"],
        config_template=str(ROOT / "sample_service" / "deploy" / "config.toml.j2"),
    )


@pytest.mark.parametrize("name", sorted(layers.discover()))
def test_layer_renders_for_another_service_without_the_samples_identity(
    name: str, other: Settings
) -> None:
    sample = _settings()
    where = render.render(other, layers.get(name), "trixie", other.version)
    leftovers = [
        re.compile(rf"(?<![\w.-]){re.escape(str(v))}(?![\w-])")
        for v in (
            sample.name,
            sample.python_package,
            sample.command[0],
            sample.version,
            sample.port,
            sample.uid,
            sample.gid,
        )
    ]
    files = [p for p in (where / "rendered").rglob("*") if p.is_file()]
    assert files, f"{name}: nothing rendered"
    bad = []
    for f in files:
        assert sample.name not in f.name, f"{f}: file name not rendered"
        text = f.read_text(errors="replace")
        assert "{{" not in text and "{%" not in text, f"{f}: unrendered template syntax"
        bad += [f"{f.relative_to(where)}: {p.pattern}" for p in leftovers if p.search(text)]
    assert not bad, f"the sample's identity survived rendering for another service: {bad}"
    env = (where / "kit.env").read_text()
    assert "KIT_NAME=other-svc" in env and "SOURCE_DATE_EPOCH=1700000000" in env


def test_unit_runs_the_console_script_through_the_layers_interpreter() -> None:
    s = _settings()
    layer = layers.get("wheel")
    unit = render.render(s, layer, "trixie", s.version) / "rendered/runtime/unit.service"
    text = unit.read_text()
    contract = layer.contract_facts(s)
    assert f"ExecStart={contract['interpreter']} {contract['bin_dir']}/{s.command[0]} " in text
    assert "Environment=KIT_LAYER=wheel" in text
    assert "User=sample-service" in text and "StateDirectory=sample-service" in text


def test_no_config_template_means_no_config_file() -> None:
    s = _settings(config_template="", command=["sample-service", "serve"])
    where = render.render(s, layers.get("wheel"), "trixie", s.version)
    assert not (where / "rendered/runtime/config.toml").exists()
    assert s.facts()["config_file"] == ""
