"""omnibus/check.rb: the Omnibus project's definitions evaluated against a recording
stand-in of Omnibus's DSL (rubygems is unreachable here). The shipped project passes and
gives a build plan; each kind of broken definition is named in one line with its fix
(run on copies of omnibus/)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEX64 = re.compile(r"^[0-9a-f]{64}$")

pytestmark = pytest.mark.skipif(
    shutil.which("ruby") is None, reason="ruby is not installed (./kit doctor --fix installs it)"
)


def _check(
    omnibus: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ruby", str(omnibus / "check.rb"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "KIT_BUILD_DIR": "", **(env or {})},
    )


@pytest.fixture
def omnibus(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "omnibus", tmp_path / "omnibus", symlinks=True)
    return tmp_path / "omnibus"


def test_shipped_project_passes() -> None:
    proc = _check(ROOT / "omnibus")
    assert proc.returncode == 0, proc.stderr
    assert (
        "build order zlib → bzip2 → liblzma → libffi → libsqlite3 → openssl → python → kit-service"
        in proc.stdout
    )


@pytest.mark.parametrize("sources", ["upstream", "debian"])
def test_plan_pins_every_source(sources: str) -> None:
    proc = _check(ROOT / "omnibus", "--plan", "--sources", sources)
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(proc.stdout)
    assert plan["use_internal_sources"] is (sources == "debian")
    names = [c["name"] for c in plan["components"]]
    assert names[-2:] == ["python", "kit-service"]  # the libraries first, the service last
    for comp in plan["components"]:
        source = comp["source"]
        if comp["name"] == "kit-service":
            assert "path" in source  # the kit's build dir: Omnibus hashes its content
            continue
        assert HEX64.match(source["sha256"]), comp
        host = "deb.debian.org/debian/pool/" if sources == "debian" else "://"
        assert host in source["url"], comp
        assert "deb.debian.org" not in source["url"] or sources == "debian", comp
        assert any(
            c.get("command", "").endswith(f"/steps/{comp['name']}.sh") for c in comp["commands"]
        ), comp
    # what the packages leave out is the project's own list
    assert "embedded/include" in plan["exclude"]


def test_only_the_service_step_sees_the_build_dir() -> None:
    """The native components' commands (and so their build-cache keys) are the same for any
    service version: only kit-service reads the kit's build dir. Each run of check.rb
    without KIT_BUILD_DIR makes its own stand-in dir, so two runs are two build dirs."""
    plans = [json.loads(_check(ROOT / "omnibus", "--plan").stdout) for _ in range(2)]
    natives = [[c for c in p["components"] if c["name"] != "kit-service"] for p in plans]
    assert natives[0] == natives[1]
    assert all(
        "KIT_BUILD_DIR" not in cmd.get("env", {}) for c in natives[0] for cmd in c["commands"]
    )
    service = next(c for c in plans[0]["components"] if c["name"] == "kit-service")
    assert "KIT_BUILD_DIR" in service["commands"][0]["env"]


def test_debian_mirror_is_a_knob() -> None:
    proc = _check(
        ROOT / "omnibus",
        "--plan",
        "--sources",
        "debian",
        env={"KIT_DEBIAN_MIRROR": "http://mirror.example/debian/"},
    )
    assert proc.returncode == 0, proc.stderr
    urls = [c["source"].get("url", "") for c in json.loads(proc.stdout)["components"]]
    assert all(u.startswith("http://mirror.example/debian/pool/") for u in urls if u)


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


BREAKAGES: list[tuple[str, Callable[[Path], None], str]] = [
    (
        "undefined dependency",
        lambda o: _edit(o / "config/software/python.rb", 'dependency "zlib"', 'dependency "zlibb"'),
        'config/software/python.rb: dependency "zlibb" has no definition — fix: add '
        "config/software/zlibb.rb",
    ),
    (
        "missing sha256",
        lambda o: _edit(
            o / "config/software/zlib.rb",
            ',\n         sha256: "9a93b2b7dfdac77ceba5a558a580e74667dd6fede4585b91eefb60f0'
            '3b72df23"',
            "",
        ),
        "config/software/zlib.rb: source of version 1.3.1 has no sha256 (64 hex digits)",
    ),
    (
        "short mirror sha256",
        lambda o: _edit(
            o / "config/software/bzip2.rb",
            'internal_source url: KitOmnibus.debian("pool/main/b/bzip2/bzip2_1.0.8.orig.tar.gz"),\n'
            '                  sha256: "ab5a03176ee106d3f0fa90e381da478'
            'ddae405918153cca248e682cd0c4a2269"',
            'internal_source url: KitOmnibus.debian("pool/main/b/bzip2/bzip2_1.0.8.orig.tar.gz"),\n'
            '                  sha256: "ab5a0317"',
        ),
        "config/software/bzip2.rb: internal_source of version 1.0.8 has no sha256",
    ),
    (
        "no version block for the version",
        lambda o: _edit(
            o / "config/software/liblzma.rb", 'default_version "5.8.1"', 'default_version "5.8.2"'
        ),
        'config/software/liblzma.rb: no `version "5.8.2" do … end` block for its version',
    ),
    (
        "not Omnibus DSL",
        lambda o: _edit(o / "config/software/libffi.rb", 'license "MIT"', 'licence "MIT"'),
        "config/software/libffi.rb: `licence` is not Omnibus software DSL",
    ),
    (
        "syntax error",
        lambda o: _edit(o / "config/software/openssl.rb", "relative_path", "relative_path ("),
        "openssl.rb does not load",
    ),
    (
        "missing step script",
        lambda o: (o / "steps/libsqlite3.sh").unlink(),
        "config/software/libsqlite3.rb: step script steps/libsqlite3.sh does not exist",
    ),
    (
        "step script not executable",
        lambda o: (o / "steps/zlib.sh").chmod(0o644),
        "config/software/zlib.rb: step script steps/zlib.sh is not executable — fix: chmod +x it",
    ),
    (
        "dependency cycle",
        lambda o: _edit(
            o / "config/software/zlib.rb", 'name "zlib"\n', 'name "zlib"\ndependency "python"\n'
        ),
        "dependency cycle",
    ),
    (
        "package script not executable",
        lambda o: (o / "package-scripts/kit/postinst.j2").chmod(0o644),
        "package-scripts/kit/postinst.j2: not executable",
    ),
    (
        "package script missing",
        lambda o: (o / "package-scripts/kit/prerm.j2").unlink(),
        "package-scripts/kit: prerm.j2 is missing",
    ),
    (
        "unknown omnibus.rb setting",
        lambda o: _edit(o / "omnibus.rb", "use_git_caching true", "use_git_cache true"),
        "omnibus.rb: `use_git_cache` is not an Omnibus setting",
    ),
    (
        "project without maintainer",
        lambda o: _edit(o / "config/projects/kit.rb", 'maintainer svc.fetch("maintainer")\n', ""),
        "config/projects/kit.rb: no maintainer",
    ),
]


@pytest.mark.parametrize(("what", "breakage", "message"), BREAKAGES, ids=[b[0] for b in BREAKAGES])
def test_broken_definition_is_named(
    omnibus: Path, what: str, breakage: Callable[[Path], None], message: str
) -> None:
    breakage(omnibus)
    proc = _check(omnibus)
    assert proc.returncode == 1, (what, proc.stdout, proc.stderr)
    assert message in proc.stderr, (what, proc.stderr)
    assert " — fix: " in proc.stderr, proc.stderr
