"""Load and validate kit.toml, the kit's single settings file: the only place a service's
identity lives. Everything else (templates, kit-vars.json, kit.env) is derived from it."""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kitcli.errors import KitError

ROOT = Path(__file__).resolve().parent.parent
KIT_TOML = ROOT / "kit.toml"

# What each supported Debian release ships, so builds target the right interpreter. The
# one table of it: builds get it through kit.env (KIT_PYTHON_VERSION), never their own.
DISTRO_PYTHON = {"trixie": "3.13", "bookworm": "3.11"}
HTTP_PATHS = ("health", "ready", "version", "metrics", "items", "openapi")

# The shapes of kit.toml's values; kitcli/adopt.py checks its answers with the same ones.
NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
PYPKG = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
VERSION = re.compile(r"^\d+\.\d+\.\d+$")
MAINTAINER = re.compile(r"[^<>]+ <[^<>@\s]+@[^<>\s]+>")
SPDX = re.compile(r"[A-Za-z0-9.+-]+( (AND|OR|WITH) [A-Za-z0-9.+-]+)*")


@dataclass(frozen=True)
class Settings:
    name: str
    python_package: str
    version: str
    description: str
    maintainer: str
    license: str
    homepage: str
    port: int
    user: str
    uid: int
    gid: int
    source: Path
    command: tuple[str, ...]
    config_template: Path | None
    http: dict[str, str]
    database: str  # the SQLite file in the data dir ("" = none): the drills check it
    # (destination in the source tree, file beside kit.toml): what the next version — the one
    # the upgrade check installs — carries on top of this source ([upgrade] next_files)
    next_files: tuple[tuple[str, Path], ...]
    distros: tuple[str, ...]
    mirror: str
    cache_dir: Path
    path: Path  # the kit.toml these came from

    @property
    def default_distro(self) -> str:
        return self.distros[0]

    @property
    def next_version(self) -> str:
        """The version an upgrade test moves to: the next patch release."""
        major, minor, patch = self.version.split(".")
        return f"{major}.{minor}.{int(patch) + 1}"

    @property
    def config_file(self) -> str:
        return f"/etc/{self.name}/config.toml" if self.config_template else ""

    def facts(self) -> dict[str, Any]:
        """kit_service: the facts every template, role and the contract are given."""
        args = [a.replace("{config}", self.config_file) for a in self.command[1:]]
        return {
            "name": self.name,
            "python_package": self.python_package,
            "version": self.version,
            "next_version": self.next_version,
            "description": self.description,
            "maintainer": self.maintainer,
            "license": self.license,
            "homepage": self.homepage,
            "port": self.port,
            "user": self.user,
            "group": self.user,
            "uid": self.uid,
            "gid": self.gid,
            "script": self.command[0],
            "args": args,
            "config_template": str(self.config_template or ""),
            "config_file": self.config_file,
            "config_dir": f"/etc/{self.name}",
            "data_dir": f"/var/lib/{self.name}",
            "http": dict(self.http),
            "database": f"/var/lib/{self.name}/{self.database}" if self.database else "",
            "layer_env": "KIT_LAYER",
        }


def _fail(key: str, value: Any, fix: str) -> KitError:
    return KitError(f"kit.toml: {key} = {value!r} is invalid", fix)


def _get(table: dict[str, Any], section: str, key: str, kind: type, hint: str) -> Any:
    if key not in table:
        raise KitError(
            f"kit.toml: {section}.{key} is missing", f"add `{key} = {hint}` under [{section}]"
        )
    value = table[key]
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise KitError(
            f"kit.toml: {section}.{key} = {value!r} is not a whole number",
            f"write it without quotes, e.g. `{key} = {hint}`",
        )
    if kind is not int and not isinstance(value, kind):
        raise KitError(
            f"kit.toml: {section}.{key} = {value!r} has the wrong type",
            f"write it like `{key} = {hint}`",
        )
    return value


def _check(ok: bool, section: str, key: str, value: Any, fix: str) -> None:
    if not ok:
        raise _fail(f"{section}.{key}", value, fix)


def read_pyproject(source: Path) -> dict[str, Any]:
    path = source / "pyproject.toml"
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise KitError(f"{path}: not valid TOML ({exc})", "fix the syntax at that line") from None
    project = data.get("project")
    if not isinstance(project, dict):
        raise KitError(f"{path} has no [project] table", "declare the service's metadata there")
    return project


def _version(source: Path) -> str:
    project = read_pyproject(source)
    version = project.get("version")
    where = source / "pyproject.toml"
    if not isinstance(version, str):
        raise KitError(
            f"{where}: [project] version is missing or dynamic",
            'write a static `version = "1.0.0"` there (the kit reads the one version from it)',
        )
    if not VERSION.match(version):
        raise KitError(
            f"{where}: version = {version!r} is not MAJOR.MINOR.PATCH",
            'use three numbers, e.g. "1.0.0" (package managers order them reliably)',
        )
    return version


