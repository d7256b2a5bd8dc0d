"""kit.toml validation: every bad value gives one line naming the key and the fix."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from kitcli.errors import KitError
from kitcli.settings import KIT_TOML, ROOT, load, parse


def raw() -> dict[str, Any]:
    data: dict[str, Any] = tomllib.loads(KIT_TOML.read_text())
    return data


def test_shipped_kit_toml_is_valid() -> None:
    s = load()
    assert s.default_distro == "trixie" and s.next_version != s.version


def test_version_is_read_from_the_service_pyproject() -> None:
    s = load()
    pyproject = tomllib.loads((s.source / "pyproject.toml").read_text())
    assert pyproject["project"]["version"] == s.version


def test_version_typed_in_kit_toml_is_refused() -> None:
    data = raw()
    data["service"]["version"] = "1.0.0"
    with pytest.raises(KitError, match=r"pyproject\.toml only"):
        parse(data, base=ROOT)


@pytest.mark.parametrize(
    ("command", "needle"),
    [
        (["no-such-script", "serve"], "not a console script"),
        ([], "list of strings"),
        (["sample-service", "{port}"], "only placeholder is {config}"),
    ],
)
def test_bad_start_command_is_refused_before_any_build(command: list[str], needle: str) -> None:
    data = raw()
    data["service"]["command"] = command
    with pytest.raises(KitError) as exc:
        parse(data, base=ROOT)
    assert needle in str(exc.value) and "fix:" in str(exc.value)


def test_health_path_is_required() -> None:
    data = raw()
    data["service"]["http"] = {"ready": "/readyz"}
    with pytest.raises(KitError, match=r"service.http.health is missing"):
        parse(data, base=ROOT)


def test_openapi_path_is_optional_and_validated_like_the_others() -> None:
    assert load().http["openapi"] == "/openapi.json"
    data = raw()
    del data["service"]["http"]["openapi"]
    assert parse(data, base=ROOT).http["openapi"] == ""  # no document: the fuzz check skips
    for bad in ("openapi.json", 3):
        data["service"]["http"]["openapi"] = bad
        with pytest.raises(KitError) as exc:
            parse(data, base=ROOT)
        assert "service.http.openapi" in str(exc.value) and "absolute path" in str(exc.value)


def test_config_placeholder_needs_a_config_template() -> None:
    data = raw()
    data["service"]["config_template"] = ""
    with pytest.raises(KitError, match="config_template is empty"):
        parse(data, base=ROOT)


@pytest.mark.parametrize(
    ("section", "key", "value", "needle"),
    [
        ("service", "port", "abc", "service.port = 'abc' is not a whole number"),
        ("service", "port", 0, "service.port = 0 is invalid"),
        ("service", "user", "root", "never root"),
        ("service", "uid", 5000, "system id"),
        ("service", "uid", 0, "never 0"),
        ("service", "gid", 0, "never 0"),
        ("service", "maintainer", "nobody", "Name <email>"),
        ("service", "description", "A JSON API", "not with an article"),
        ("service", "description", "sample-service does things", "do not start with the name"),
        ("service", "description", "API", "two words"),
        ("service", "homepage", "example.com", "http(s)://"),
        ("service", "name", "Bad Name", "service.name"),
        ("targets", "distros", ["jessie"], "targets.distros"),
        ("kit", "cache_dir", "relative", "absolute path"),
    ],
)
def test_bad_values_name_key_and_fix(section: str, key: str, value: object, needle: str) -> None:
    data = raw()
    data[section][key] = value
    with pytest.raises(KitError) as exc:
        parse(data, base=ROOT)
    assert needle in str(exc.value) and "fix:" in str(exc.value)


def test_missing_key() -> None:
    data = raw()
    del data["service"]["port"]
    with pytest.raises(KitError, match=r"service.port is missing .*add `port = 8080`"):
        parse(data, base=ROOT)


def test_cli_reports_bad_kit_toml_in_one_line(tmp_path: Path) -> None:
    """The real CLI against a broken copy of kit.toml: exit 2, one line, no traceback."""
    bad = KIT_TOML.read_text().replace("port = 8080", 'port = "abc"')
    (tmp_path / "kit.toml").write_text(bad)
    env = {"PYTHONPATH": str(ROOT), "KIT_CONFIG": str(tmp_path / "kit.toml"), "COLUMNS": "300"}
    proc = subprocess.run(
        [sys.executable, "-m", "kitcli", "build", "wheel"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        check=False,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1, lines
    assert "service.port = 'abc'" in lines[0] and "fix:" in lines[0]
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("database", ["data/items.db", "..", "."])
def test_database_must_be_a_file_in_the_data_dir(database: str) -> None:
    data = raw()
    data["service"]["database"] = database
    with pytest.raises(KitError, match=r"service.database .*inside the data dir"):
        parse(data, base=ROOT)


@pytest.mark.parametrize(
    ("next_files", "needle"),
    [
        ({"../outside.py": "kit.toml"}, "inside the service's source tree"),
        ({"src/x.py": "no/such/file.py"}, "existing file"),
        ("not a table", "must be a table"),
    ],
)
def test_bad_upgrade_next_files_are_refused(next_files: Any, needle: str) -> None:
    data = raw()
    data["upgrade"] = {"next_files": next_files}
    with pytest.raises(KitError, match=needle):
        parse(data, base=ROOT)


def test_next_version_source_carries_the_upgrade_files(tmp_path: Path) -> None:
    from kitcli import render

    s = load()
    assert render.source_tree(s, s.version, tmp_path) == s.source  # this version: as it is
    tree = render.source_tree(s, s.next_version, tmp_path)
    for rel, file in s.next_files:
        assert (tree / rel).read_bytes() == file.read_bytes()
    assert (tree / "pyproject.toml").is_file() and not (tree / ".git").exists()
