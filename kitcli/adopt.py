"""`./kit adopt PATH [--layers deb,docker,…]`: put this kit into another service's repository
and write that service's kit.toml, so `./kit test deb` passes there with no further edit.

Copied from this checkout (kitcli/adopt_files.py has the exact list): the front door `kit`,
`kitcli/`, `lib/`, `templates/`, `tests/contract/`, `tests/selftest/`, `tests/__init__.py`,
the root `conftest.py` (loads the contract's pytest plugin), the test and lint configs
(`pytest.ini`, `ruff.toml`, `.yamllint`), `ansible/` (config, shared tasks, the roles and
the chosen layers' molecule scenarios), the chosen layer directories (`wheel/` always: the
deb, rpm and docker builds call wheel/build.sh) and the CI entry point as `.ci/run` — or
as `.ci/kit-run` when the service already has a `.ci/run` (then call it from your CI).

Derived from the service's pyproject.toml ([project]): the name (normalised to a package and
unit name), the version (must be static: the kit reads it from there at every build), the
console script that starts the service ([project.scripts]; with several, the one named like
the project, else `--command`), the import name (the entry point's top-level module),
description, maintainer (maintainers, else authors), licence and homepage (urls). The
dependencies are locked with hashes beside pyproject.toml when there is no lock yet:
`uv pip compile --universal --generate-hashes --python-version 3.11 pyproject.toml -o
requirements.lock`, and with `--extra test -o requirements-dev.lock` when the service has a
test extra (`./kit test` installs that to lint and unit-test the service). The rest is
asked on a terminal, or taken from flags. Without a terminal (CI), or with `--yes`, adopt
takes the derived values and these defaults: gid = uid, user = name, ready, version,
metrics, items and openapi = "" (none), config template = "" (no config file), layers = all of the
kit's; `--port`, `--uid` and `--health` have no default: missing, they stop adopt with one
line naming them.

Running adopt again (from a newer kit) updates the kit's files and never touches the
service's kit.toml, its locks or its code. What adopt wrote is recorded in
`.kit-adopt.json` (the kit's commit, the layers, each file's sha256); the update model is
copier's, simplified: untouched kit files are replaced, a kit file you edited is kept and
the new one is written beside it as `<file>.kit-new` when the kit changed it too (details in
kitcli/adopt_files.py). Commit `.kit-adopt.json` with the rest. (copier itself would need
the kit restructured as a template and its previous version fetched for the three-way
merge; the kit's files are copied verbatim, so recorded hashes do the same job.)

Refusals, one line each: not a Python project (no pyproject.toml, or no [project]), a
dynamic version, no console-script entry point, a `kit` in PATH that adopt did not write.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from kitcli import adopt_files
from kitcli.errors import KitError
from kitcli.settings import (
    DISTRO_PYTHON,
    MAINTAINER,
    NAME,
    PYPKG,
    ROOT,
    SPDX,
    VERSION,
    description_problem,
    load,
)
from kitcli.steps import console, run, step

Ask = Callable[[str, str], str]  # (question, default) -> answer

DEFAULT_TARGETS: dict[str, Any] = {
    "distros": ["trixie", "bookworm"],
    "mirror": "http://deb.debian.org/debian",
}
DEFAULT_CACHE = "/var/cache/kit"
GITIGNORE = (".kit/", "dist/")


# ---------------------------------------------------------------- what pyproject says


@dataclass(frozen=True)
class Project:
    """What the service's pyproject.toml tells adopt."""

    pyproject: Path
    name: str  # normalised: package, unit, user name
    version: str
    scripts: dict[str, str]  # console script -> "module:attr"
    description: str
    maintainer: str
    license: str
    homepage: str
    test_extra: str = ""  # the [project.optional-dependencies] extra with the test tools

    @property
    def source(self) -> Path:
        return self.pyproject.parent

    def default_script(self) -> str | None:
        if len(self.scripts) == 1:
            return next(iter(self.scripts))
        named = [s for s in self.scripts if normalise(s) == self.name]
        return named[0] if len(named) == 1 else None

    def import_name(self, script: str) -> str:
        return self.scripts[script].split(":")[0].strip().split(".")[0]