def _check_command(command: list[Any], source: Path, pypkg: str) -> None:
    if not command or not all(isinstance(a, str) and a for a in command):
        raise _fail(
            "service.command",
            command,
            'write it as a list of strings, e.g. ["my-service", "serve"]',
        )
    scripts = read_pyproject(source).get("scripts", {})
    if command[0] not in scripts:
        known = ", ".join(sorted(scripts)) or "none: add a [project.scripts] entry"
        raise KitError(
            f"kit.toml: service.command starts with {command[0]!r}, which is not a console "
            f"script of {source / 'pyproject.toml'} — the built artifact would not contain it",
            f"start the command with one of: {known}",
        )
    for arg in command[1:]:
        if re.search(r"\{(?!config\})[^}]*\}", arg):
            raise _fail("service.command", command, "the only placeholder is {config}")
    if not any(
        (base / pypkg).is_dir() or (base / f"{pypkg}.py").is_file()
        for base in (source / "src", source)
    ):
        raise KitError(
            f"kit.toml: service.python_package = {pypkg!r} is not in {source} "
            "(looked for src/<it>/ and <it>/)",
            "set it to the import name of the service's package",
        )


def _check_description(text: str, name: str) -> None:
    problem = description_problem(text, name)
    if problem:
        raise _fail("service.description", text, problem)


def description_problem(text: str, name: str = "") -> str:
    """The package synopsis every layer shows (debian/control, the RPM Summary, image
    labels), held to Debian's rules so lintian passes whatever a service writes: what is
    wrong with it, as a fix, or ""."""
    words = text.split()
    problem = (
        "write one line of at most 80 characters"
        if not text.strip() or "\n" in text or len(text) > 80
        else "write at least two words"
        if len(words) < 2
        else "start with what it is, not with an article (lintian: synopsis starts with article)"
        if words[0].lower() in ("a", "an", "the")
        else f"do not start with the name {name!r} (lintian: description starts with package name)"
        if name and words[0].lower().rstrip(":,") == name
        else "leave out the final full stop"
        if text.rstrip().endswith(".")
        else ""
    )
    return problem


def _http(svc: dict[str, Any]) -> dict[str, str]:
    table = svc.get("http", {})
    if not isinstance(table, dict):
        raise KitError("kit.toml: service.http must be a table", "write it as [service.http]")
    unknown = sorted(set(table) - set(HTTP_PATHS))
    if unknown:
        raise KitError(
            f"kit.toml: service.http.{unknown[0]} is not a known path",
            f"use only {', '.join(HTTP_PATHS)}",
        )
    paths = {}
    for key in HTTP_PATHS:
        value = table.get(key, "")
        if not isinstance(value, str) or (value and not value.startswith("/")):
            raise _fail(f"service.http.{key}", value, 'use an absolute path like "/healthz"')
        paths[key] = value.rstrip("/") if value != "/" else value
    if not paths["health"]:
        raise KitError(
            "kit.toml: service.http.health is missing",
            'add `health = "/healthz"` under [service.http] (every layer waits on it)',
        )
    return paths


def _next_files(table: Any, base: Path, source: Path) -> tuple[tuple[str, Path], ...]:
    """[upgrade] next_files = { "<path in the source tree>" = "<file beside kit.toml>" }."""
    if not isinstance(table, dict) or not isinstance(table.get("next_files", {}), dict):
        raise KitError(
            "kit.toml: [upgrade] next_files must be a table",
            'write it as next_files = { "src/pkg/file.py" = "tests/upgrade/file.py" }',
        )
    unknown = sorted(set(table) - {"next_files"})
    if unknown:
        raise KitError(f"kit.toml: upgrade.{unknown[0]} is not a known key", "use only next_files")
    pairs = []
    for dest, src in table.get("next_files", {}).items():
        target = (source / dest).resolve()
        if not target.is_relative_to(source) or not isinstance(src, str):
            raise _fail(
                f"upgrade.next_files.{dest}",
                src,
                "key: a path inside the service's source tree; value: a file path (relative "
                "to kit.toml)",
            )
        file = (base / src).resolve()
        if not file.is_file():
            raise _fail(f"upgrade.next_files.{dest}", src, "point it at an existing file")
        pairs.append((dest, file))
    return tuple(pairs)


