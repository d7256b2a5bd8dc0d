"""Every role under ansible/roles keeps the conventions of geerlingguy's roles, the kit's
model: each knob in the role's defaults, commented, named with the role's own prefix (one
no other role's prefix starts with) and listed in its README; every option declared in
its argument specs (as ansible/roles/rollout/meta/argument_specs.yml does), a literal
default there equal to the defaults file's; the role's register and set_fact names
prefixed too. Then Ansible itself validates each role's specs against its defaults
templated with the kit's real facts (kitcli's, as `kit test` writes them into
kit-vars.json) and against what each role passes to the roles it includes: the check a
molecule run does first, in seconds and without a target."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]  # no types-PyYAML in the venv

from kitcli import harness, layers
from kitcli.settings import ROOT, load

ROLES = ROOT / "ansible" / "roles"
ANSIBLE_PLAYBOOK = ROOT / ".kit" / "venv" / "bin" / "ansible-playbook"
SET_FACT = {"set_fact", "ansible.builtin.set_fact", "ansible.legacy.set_fact"}
INCLUDE_ROLE = {
    "include_role",
    "import_role",
    "ansible.builtin.include_role",
    "ansible.builtin.import_role",
    "ansible.legacy.include_role",
    "ansible.legacy.import_role",
}
SPEC_TYPES: dict[str, type | tuple[type, ...]] = {
    "str": str,
    "int": int,
    "bool": bool,
    "float": (int, float),
    "list": list,
    "dict": dict,
    "path": str,
    "raw": object,
}
# A registered result as the tasks of a role would see it, for templating what the role
# passes to a role it includes (e.g. `"{{ service_wheel_switch is changed }}"`).
REGISTERED = {
    "changed": True,
    "failed": False,
    "skipped": False,
    "rc": 0,
    "stdout": "",
    "stderr": "",
    "stdout_lines": [],
    "results": [],
    "stat": {"exists": True},
}


def role_dirs() -> list[Path]:
    """Every role, including one added after this file was written."""
    return sorted(p for p in ROLES.iterdir() if p.is_dir() and not p.name.startswith("."))


ROLE_NAMES = [p.name for p in role_dirs()]


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else None


def defaults(role: str) -> dict[str, Any]:
    return _yaml(ROLES / role / "defaults" / "main.yml") or {}


def role_vars(role: str) -> dict[str, Any]:
    """The role's own vars (its vars directory): derived values, not knobs."""
    return _yaml(ROLES / role / "vars" / "main.yml") or {}


def specs(role: str) -> dict[str, Any]:
    """Entry point → its argument spec, from the role's argument specs (in its meta directory)."""
    data = _yaml(ROLES / role / "meta" / "argument_specs.yml") or {}
    return data.get("argument_specs") or {}


def templated(value: Any) -> bool:
    """True when Ansible templates the value at run time (a Jinja string anywhere in it)."""
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, dict):
        return any(templated(v) for v in [*value.keys(), *value.values()])
    if isinstance(value, list):
        return any(templated(v) for v in value)
    return False


def same(a: Any, b: Any) -> bool:
    """Equal and of the same YAML type (false is not 0, "60" is not 60)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def task_files(role: str) -> list[Path]:
    tasks = ROLES / role / "tasks"
    return sorted([*tasks.rglob("*.yml"), *tasks.rglob("*.yaml")]) if tasks.is_dir() else []


def _walk(node: yaml.Node) -> list[yaml.MappingNode]:
    """Every mapping in a YAML node tree (tasks, blocks, rescue, always, …)."""
    found: list[yaml.MappingNode] = []
    if isinstance(node, yaml.MappingNode):
        found.append(node)
        for key, value in node.value:
            found += _walk(key) + _walk(value)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            found += _walk(item)
    return found


def names_set(path: Path) -> list[tuple[int, str, str]]:
    """(line, how, name) of every `register:` and every set_fact key in a tasks file."""
    root = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    found: list[tuple[int, str, str]] = []
    for mapping in _walk(root) if root is not None else []:
        for key, value in mapping.value:
            if not isinstance(key, yaml.ScalarNode):
                continue
            if key.value == "register" and isinstance(value, yaml.ScalarNode):
                found.append((value.start_mark.line + 1, "register", value.value))
            elif key.value in SET_FACT and isinstance(value, yaml.MappingNode):
                for fact, _ in value.value:
                    if isinstance(fact, yaml.ScalarNode) and fact.value != "cacheable":
                        found.append((fact.start_mark.line + 1, "set_fact", fact.value))
    return found


def includes(role: str) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(tasks file, role name, entry point, vars) of every role the role's tasks include."""
    found = []
    for path in task_files(role):
        for mapping in _walk(yaml.compose(path.read_text(encoding="utf-8"), yaml.SafeLoader)):
            task = yaml.safe_load(yaml.serialize(mapping))
            for action in INCLUDE_ROLE & set(task):
                args = task[action] or {}
                if isinstance(args, str):  # the old `include_role: name=x tasks_from=y`
                    args = dict(part.split("=", 1) for part in args.split() if "=" in part)
                where = f"{path.relative_to(ROOT)}:{mapping.start_mark.line + 1}"
                entry = args.get("tasks_from", "main")
                found.append((where, args.get("name", ""), entry, task.get("vars") or {}))
    return found