def normalise(name: str) -> str:
    """PEP 503 normalisation: `Tally_API` -> `tally-api`."""
    return re.sub(r"[-_.]+", "-", name).lower()


def find_pyproject(repo: Path) -> Path:
    here = repo / "pyproject.toml"
    if here.is_file():
        return here
    below = [p for p in sorted(repo.glob("*/pyproject.toml")) if not p.parent.name.startswith(".")]
    if len(below) == 1:
        return below[0]
    if below:
        where = ", ".join(str(p.parent.relative_to(repo)) for p in below)
        raise KitError(
            f"{repo} holds several Python projects ({where})",
            "run adopt on the repository of one service (its pyproject.toml at the top)",
        )
    raise KitError(
        f"{repo} is not a Python project: no pyproject.toml there or one directory down",
        "run adopt on the service's repository; it needs a pyproject.toml with [project]",
    )


def _one_line(value: Any) -> str:
    return value.strip() if isinstance(value, str) and "\n" not in value.strip() else ""


def _maintainer(project: dict[str, Any]) -> str:
    for person in [*project.get("maintainers", []), *project.get("authors", [])]:
        if isinstance(person, dict) and person.get("email"):
            email = str(person["email"]).strip()
            name = str(person.get("name") or email.split("@")[0]).strip()
            candidate = f"{name} <{email}>"
            if MAINTAINER.fullmatch(candidate):
                return candidate
    return ""


def _license(project: dict[str, Any]) -> str:
    value = project.get("license")
    if isinstance(value, dict):
        value = value.get("text")
    text = _one_line(value)
    return text if SPDX.fullmatch(text) else ""


def _homepage(project: dict[str, Any]) -> str:
    urls = {str(k).lower(): str(v) for k, v in (project.get("urls") or {}).items()}
    for key in ("homepage", "home", "source", "repository", "documentation"):
        if urls.get(key, "").startswith(("https://", "http://")):
            return urls[key]
    return ""


def read_project(repo: Path) -> Project:
    """Everything adopt derives from pyproject.toml; refuses what the kit cannot package."""
    path = find_pyproject(repo)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise KitError(f"{path}: not valid TOML ({exc})", "fix the syntax at that line") from None
    project = data.get("project")
    if not isinstance(project, dict) or not isinstance(project.get("name"), str):
        raise KitError(
            f"{path} has no [project] table with a name: not a Python project the kit can package",
            "declare name, version and [project.scripts] in [project] (PEP 621)",
        )
    version = project.get("version")
    if "version" in project.get("dynamic", []) or not isinstance(version, str):
        raise KitError(
            f"{path}: the version is dynamic",
            'write a static `version = "1.0.0"` in [project]; the kit reads the one version '
            "from there at every build",
        )
    if not VERSION.match(version):
        raise KitError(
            f"{path}: version = {version!r} is not MAJOR.MINOR.PATCH",
            'use three numbers, e.g. "1.0.0" (package managers order them reliably)',
        )
    scripts = project.get("scripts")
    if not isinstance(scripts, dict) or not scripts:
        raise KitError(
            f"{path} declares no entry point ([project.scripts] is empty)",
            'add the console script that starts the service, e.g. `my-service = "my_pkg.cli:main"`',
        )
    description = _one_line(project.get("description"))
    extras = project.get("optional-dependencies") or {}
    return Project(
        pyproject=path,
        name=normalise(project["name"]),
        version=version,
        scripts={str(k): str(v) for k, v in scripts.items()},
        # pyproject's, if it already makes a valid synopsis (kitcli/settings.py's rules)
        description=""
        if description_problem(description, normalise(project["name"]))
        else description,
        maintainer=_maintainer(project),
        license=_license(project),
        homepage=_homepage(project),
        test_extra=next((e for e in ("test", "tests") if e in extras), ""),
    )