def parse(raw: dict[str, Any], base: Path = ROOT, path: Path = KIT_TOML) -> Settings:
    for section in ("service", "targets", "kit"):
        if not isinstance(raw.get(section), dict):
            raise KitError(
                f"kit.toml: the [{section}] section is missing", f"add a [{section}] table"
            )
    svc, tgt, kit = raw["service"], raw["targets"], raw["kit"]

    name = _get(svc, "service", "name", str, '"my-service"')
    _check(
        bool(NAME.match(name)),
        "service",
        "name",
        name,
        "use lower-case letters, digits and '-', starting with a letter (max 31)",
    )
    pypkg = _get(svc, "service", "python_package", str, '"my_service"')
    _check(
        bool(PYPKG.match(pypkg)),
        "service",
        "python_package",
        pypkg,
        "use a valid Python import name, e.g. my_service",
    )
    if "version" in svc:
        raise KitError(
            "kit.toml: service.version is not read from here",
            "remove it; the version lives in the service's pyproject.toml only",
        )
    description = _get(svc, "service", "description", str, '"JSON API for orders"')
    _check_description(description, name)
    maintainer = _get(svc, "service", "maintainer", str, '"Team <team@example.com>"')
    _check(
        bool(MAINTAINER.fullmatch(maintainer)),
        "service",
        "maintainer",
        maintainer,
        'write it as "Name <email>"',
    )
    license_ = _get(svc, "service", "license", str, '"MIT"')
    _check(
        bool(SPDX.fullmatch(license_)),
        "service",
        "license",
        license_,
        'use an SPDX identifier, e.g. "MIT" or "Apache-2.0"',
    )
    homepage = _get(svc, "service", "homepage", str, '"https://example.com/my-service"')
    _check(
        homepage.startswith(("https://", "http://")),
        "service",
        "homepage",
        homepage,
        "use an http(s):// URL",
    )
    port = _get(svc, "service", "port", int, "8080")
    _check(1 <= port <= 65535, "service", "port", port, "use a port from 1 to 65535")
    user = _get(svc, "service", "user", str, '"my-service"')
    _check(
        bool(NAME.match(user)) and user != "root",
        "service",
        "user",
        user,
        "use a dedicated system user name (never root)",
    )
    uid = _get(svc, "service", "uid", int, "990")
    gid = _get(svc, "service", "gid", int, "990")
    for key, val in (("uid", uid), ("gid", gid)):
        _check(
            100 <= val <= 999,
            "service",
            key,
            val,
            "use a system id from 100 to 999 (Debian's range for system users; never 0)",
        )
    source = (base / _get(svc, "service", "source", str, '"."')).resolve()
    _check(
        (source / "pyproject.toml").is_file(),
        "service",
        "source",
        str(source),
        "point it at the directory holding the service's pyproject.toml",
    )
    version = _version(source)
    command = _get(svc, "service", "command", list, '["my-service", "serve"]')
    _check_command(command, source, pypkg)
    template = _get(svc, "service", "config_template", str, '""')
    config_template = (base / template).resolve() if template else None
    if config_template is not None and not config_template.is_file():
        raise _fail(
            "service.config_template",
            template,
            'point it at the service\'s config template (relative to kit.toml), or "" for none',
        )
    if config_template is None and any("{config}" in a for a in command):
        raise KitError(
            "kit.toml: service.command uses {config} but config_template is empty",
            "set config_template, or drop {config} from the command",
        )
    http = _http(svc)
    database = _get(svc, "service", "database", str, '"items.db"') if "database" in svc else ""
    _check(
        "/" not in database and database not in (".", ".."),
        "service",
        "database",
        database,
        'name the SQLite file inside the data dir, e.g. "items.db" ("" for none)',
    )
    next_files = _next_files(raw.get("upgrade", {}), base, source)

    distros = _get(tgt, "targets", "distros", list, '["trixie", "bookworm"]')
    _check(
        bool(distros) and all(d in DISTRO_PYTHON for d in distros),
        "targets",
        "distros",
        distros,
        f"use one or more of {sorted(DISTRO_PYTHON)}",
    )
    mirror = _get(tgt, "targets", "mirror", str, '"http://deb.debian.org/debian"')
    _check(
        mirror.startswith(("http://", "https://", "file:/")),
        "targets",
        "mirror",
        mirror,
        "use an http(s):// or file:/ apt mirror URL",
    )
    cache_dir = Path(_get(kit, "kit", "cache_dir", str, '"/var/cache/kit"'))
    _check(cache_dir.is_absolute(), "kit", "cache_dir", str(cache_dir), "use an absolute path")

    return Settings(
        name=name,
        python_package=pypkg,
        version=version,
        description=description,
        maintainer=maintainer,
        license=license_,
        homepage=homepage,
        port=port,
        user=user,
        uid=uid,
        gid=gid,
        source=source,
        command=tuple(command),
        config_template=config_template,
        http=http,
        database=database,
        next_files=next_files,
        distros=tuple(distros),
        mirror=mirror,
        cache_dir=cache_dir,
        path=path,
    )


def load(path: Path | None = None) -> Settings:
    """kit.toml beside ./kit, or the file named by $KIT_CONFIG."""
    path = path or Path(os.environ.get("KIT_CONFIG", KIT_TOML))
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise KitError(f"{path} not found", "run ./kit from the kit's checkout") from None
    except tomllib.TOMLDecodeError as exc:
        raise KitError(f"{path}: not valid TOML ({exc})", "fix the syntax at that line") from None
    return parse(raw, base=path.parent, path=path)
