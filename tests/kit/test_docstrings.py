"""Every docstring that names a file of the kit points to one that exists (docs that
drift from the code are how templates rot)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from kitcli.settings import ROOT

# A relative path with a directory part and a known suffix, e.g. `deb/tests/x.py`.
PATH = re.compile(
    r"(?<![\w/.<{-])((?:[\w.-]+/)+[\w.-]+\.(?:py|sh|toml|ya?ml|md|j2|json|lock|cfg|ini|spec))\b"
)
GENERATED = ("dist/", ".kit/", "build/", "rendered/")


def _docstrings(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = [tree, *(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.ClassDef))]
    return [d for n in nodes if (d := ast.get_docstring(n))]


def test_docstrings_name_existing_files() -> None:
    sources = [
        p
        for p in ROOT.rglob("*.py")
        if not {".kit", "dist", ".git"} & set(p.relative_to(ROOT).parts)
    ]
    missing = []
    for src in sources:
        for doc in _docstrings(src):
            for ref in PATH.findall(doc):
                if ref.startswith(GENERATED) or (ROOT / ref).exists():
                    continue
                if any(part.isupper() for part in ref.split("/")):  # LAYER/build.sh
                    continue
                if any((d / ref).exists() for d in src.parents if ROOT in (d, *d.parents)):
                    continue  # relative to the module's directory or one above it
                missing.append(f"{src.relative_to(ROOT)}: {ref}")
    assert not missing, f"docstrings name files that do not exist: {missing}"
