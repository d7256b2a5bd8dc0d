"""Print the lintian overrides that the service's upstream wheels need, and only those
(an override that matches nothing is itself a lintian warning, so a fixed list fails for
a service whose wheels differ). debian/rules runs it on the built venv:
    python3 debian/wheel-lintian-overrides.py PACKAGE VENV_DIR VENV_PATH_IN_PACKAGE

Why the overrides are right: some wheels ship library modules with a `#!/usr/bin/env python`
line
(e.g. falcon's bench and cmd modules) that are imported, never run; editing third-party
files would break the RECORD hashes pip installed them with."""

import os
import sys

package, venv, installed = sys.argv[1:]
interpreter = not_executable = False
for dirpath, _dirs, files in os.walk(venv):
    if "site-packages" not in dirpath.split(os.sep):
        continue
    for name in files:
        path = os.path.join(dirpath, name)
        if os.path.islink(path):
            continue
        with open(path, "rb") as f:
            first = f.readline(128)
        if not first.startswith(b"#!"):
            continue
        words = first[2:].split() or [b""]
        command = words[1] if words[0].endswith(b"/env") and len(words) > 1 else words[0]
        interpreter |= command.rsplit(b"/", 1)[-1] == b"python"  # lintian: unusual
        not_executable |= not os.access(path, os.X_OK)
where = f"[{installed}/lib/python3*/site-packages/*]"
if interpreter:
    print(f"{package}: unusual-interpreter python {where}")
if not_executable:
    print(f"{package}: script-not-executable {where}")