def uncommented(path: Path) -> list[str]:
    """Top-level keys of a defaults file with no comment of their own above them (a comment
    may cover a group of keys right below it, as geerlingguy's roles do)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    bare = []
    for i, line in enumerate(lines):
        key = re.match(r"^([A-Za-z_]\w*):", line)
        if not key:
            continue
        j = i - 1
        # Up through the keys (and their values' lines) of the same group.
        while j >= 0 and lines[j].strip() and not lines[j].lstrip().startswith("#"):
            j -= 1
        if j < 0 or not lines[j].lstrip().startswith("#"):
            bare.append(key.group(1))
    return bare


# --- Static checks, one role at a time ---------------------------------------------------


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_argument_specs_declare_every_knob(role: str) -> None:
    spec_file = ROLES / role / "meta" / "argument_specs.yml"
    assert spec_file.is_file(), (
        f"role {role}: {spec_file.relative_to(ROOT)} is missing — fix: write it, every option of "
        "defaults/main.yml with its type (as ansible/roles/rollout/meta/argument_specs.yml)"
    )
    entries = specs(role)
    assert "main" in entries, (
        f"role {role}: {spec_file.relative_to(ROOT)} has no `argument_specs: main:` entry point "
        "— fix: add it (short_description, description, options)"
    )
    problems = []
    for entry, spec in entries.items():
        for key in ("short_description", "description"):
            if not spec.get(key):
                problems.append(f"entry point {entry} has no {key} — fix: add one")
        options = spec.get("options") or {}
        for name, option in options.items():
            where = f"option {name} (entry point {entry})"
            kind = option.get("type", "str")
            if "type" not in option:
                problems.append(f"{where} has no type — fix: declare `type:`")
            if not option.get("description"):
                problems.append(f"{where} has no description — fix: add one")
            if "default" in option and kind in SPEC_TYPES:
                value = option["default"]
                wanted = SPEC_TYPES[kind]
                if not isinstance(value, wanted) or (kind == "int" and isinstance(value, bool)):
                    problems.append(
                        f"{where}: default {value!r} is not of its type {kind} — fix: the type "
                        "or the default"
                    )
    knobs = defaults(role)
    main = entries.get("main", {}).get("options") or {}
    problems += [
        f"{name} (defaults/main.yml) is not an option of entry point main — fix: declare it "
        f"with its type in {spec_file.relative_to(ROOT)}"
        for name in knobs
        if name not in main
    ]
    for entry, spec in entries.items():
        for name, option in (spec.get("options") or {}).items():
            if name in knobs:
                problems += default_problems(
                    f"option {name} (entry point {entry})", option, knobs[name]
                )
    assert not problems, f"role {role}, {spec_file.relative_to(ROOT)}:\n  " + "\n  ".join(problems)


def default_problems(where: str, option: dict[str, Any], value: Any) -> list[str]:
    """An option's `default:` against the defaults file's VALUE: equal when that is literal,
    absent (and said in the description) when Ansible templates it at run time."""
    if templated(value):
        if "default" in option:
            return [
                f"{where}: `default: {option['default']!r}` but defaults/main.yml templates it "
                f"({value!r}) — fix: drop `default:` and add the description line 'Defaults to "
                "the value of C(...), templated at run time (...)'"
            ]
        if not any("Defaults to" in line for line in _lines(option.get("description"))):
            return [
                f"{where}: templated default {value!r} and no description line 'Defaults to the "
                "value of C(...), templated at run time (...)' — fix: add it"
            ]
        return []
    if "default" not in option:
        return [
            f"{where}: no `default:`, defaults/main.yml has {value!r} — fix: add "
            f"`default: {json.dumps(value)}`"
        ]
    if not same(option["default"], value):
        return [
            f"{where}: `default: {option['default']!r}` but defaults/main.yml has {value!r} — "
            "fix: make them equal (defaults/main.yml is the source)"
        ]
    return []


def _lines(description: Any) -> list[str]:
    if isinstance(description, list):
        return [str(line) for line in description]
    return [str(description or "")]


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_every_variable_has_the_role_prefix(role: str) -> None:
    prefix = f"{role}_"
    bad = [
        f"{name} ({where}/main.yml) — fix: rename it {prefix}… (and every use of it)"
        for where, names in (("defaults", defaults(role)), ("vars", role_vars(role)))
        for name in names
        if not name.startswith(prefix)
    ]
    for entry, spec in specs(role).items():
        bad += [
            f"{name} (meta/argument_specs.yml, entry point {entry}) — fix: rename it {prefix}…"
            for name in spec.get("options") or {}
            if not name.startswith(prefix)
        ]
    assert not bad, f"role {role}: variables without the prefix {prefix}:\n  " + "\n  ".join(bad)


def test_no_role_prefix_starts_another() -> None:
    """A prefix per role that no other role's prefix starts with: `service_` would own
    every variable of `service_deb`."""
    clashes = [
        f"{a}_ is a prefix of {b}_: role {a}'s variables {b}_* would be role {b}'s — fix: "
        f"rename one of the roles and its variables so that neither prefix starts the other: "
        f"{b} to a name not starting with {a}_, or {a} to {a}_<what it does> (as the old "
        "role `service` became service_common)"
        for a in ROLE_NAMES
        for b in ROLE_NAMES
        if a != b and f"{b}_".startswith(f"{a}_")
    ]
    assert not clashes, "role prefixes overlap:\n  " + "\n  ".join(clashes)


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_the_readme_lists_every_knob(role: str) -> None:
    readme = ROLES / role / "README.md"
    knobs = list(defaults(role))
    assert readme.is_file() or not knobs, (
        f"role {role}: README.md is missing — fix: write {readme.relative_to(ROOT)} with a Role "
        f"Variables table naming {', '.join(knobs)} (as ansible/roles/rollout/README.md)"
    )
    text = readme.read_text(encoding="utf-8") if readme.is_file() else ""
    missing = [name for name in knobs if f"`{name}`" not in text]
    assert not missing, (
        f"role {role}: {readme.relative_to(ROOT)} does not mention "
        + ", ".join(f"`{name}`" for name in missing)
        + " — fix: add a row for each to its Role Variables table (default and what it does)"
    )


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_every_knob_is_commented(role: str) -> None:
    path = ROLES / role / "defaults" / "main.yml"
    bare = uncommented(path) if path.is_file() else []
    assert not bare, (
        f"role {role}: {path.relative_to(ROOT)} has no comment above "
        + ", ".join(bare)
        + " — fix: say what each does in a comment right above it (or above its group)"
    )


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_registered_and_set_names_have_the_role_prefix(role: str) -> None:
    prefix = f"{role}_"
    bad = [
        f"{path.relative_to(ROOT)}:{line}: {how} {name} — fix: rename it {prefix}{name} "
        "(and every use of it)"
        for path in task_files(role)
        for line, how, name in names_set(path)
        if not name.startswith(prefix)
    ]
    assert not bad, f"role {role}: names without the prefix {prefix}:\n  " + "\n  ".join(bad)


# --- Ansible validates the specs against the real values ----------------------------------


def install_facts() -> dict[str, dict[str, Any]]:
    """Host name → facts, for every layer with an install role (service_<layer>), one per
    package format, as `kit test` writes its kit-vars.json."""
    settings = load()
    found = {}
    for name, layer in sorted(layers.discover().items()):
        distros = layer.supported(settings.distros)
        if not (ROLES / f"service_{name}").is_dir() or not distros:
            continue
        for package_format in layer.target_formats or ("",):
            facts = harness.facts(settings, layer, distros[0])
            host = f"{name}-{distros[0]}"
            if package_format:
                facts["kit_package_format"] = package_format
                host += f"-{package_format}"
            found[host] = facts
    return found


def checks() -> list[dict[str, Any]]:
    """What to validate: each role's entry points with its defaults, and each role a role
    includes with the vars it passes (a templated role name: every role taking them)."""
    found: list[dict[str, Any]] = []
    for role in ROLE_NAMES:
        for entry, spec in specs(role).items():
            options = spec.get("options") or {}
            found.append(
                {
                    "label": f"role {role} ({entry}) with its defaults",
                    "fix": f"ansible/roles/{role}/meta/argument_specs.yml or defaults/main.yml",
                    "spec": options,
                    "provided": {},
                }
            )
        for where, name, entry, passed in includes(role):
            targets = [name] if name in ROLE_NAMES else []
            if templated(name):
                targets = [
                    r
                    for r in ROLE_NAMES
                    if set(passed) & set(specs(r).get(entry, {}).get("options") or {})
                ]
            for target in targets:
                options = specs(target).get(entry, {}).get("options") or {}
                if not options:
                    continue
                found.append(
                    {
                        "label": f"role {target} ({entry}) as {where} includes it",
                        "fix": (
                            f"ansible/roles/{target}/meta/argument_specs.yml"
                            f" or the vars {where} passes"
                        ),
                        "spec": options,
                        "provided": {k: v for k, v in passed.items() if k in options},
                    }
                )
    return found


def play_vars() -> dict[str, Any]:
    """Every role's defaults and vars (their prefixes keep them apart) and stand-ins for
    what the roles' tasks register."""
    known: dict[str, Any] = {}
    for role in ROLE_NAMES:
        known |= defaults(role) | role_vars(role)
    for role in ROLE_NAMES:
        for path in task_files(role):
            for _, how, name in names_set(path):
                if name not in known and how == "register":
                    known[name] = REGISTERED
    return known