# ---------------------------------------------------------------- the answers


@dataclass
class Given:
    """Values from flags (None = not given). Field names are kit.toml's keys."""

    name: str | None = None
    command: str | None = None  # console script + args, shell-quoted
    port: int | None = None
    uid: int | None = None
    gid: int | None = None
    user: str | None = None
    description: str | None = None
    maintainer: str | None = None
    license: str | None = None
    homepage: str | None = None
    health: str | None = None
    ready: str | None = None
    version: str | None = None  # the /version path (flag --version-path)
    metrics: str | None = None
    items: str | None = None
    openapi: str | None = None
    config_template: str | None = None
    layers: str | None = None  # comma-separated


FLAGS = {f.name: "--" + f.name.replace("_", "-") for f in fields(Given)} | {
    "version": "--version-path"
}


@dataclass
class Answers:
    values: dict[str, Any] = field(default_factory=dict)
    origin: dict[str, str] = field(default_factory=dict)  # key -> flag|pyproject|default|asked


def _int(value: str) -> int | None:
    return int(value) if value.strip().isdigit() else None


def _checker(project: Project, repo: Path) -> dict[str, Callable[[str], str | None]]:
    """key -> check(text) returning the fix when the value is bad."""

    def in_range(lo: int, hi: int, what: str) -> Callable[[str], str | None]:
        def check(v: str) -> str | None:
            n = _int(v)
            return None if n is not None and lo <= n <= hi else f"use {what} from {lo} to {hi}"

        return check

    def path(v: str) -> str | None:
        return None if v == "" or v.startswith("/") else 'use an absolute path like "/health"'

    def command(v: str) -> str | None:
        try:
            argv = shlex.split(v)
        except ValueError as exc:
            return f"quote it like a shell command ({exc})"
        known = ", ".join(sorted(project.scripts))
        if not argv or argv[0] not in project.scripts:
            return f"start it with one of the console scripts of pyproject.toml: {known}"
        if not PYPKG.match(project.import_name(argv[0])):
            return f"its entry point {project.scripts[argv[0]]!r} names no importable module"
        return None

    def template(v: str) -> str | None:
        ok = v == "" or (repo / v).is_file()
        return None if ok else 'name a file relative to the repository, or "" for none'

    return {
        "name": lambda v: (
            None
            if NAME.match(v)
            else "use lower-case letters, digits and '-', starting with a letter (max 31)"
        ),
        "command": command,
        "port": in_range(1, 65535, "a port"),
        "uid": in_range(100, 999, "a system id"),
        "gid": in_range(100, 999, "a system id"),
        "user": lambda v: (
            None
            if NAME.match(v) and v != "root"
            else "use a dedicated system user name (never root)"
        ),
        "description": lambda v: description_problem(v) or None,
        "maintainer": lambda v: None if MAINTAINER.fullmatch(v) else 'write "Name <email>"',
        "license": lambda v: None if SPDX.fullmatch(v) else 'use an SPDX identifier, e.g. "MIT"',
        "homepage": lambda v: (
            None if v.startswith(("https://", "http://")) else "use an http(s):// URL"
        ),
        "health": lambda v: path(v) if v else 'the contract waits on it: e.g. "/health"',
        "ready": path,
        "version": path,
        "metrics": path,
        "items": path,
        "openapi": path,
        "config_template": template,
    }


