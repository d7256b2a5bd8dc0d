from __future__ import annotations

from pathlib import Path

import pytest

from sample_service.cli import EXIT_CONFIG, main
from sample_service.config import ConfigError, load, parse


def test_defaults_apply_when_empty() -> None:
    cfg = parse({}, check_data_dir=False)
    assert cfg.port == 8080 and cfg.workers == 2 and cfg.log_level == "info"


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ({"server": {"port": "abc"}}, "server.port = 'abc' is invalid: set it to a whole number"),
        ({"server": {"port": 70000}}, "server.port = 70000"),
        ({"server": {"port": True}}, "server.port = True"),
        ({"server": {"workers": 0}}, "server.workers = 0"),
        ({"server": {"prot": 1}}, "server.prot is not a known key: remove it"),
        ({"srv": {}}, "[srv] is not a known section"),
        ({"log": {"level": "loud"}}, "log.level = 'loud' is invalid: use one of"),
        ({"storage": {"data_dir": "relative"}}, "set it to an absolute path"),
        ({"server": []}, "[server] must be a table"),
        ({"server": {"max_body_bytes": 10}}, "server.max_body_bytes = 10 is invalid"),
    ],
)
def test_bad_values_name_key_and_fix(raw: dict[str, object], needle: str) -> None:
    with pytest.raises(ConfigError) as exc:
        parse(raw, check_data_dir=False)
    assert needle in str(exc.value)
    assert "\n" not in str(exc.value)


def test_missing_data_dir_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist: create it"):
        parse({"storage": {"data_dir": str(tmp_path / "nope")}})


def test_syntax_error_names_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[server\nport = 1\n")
    with pytest.raises(ConfigError, match=r"config.toml: not valid TOML .*fix the syntax"):
        load(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load(tmp_path / "absent.toml")


def test_cli_bad_config_exits_2_one_line_nothing_written(
    write_config, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_config(f'[server]\nport = "abc"\n[storage]\ndata_dir = "{data_dir}"\n')
    before = sorted(p.name for p in path.parent.rglob("*"))
    assert main(["serve", "--config", str(path)]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "server.port" in err and "set it to" in err
    assert sorted(p.name for p in path.parent.rglob("*")) == before  # nothing on disk touched


def test_cli_check_config_ok(write_config, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config()
    assert main(["check-config", "--config", str(path)]) == 0
    assert capsys.readouterr().out.strip().endswith(": ok")