def test_ansible_accepts_the_real_values(tmp_path: Path) -> None:
    """One local host per layer, with that layer's facts; on each, Ansible templates the
    defaults (and what a role passes to the roles it includes) and validates them."""
    hosts = install_facts()
    assert hosts, "no layer has an install role (ansible/roles/service_<layer>)"
    items = checks()
    out = tmp_path / "results.json"
    inventory = {
        "all": {
            "hosts": hosts,
            "vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
        }
    }
    play = {
        "name": "Validate every role's argument specs with each layer's facts",
        "hosts": "all",
        "gather_facts": False,
        "vars": play_vars(),
        "tasks": [
            {
                "name": "Validate",
                "ansible.builtin.validate_argument_spec": {
                    "argument_spec": "{{ item.spec }}",
                    "provided_arguments": "{{ item.provided }}",
                },
                "loop": items,
                "loop_control": {"label": "{{ item.label }}"},
                "ignore_errors": True,
                "register": "role_checks",
            },
            {
                "name": "Keep the results",
                "run_once": True,
                "ansible.builtin.copy": {
                    "dest": str(out),
                    "content": (
                        "{{ dict(ansible_play_hosts_all | zip(ansible_play_hosts_all"
                        " | map('extract', hostvars, 'role_checks')"
                        " | map(attribute='results'))) | to_json }}"
                    ),
                    "mode": "0644",
                },
            },
        ],
    }
    (tmp_path / "inventory.yml").write_text(json.dumps(inventory), encoding="utf-8")
    (tmp_path / "validate.yml").write_text(json.dumps([play], indent=1), encoding="utf-8")
    env = os.environ | {
        "ANSIBLE_CONFIG": str(ROOT / "ansible" / "ansible.cfg"),
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"),
        "ANSIBLE_FORKS": str(len(hosts)),
        "ANSIBLE_NOCOLOR": "1",
    }
    done = subprocess.run(
        [ANSIBLE_PLAYBOOK, "-i", tmp_path / "inventory.yml", tmp_path / "validate.yml"],
        cwd=ROOT / "ansible",
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert out.is_file(), (
        f"ansible-playbook stopped before it validated (rc {done.returncode}):\n"
        f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )
    refused: dict[str, list[str]] = {}  # one line per problem, the facts it shows with
    for host, results in json.loads(out.read_text(encoding="utf-8")).items():
        for item, result in zip(items, results, strict=True):
            if result.get("failed"):
                errors = result.get("argument_errors") or [result.get("msg", "")]
                problem = (
                    f"{item['label']}: {'; '.join(map(str, errors))} — fix: {item['fix']} "
                    "(the option's type or choices, or the value)"
                )
                refused.setdefault(problem, []).append(host)
    problems = [f"{p} [facts of {', '.join(where)}]" for p, where in refused.items()]
    assert not problems, "argument specs refuse real values:\n  " + "\n  ".join(problems)
    assert done.returncode == 0, f"ansible-playbook failed:\n{done.stdout[-3000:]}"