QUESTIONS = {
    "name": "package, unit and user name",
    "command": "start command (a console script + its args; {config} = the config file)",
    "port": "TCP port the service listens on",
    "uid": "fixed uid of the service user (100..999)",
    "gid": "fixed gid (100..999)",
    "user": "system user the service runs as",
    "description": "one-line description (package metadata)",
    "maintainer": 'maintainer ("Name <email>")',
    "license": "licence (SPDX identifier)",
    "homepage": "homepage URL",
    "health": "liveness path (required)",
    "ready": 'readiness path ("" = none)',
    "version": 'version path ("" = none; JSON {"version", "executable", "layer"})',
    "metrics": 'Prometheus metrics path ("" = none)',
    "items": 'JSON collection for the data checks ("" = none)',
    "openapi": 'OpenAPI document path ("" = none; the contract fuzzes the API with it)',
    "config_template": 'the service\'s config template, Jinja2, relative to the repo ("" = none)',
    "layers": "layers (comma-separated; wheel is always included)",
}


def resolve(
    project: Project, repo: Path, given: Given, all_layers: list[str], ask: Ask | None
) -> Answers:
    """Flags first; then, on a terminal, ask (derived value or default as the answer's
    default); without one, derived values and defaults, or one line naming what is missing."""
    checks = _checker(project, repo)
    script = project.default_script()
    derived: dict[str, str | None] = {
        "name": project.name,
        "command": shlex.quote(script) if script else None,
        "description": project.description or None,
        "maintainer": project.maintainer or None,
        "license": project.license or None,
        "homepage": project.homepage or None,
    }
    answers = Answers()
    missing: list[str] = []
    for key in QUESTIONS:
        flag_value = getattr(given, key)
        if flag_value is not None:
            text, origin = str(flag_value), "flag"
        else:
            default = derived.get(key)
            origin = "pyproject" if default is not None else "default"
            if default is None:
                default = {
                    "gid": str(answers.values.get("uid", "")) or None,
                    "user": answers.values.get("name"),
                    "ready": "",
                    "version": "",
                    "metrics": "",
                    "items": "",
                    "openapi": "",
                    "config_template": "",
                    "layers": ",".join(all_layers),
                }.get(key)
            if ask is not None:
                text = _ask(ask, key, default or "", checks.get(key))
                origin = "asked"
            elif default is None:
                missing.append(key)
                continue
            else:
                text = default
        if key == "layers":
            answers.values[key] = text
            answers.origin[key] = origin
            continue
        fix = checks[key](text)
        if fix:
            flag = FLAGS[key]
            raise KitError(f"{flag} {text!r} is invalid", fix)
        answers.values[key] = int(text) if key in ("port", "uid", "gid") else text
        answers.origin[key] = origin
    if missing:
        flags = " ".join(f"{FLAGS[k]} …" for k in missing)
        hint = {
            "command": f"(one of: {', '.join(sorted(project.scripts))})",
            "port": "(the TCP port it listens on)",
            "uid": "(a fixed system id 100..999)",
            "health": '(its liveness path, e.g. "/health")',
        }
        detail = "; ".join(f"{FLAGS[k]} {hint.get(k, '')}".strip() for k in missing)
        raise KitError(
            f"no terminal to ask and nothing to derive for {', '.join(FLAGS[k] for k in missing)}",
            f"pass {flags} — {detail}",
        )
    return answers


def _ask(ask: Ask, key: str, default: str, check: Callable[[str], str | None] | None) -> str:
    while True:
        text = ask(QUESTIONS[key], default).strip()
        fix = check(text) if check else None
        if not fix:
            return text
        console.print(f"  [red]{escape(text)!r}: {escape(fix)}[/]")


def choose_layers(text: str, known: dict[str, adopt_files.LayerDir]) -> list[str]:
    if "wheel" not in known:
        raise KitError("the kit has no wheel/layer.toml", "run adopt from a complete kit checkout")
    wanted = [w.strip() for w in text.split(",") if w.strip()]
    unknown = [w for w in wanted if w not in known]
    if unknown:
        raise KitError(
            f"--layers names unknown layer {unknown[0]!r}",
            f"use some of: {', '.join(known)}",
        )
    # What a chosen layer's build consumes comes along (build.needs: hardware → deb).
    queue = list(wanted)
    while queue:
        for need in known[queue.pop()].needs:
            if need in known and need not in wanted:
                console.print(f"  [dim]+ {escape(need)} (needed by the layers chosen)[/]")
                wanted.append(need)
                queue.append(need)
    # wheel always, first: the deb, rpm and docker builds call wheel/build.sh.
    return ["wheel", *(name for name in known if name in wanted and name != "wheel")]


