"""Run by the service_pex role on the target with the interpreter that will run the .pex:
exit 0 when its CPython is one the file carries, else one line naming the Python found and
the ones supported (before anything is installed).
    python3 pex-python-check.py 3.13 3.11"""

import sys

found = f"{sys.version_info.major}.{sys.version_info.minor}"
supported = sys.argv[1:]
if sys.implementation.name != "cpython" or found not in supported:
    sys.exit(
        f"{sys.executable} is {sys.implementation.name} {found}; this .pex carries wheels for "
        f"CPython {', '.join(supported)} only — fix: install on a release whose python3 is one of "
        "those, or add the release to kit.toml [targets] distros and rebuild (./kit build pex)"
    )
print(f"{sys.executable}: CPython {found}, carried by the .pex ({', '.join(supported)})")