# ---------------------------------------------------------------- writing


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)


def _line(key: str, value: Any, comment: str = "") -> str:
    text = f"{key} = {_toml(value)}"
    return f"{text:<33} # {comment}" if comment else text


def kit_toml(values: dict[str, Any], source: str, kit_root: Path) -> str:
    """The service's kit.toml, in the kit's schema; targets and cache like the kit's own."""
    try:
        own = tomllib.loads((kit_root / "kit.toml").read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        own = {}
    targets = {**DEFAULT_TARGETS, **own.get("targets", {})}
    cache = own.get("kit", {}).get("cache_dir", DEFAULT_CACHE)
    http = {k: values[k] for k in ("health", "ready", "version", "metrics", "items", "openapi")}
    lines = [
        f"# THE settings file of the packaging-gradient kit for {values['name']}: the only place",
        "# the service's identity lives. Written once by `kit adopt`; yours from now on (a later",
        "# `kit adopt` updates the kit's files and never this one). Every file that carries one",
        "# of these values (debian/control, the RPM spec, the systemd unit, sysusers, image",
        "# labels, …) is rendered from the kit's templates at build time. `./kit` validates this",
        "# file first: a bad value stops it with one line naming the key and the fix.",
        "",
        "[service]",
        _line("name", values["name"], "package, unit, user and directory name (a-z, 0-9, -)"),
        _line("python_package", values["python_package"], "the import name"),
        _line("description", values["description"], "one line, for package metadata"),
        _line("maintainer", values["maintainer"], '"Name <email>"'),
        _line("license", values["license"], "SPDX identifier"),
        _line("homepage", values["homepage"]),
        _line("source", source, "the dir holding pyproject.toml (relative to this file);"),
        f"{'':33} # the version is read from there, never typed twice",
        _line("port", values["port"], "TCP port the service listens on (1..65535)"),
        _line("user", values["user"], "system user (and group) the service runs as, never root"),
        _line("uid", values["uid"], "fixed numeric ids (100..999), so images and hosts agree"),
        _line("gid", values["gid"]),
        "# How the service starts: a console script from pyproject's [project.scripts], then its",
        "# arguments. {config} is replaced by the config file's path (/etc/<name>/config.toml).",
        _line("command", values["command"]),
        "# The service's own default-config template (Jinja2, relative to this file), rendered",
        '# with these values; "" for a service that has no config file.',
        _line("config_template", values["config_template"]),
        "",
        "[service.http]",
        "# The service's HTTP paths the contract probes. health is required; the others are",
        '# optional ("" = the service has none: those checks are skipped with the reason printed).',
        _line("health", http["health"], "liveness: 200 when the process serves"),
        _line("ready", http["ready"], "readiness: 200 when its dependencies answer"),
        _line("version", http["version"], 'JSON {"version", "executable", "layer"}'),
        _line("metrics", http["metrics"], "Prometheus text format"),
        _line("items", http["items"], 'JSON collection: POST {"name": …} → 201 {"id": …}'),
        _line("openapi", http["openapi"], "OpenAPI document (JSON): the contract fuzzes the API"),
        "",
        "[targets]",
        "# Debian releases to build and test for; the first is the default.",
        _line("distros", list(targets["distros"])),
        _line("mirror", targets["mirror"], "apt mirror for base images"),
        "",
        "[kit]",
        _line("cache_dir", cache, "content-hashed caches; `kit clean` empties it"),
        "",
    ]
    return "\n".join(lines)


def lock(project: Project, output: str = "requirements.lock", extra: str = "") -> None:
    """A hash-pinned lock beside pyproject.toml, for every target's Python: the service's
    dependencies (requirements.lock), or those plus its test extra (requirements-dev.lock,
    which `./kit test` installs to lint and unit-test the service)."""
    uv = Path(sys.executable).parent / "uv"
    uv_cmd = str(uv) if uv.is_file() else shutil.which("uv")
    if not uv_cmd:
        raise KitError("uv is not installed", "run adopt through ./kit (its venv has uv)")
    oldest = min(DISTRO_PYTHON.values(), key=lambda v: tuple(int(p) for p in v.split(".")))
    env: dict[str, str] = {}
    # uv reads neither pip's CA bundle nor pip's index: hand them over (TLS-intercepting
    # proxies, private indexes).
    ca = os.environ.get("PIP_CERT") or os.environ.get("REQUESTS_CA_BUNDLE")
    if ca and "SSL_CERT_FILE" not in os.environ:
        env["SSL_CERT_FILE"] = ca
    if os.environ.get("PIP_INDEX_URL") and "UV_DEFAULT_INDEX" not in os.environ:
        env["UV_DEFAULT_INDEX"] = os.environ["PIP_INDEX_URL"]
    for key, value in env.items():
        console.print(f"  [dim]export {key}={escape(shlex.quote(value))}[/]")
    run(
        [
            uv_cmd,
            "pip",
            "compile",
            "--quiet",
            "--universal",
            "--generate-hashes",
            "--python-version",
            oldest,
            "pyproject.toml",
            *(["--extra", extra] if extra else []),
            "-o",
            output,
        ],
        cwd=project.source,
        env=env or None,
        fix="check that PyPI (or PIP_INDEX_URL) is reachable and the dependencies resolve "
        f"for Python {oldest}",
    )


def _gitignore(repo: Path) -> list[str]:
    path = repo / ".gitignore"
    have = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    add = [line for line in GITIGNORE if line not in have and line.rstrip("/") not in have]
    if add:
        text = path.read_text(encoding="utf-8") if path.is_file() else ""
        sep = "" if not text or text.endswith("\n") else "\n"
        block = "# the packaging-gradient kit's venv, build dirs and artifacts (kit adopt)\n"
        path.write_text(text + sep + block + "".join(f"{line}\n" for line in add))
    return add


def _kit_commit(kit_root: Path) -> str:
    if not (kit_root / ".git").exists():
        return "unknown"
    proc = run(["git", "-C", str(kit_root), "rev-parse", "HEAD"], capture=True, check=False)
    commit = proc.stdout.strip() if proc.returncode == 0 else "unknown"
    dirty = run(
        ["git", "-C", str(kit_root), "status", "--porcelain", "--untracked-files=no"],
        capture=True,
        check=False,
    )
    return commit + ("-dirty" if dirty.stdout.strip() else "")


def _refuse_foreign_kit(repo: Path, record: dict[str, Any] | None, kit_root: Path) -> None:
    front = repo / "kit"
    if not front.exists() and not front.is_symlink():
        return
    ours = record is not None and "kit" in record["files"]
    if front.is_file() and (
        ours or adopt_files.sha256(front) == adopt_files.sha256(kit_root / "kit")
    ):
        return
    raise KitError(
        f"{front} already exists and was not written by kit adopt",
        "rename or remove it, then rerun (the kit's front door must be ./kit)",
    )


# ---------------------------------------------------------------- the command


@dataclass
class Result:
    repo: Path
    layers: list[str]
    outcome: adopt_files.Outcome
    wrote_kit_toml: bool
    wrote_lock: bool
    ci: str


def adopt(repo: Path, given: Given, *, kit_root: Path = ROOT, ask: Ask | None = None) -> Result:
    """Copy the kit into repo, write its kit.toml (first time), or update the kit's files."""
    repo = repo.resolve()
    if not repo.is_dir():
        raise KitError(f"{repo} is not a directory", "pass the service repository's path")
    if repo == kit_root.resolve():
        raise KitError(
            f"{repo} is this kit's own checkout",
            "pass another service's repository (run adopt from the kit you want to copy)",
        )
    record = adopt_files.read_record(repo)
    _refuse_foreign_kit(repo, record, kit_root)
    project = read_project(repo)
    found = adopt_files.discover_layers(kit_root)
    known = {n: found[n] for n in sorted(found, key=lambda n: n != "wheel")}  # wheel first
    first = not (repo / "kit.toml").is_file()

    with step(f"adopt: {'derive' if first else 'read'} the settings of {repo}"):
        console.print(f"  pyproject: {escape(str(project.pyproject))} (version {project.version})")
        if first:
            answers = resolve(project, repo, given, list(known), ask)
            command = shlex.split(answers.values["command"])
            answers.values["command"] = command
            answers.values["python_package"] = project.import_name(command[0])
            answers.origin["python_package"] = "pyproject"
            for key, value in answers.values.items():
                origin = answers.origin[key]
                console.print(f"  {key:16} = {escape(repr(value))} [dim]({origin})[/]")
            layers_text = str(answers.values["layers"])
        else:
            used = [
                FLAGS[f.name]
                for f in fields(Given)
                if f.name != "layers" and getattr(given, f.name) is not None
            ]
            console.print("  kit.toml exists: kept as it is (adopt never rewrites it)")
            if used:
                console.print(f"  [yellow]ignored {' '.join(used)}: edit kit.toml instead[/]")
            previous = record["layers"] if record else list(known)
            layers_text = given.layers or ",".join(p for p in previous if p in known)
        layers = choose_layers(layers_text, known)
        console.print(f"  layers: {', '.join(layers)}")

    ci = str(record.get("ci", adopt_files.CI_FILE)) if record else adopt_files.CI_FILE
    if record is None and (repo / ci).exists():
        ci = ".ci/kit-run"

    wrote_lock = False
    lockfile = project.source / "requirements.lock"
    if not lockfile.is_file():
        with step(f"lock the dependencies with hashes: {lockfile.relative_to(repo)}"):
            lock(project)
            wrote_lock = True
    devlock = project.source / "requirements-dev.lock"
    if project.test_extra and not devlock.is_file():
        with step(f"lock them + the [{project.test_extra}] extra: {devlock.relative_to(repo)}"):
            lock(project, devlock.name, project.test_extra)

    with step(f"copy the kit ({', '.join(layers)}) into {repo}"):
        files = adopt_files.plan(kit_root, [known[n] for n in layers], ci)
        bases: dict[str, str] = record["files"] if record else {}
        outcome = adopt_files.apply(repo, files, bases)
        _report(outcome, ci)
        if record is None:
            added = _gitignore(repo)
            if added:
                console.print(f"  .gitignore: added {' '.join(added)}")

    if first:
        with step("write kit.toml"):
            source = os.path.relpath(project.source, repo)
            (repo / "kit.toml").write_text(kit_toml(answers.values, source, kit_root))
            console.print(f"  wrote {escape(str(repo / 'kit.toml'))}")

    with step(f"record what was written: {adopt_files.RECORD}"):
        record = {
            "kit_commit": _kit_commit(kit_root),
            "layers": layers,
            "ci": ci,
            "files": outcome.record,
        }
        adopt_files.write_record(repo, record)

    with step("check the service's kit.toml with the kit's own validation"):
        settings = load(repo / "kit.toml")
        console.print(
            f"  {settings.name} {settings.version}: "
            f"{escape(shlex.join(settings.command))} on port {settings.port}"
        )
    console.print(
        f"next: cd {escape(shlex.quote(str(repo)))} && ./kit test {' '.join(layers)} "
        "— then commit the kit's files, kit.toml and .kit-adopt.json"
    )
    return Result(repo, layers, outcome, first, wrote_lock, ci)


def _report(outcome: adopt_files.Outcome, ci: str) -> None:
    console.print(
        f"  {len(outcome.written)} written, {len(outcome.unchanged)} unchanged, "
        f"{len(outcome.kept)} kept (your edits), {len(outcome.conflicts)} conflicts, "
        f"{len(outcome.removed)} removed"
    )
    if ci != adopt_files.CI_FILE:
        console.print(f"  the service has its own .ci/run: the kit's CI entry point is {ci}")
    for rel in outcome.kept:
        console.print(f"  kept your edit: {escape(rel)} (the kit did not change it)")
    for rel in outcome.conflicts:
        console.print(
            f"  [yellow]conflict: {escape(rel)} — you edited it and the kit changed it: the "
            f"kit's version is {escape(rel)}{adopt_files.NEW_SUFFIX}; merge, then delete that[/]"
        )
    for rel in outcome.orphaned:
        console.print(
            f"  [yellow]left in place: {escape(rel)} — the kit no longer ships it, you edited it[/]"
        )


def register(app: typer.Typer) -> None:
    """Add `adopt` to the kit's CLI (kitcli/cli.py calls this)."""
    app.command("adopt")(adopt_cmd)


Opt = typer.Option


def adopt_cmd(
    path: Annotated[Path, typer.Argument(help="the service's repository", show_default=False)],
    layers: Annotated[
        str | None, Opt(help="comma-separated (default: all; on update: as before)")
    ] = None,
    name: Annotated[str | None, Opt(help="package/unit name (default: pyproject's)")] = None,
    command: Annotated[
        str | None, Opt(help="console script + args, e.g. 'my-svc serve --config {config}'")
    ] = None,
    port: Annotated[int | None, Opt(help="TCP port (required without a terminal)")] = None,
    uid: Annotated[
        int | None, Opt(help="service uid 100..999 (required without a terminal)")
    ] = None,
    gid: Annotated[int | None, Opt(help="service gid (default: the uid)")] = None,
    user: Annotated[str | None, Opt(help="service user (default: the name)")] = None,
    description: Annotated[str | None, Opt(help="one line (default: pyproject's)")] = None,
    maintainer: Annotated[str | None, Opt(help='"Name <email>" (default: pyproject\'s)')] = None,
    license_: Annotated[str | None, Opt("--license", help="SPDX id (default: pyproject's)")] = None,
    homepage: Annotated[str | None, Opt(help="URL (default: pyproject's urls)")] = None,
    health: Annotated[str | None, Opt(help="liveness path (required without a terminal)")] = None,
    ready: Annotated[str | None, Opt(help='readiness path (default: "" = none)')] = None,
    version_path: Annotated[str | None, Opt(help='version path (default: "" = none)')] = None,
    metrics: Annotated[str | None, Opt(help='metrics path (default: "" = none)')] = None,
    items: Annotated[str | None, Opt(help='JSON collection path (default: "" = none)')] = None,
    openapi: Annotated[
        str | None, Opt(help='OpenAPI document path, fuzzed by the contract (default: "" = none)')
    ] = None,
    config_template: Annotated[
        str | None, Opt(help='config template, relative to PATH (default: "" = none)')
    ] = None,
    yes: Annotated[
        bool, Opt("--yes", "-y", help="ask nothing: derived values, defaults and flags")
    ] = False,
) -> None:
    """Copy the kit into another service's repository and write its kit.toml (again: update)."""
    given = Given(
        name=name,
        command=command,
        port=port,
        uid=uid,
        gid=gid,
        user=user,
        description=description,
        maintainer=maintainer,
        license=license_,
        homepage=homepage,
        health=health,
        ready=ready,
        version=version_path,
        metrics=metrics,
        items=items,
        openapi=openapi,
        config_template=config_template,
        layers=layers,
    )
    interactive = sys.stdin.isatty() and not yes
    adopt(path, given, ask=_prompt if interactive else None)


def _prompt(question: str, default: str) -> str:
    return str(typer.prompt(question, default=default, show_default=bool(default)))
