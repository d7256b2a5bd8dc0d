"""Build-stage helper for docker/Dockerfile. Runs inside the builder stages under the base
image's python3 (standard library only) and is never copied into the runtime image.

  python3 stage.py rootfs DEST VENV
      Copy into DEST, at the same paths, exactly what the venv's interpreter needs to run:
      the python executable (and the symlinks leading to it), its standard library minus
      the parts a service never imports (DROP_DIRS / DROP_FILES), and every shared library
      that the interpreter, its extension modules, the venv's compiled wheels and /bin/sh
      load, as the dynamic loader resolves them. Setuid/setgid bits are stripped, the
      standard library is precompiled, and each Debian package a file came from gets its
      copyright file copied along (licence compliance for what the image redistributes).

  python3 stage.py venv VENV DEST
      Make a freshly pip-installed venv reproducible — recompile its site-packages as
      unchecked-hash .pyc, reset every timestamp — and copy it into DEST at the same path,
      so the same lock gives the same bytes and the same layer digest, however often or
      wherever it is rebuilt (DEST's parents carry fixed timestamps too, which a COPY to
      the venv's own path would not).

  python3 stage.py dist NAME VENV DEST
      Copy into DEST, at the same paths, the files one installed distribution owns in the
      venv (its RECORD: modules, their .pyc, console scripts, metadata) — the app layer —
      made reproducible the same way.

  python3 -c "$(cat stage.py)" measure NAME VENV      (inside the finished image)
      Print the image's bytes by kind as JSON: interpreter (python, its standard library,
      the shared libraries loaded), deps (the venv minus the app), app (NAME's RECORD),
      other (the shell, /etc, /var, copyright files).

Layout-agnostic: works for the upstream python image (/usr/local/bin/python3) and for
Debian's python3 (/usr/bin/python3) alike, because it asks the interpreter and the loader.
"""

from __future__ import annotations

import compileall
import glob
import importlib.metadata
import json
import os
import py_compile
import shutil
import stat
import subprocess
import sys
import sysconfig
from collections.abc import Callable

# Standard-library parts a network service never imports (tests, GUI, REPL, pip bootstrap).
DROP_DIRS = {
    "__pycache__",  # recompiled below, for every kept module
    "test",
    "tests",
    "idle_test",
    "idlelib",
    "tkinter",
    "turtledemo",
    "ensurepip",
    "lib2to3",
    "distutils",
    "pydoc_data",
    "curses",
    "site-packages",  # the venv has its own; the base's (pip, …) stays out
    "dist-packages",
}
DROP_FILES = (
    "turtle.py",
    "_tkinter",  # GUI
    "readline",  # interactive REPL
    "_curses",
    "_dbm",  # Berkeley DB (1.8 MB of libdb) for the dbm module
    "_gdbm",
    "_test",  # CPython's own test helpers
    "xxlimited",
    "xxsubtype",
)
DROP_SUFFIXES = (".a", ".exe")
# Every file the stages write gets this mtime. The image is immutable and its .pyc are
# unchecked-hash, so timestamps carry no meaning — only churn in layer digests.
EPOCH = 0


def log(msg: str) -> None:
    print(f"stage.py: {msg}", flush=True)


def die(msg: str, fix: str) -> None:
    sys.exit(f"stage.py: {msg} — fix: {fix}")


class Copier:
    def __init__(self, dest: str) -> None:
        self.dest = dest.rstrip("/")
        self.files: set[str] = set()
        os.makedirs(self.dest, mode=0o755, exist_ok=True)

    def mkdirs(self, path: str) -> None:
        """Create path's directories in DEST with the source's modes (root-owned)."""
        parts = path.strip("/").split("/")
        cur = ""
        for part in parts:
            cur += "/" + part
            target = self.dest + cur
            if os.path.lexists(target):
                continue
            st = os.stat(cur)
            os.mkdir(target)
            os.chmod(target, stat.S_IMODE(st.st_mode) & ~0o7000)

    def path(self, path: str) -> str:
        """Copy one path, recreating every symlink on the way (usrmerge /lib64 -> usr/lib64,
        python3 -> python3.13, …). Returns the real path that was copied."""
        path = os.path.normpath(path)
        parts = path.strip("/").split("/")
        cur = ""
        for i, part in enumerate(parts):
            cur += "/" + part
            if os.path.islink(cur):
                link = os.readlink(cur)
                target = self.dest + cur
                if not os.path.lexists(target):
                    self.mkdirs(os.path.dirname(cur))
                    os.symlink(link, target)
                resolved = os.path.normpath(os.path.join(os.path.dirname(cur), link))
                rest = "/".join(parts[i + 1 :])
                return self.path(os.path.join(resolved, rest) if rest else resolved)
        if os.path.isdir(path):
            self.mkdirs(path)
        else:
            self.file(path)
        return path

    def file(self, path: str) -> None:
        target = self.dest + path
        if os.path.lexists(target):
            return
        self.mkdirs(os.path.dirname(path))
        shutil.copy2(path, target, follow_symlinks=False)
        if not os.path.islink(target):
            os.chmod(target, stat.S_IMODE(os.stat(path).st_mode) & ~0o6000)  # no setuid/setgid
            self.files.add(path)

    def tree(self, root: str, keep: Callable[[str, str], bool]) -> None:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if keep(dirpath, d)]
            self.mkdirs(dirpath)
            for name in filenames:
                if keep(dirpath, name):
                    full = os.path.join(dirpath, name)
                    if os.path.islink(full):
                        self.path(full)
                    else:
                        self.file(full)


def compile_tree(root: str, as_path: str, *, strict: bool) -> None:
    """Compile every .py under root to unchecked-hash .pyc, naming them by their runtime
    path (as_path), so they stay valid on a read-only root whatever the timestamps."""
    ok = compileall.compile_dir(
        root,
        ddir=as_path,
        force=True,
        quiet=1,
        workers=0,
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
    )
    if not ok and strict:
        die(f"compiling {as_path} failed", "see the SyntaxError above; drop that module")


def reset_mtimes(root: str) -> None:
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.utime(os.path.join(dirpath, name), (EPOCH, EPOCH), follow_symlinks=False)
    os.utime(root, (EPOCH, EPOCH), follow_symlinks=False)


def is_elf(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


def loader() -> str:
    found = sorted(glob.glob("/lib64/ld-linux*.so*") + glob.glob("/lib/ld-linux*.so*"))
    if not found:
        die("no dynamic loader found in the base image", "use a glibc-based BASE_IMAGE")
    return found[0]


def needed_libraries(ld: str, elf: str) -> list[str]:
    """The shared libraries `elf` loads, resolved by the dynamic loader itself."""
    proc = subprocess.run([ld, "--list", elf], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return []  # statically linked, or not loadable on its own (e.g. a Go binary)
    libs = []
    for line in proc.stdout.splitlines():
        line = line.strip()
        if "not found" in line:
            die(
                f"{elf} needs {line.split()[0]}, which the base image lacks",
                "install that library in BASE_IMAGE, or add the module to DROP_FILES",
            )
        if "=>" in line:
            target = line.split("=>", 1)[1].split("(")[0].strip()
            if target:
                libs.append(target)
        elif line.startswith("/"):
            libs.append(line.split("(")[0].strip())
    return libs


def keep_stdlib(dirpath: str, name: str) -> bool:
    full = os.path.join(dirpath, name)
    if os.path.isdir(full) and not os.path.islink(full):
        return name not in DROP_DIRS and not name.startswith("config-")
    return not name.startswith(DROP_FILES) and not name.endswith(DROP_SUFFIXES)


def copyright_files(copier: Copier) -> int:
    """Copy /usr/share/doc/<pkg>/copyright for each Debian package a copied file came from."""
    if not shutil.which("dpkg-query"):
        return 0
    queries = set()
    for f in copier.files:
        real = os.path.realpath(f)
        queries |= {f, real}
        for p in (f, real):
            if not p.startswith("/usr/"):
                queries.add("/usr" + p)  # dpkg records usr-merged paths under /usr
    proc = subprocess.run(
        ["dpkg-query", "--search", *sorted(queries)], capture_output=True, text=True, check=False
    )
    packages = set()
    for line in proc.stdout.splitlines():
        if ": " in line:
            for pkg in line.split(": ", 1)[0].split(", "):
                packages.add(pkg.split(":")[0])
    copied = 0
    for pkg in sorted(packages):
        doc = f"/usr/share/doc/{pkg}/copyright"
        if os.path.isfile(doc):
            copier.file(doc)
            copied += 1
    return copied


def rootfs(dest: str, venv: str) -> None:
    copier = Copier(dest)
    venv_python = os.path.join(venv, "bin", "python3")
    if not os.path.exists(venv_python):
        die(f"{venv_python} not found", "create the venv before running `stage.py rootfs`")

    # 1. The interpreter, reached the way the venv reaches it (venv/bin/python3 -> base).
    link = venv_python
    while os.path.islink(link):
        target = os.path.normpath(os.path.join(os.path.dirname(link), os.readlink(link)))
        if not target.startswith(venv.rstrip("/") + "/"):
            copier.path(target)
        link = target
    executable = os.path.realpath(venv_python)
    copier.path(executable)

    # 2. Its standard library (pure + platform-specific, incl. lib-dynload), trimmed.
    paths = sysconfig.get_paths()
    stdlibs = sorted({os.path.realpath(paths["stdlib"]), os.path.realpath(paths["platstdlib"])})
    for lib in stdlibs:
        copier.tree(lib, keep_stdlib)
    dynload = os.path.realpath(os.path.join(paths["platstdlib"], "lib-dynload"))
    if os.path.isdir(dynload) and not dynload.startswith(tuple(stdlibs)):
        copier.tree(dynload, keep_stdlib)

    # 3. The shell (testinfra's and `docker exec`'s /bin/sh; no other tool comes along).
    copier.path("/bin/sh")

    # 4. Every shared library the copied ELFs and the venv's compiled wheels load.
    ld = loader()
    copier.path(ld)
    elves = {f for f in copier.files if is_elf(f)}
    for dirpath, _dirs, files in os.walk(venv):
        elves |= {os.path.join(dirpath, n) for n in files if is_elf(os.path.join(dirpath, n))}
    seen: set[str] = set()
    todo = sorted(elves)
    while todo:
        elf = todo.pop()
        for lib in needed_libraries(ld, elf):
            if lib not in seen:
                seen.add(lib)
                copier.path(lib)
                todo.append(os.path.realpath(lib))

    # 5. Precompile the kept standard library once, at its runtime path.
    for lib in stdlibs:
        compile_tree(dest + lib, lib, strict=True)

    docs = copyright_files(copier)
    total = sum(os.lstat(dest + f).st_size for f in copier.files)
    reset_mtimes(dest)
    log(
        f"rootfs: {executable}, {len(stdlibs)} stdlib dir(s), {len(seen)} shared libraries, "
        f"{docs} copyright files; {len(copier.files)} files, {total / 1e6:.1f} MB before .pyc"
    )


def site_packages(venv: str) -> str:
    site = glob.glob(os.path.join(venv, "lib", "python3*", "site-packages"))
    if len(site) != 1:
        die(f"no single site-packages under {venv}/lib", "pass the venv the app was installed in")
    return site[0]


def installed(name: str, venv: str) -> tuple[importlib.metadata.Distribution, list[str]]:
    """The distribution NAME in the venv, and the absolute paths of the files it owns."""
    site = site_packages(venv)
    try:
        found = next(iter(importlib.metadata.distributions(name=name, path=[site])))
    except StopIteration:
        die(f"{name} is not installed in {venv}", "install the app wheel into the venv first")
    files = [os.path.normpath(os.path.join(site, str(f))) for f in found.files or []]
    return found, files


def dist(name: str, venv: str, dest: str) -> None:
    found, files = installed(name, venv)
    copier = Copier(dest)
    for path in files:
        if os.path.lexists(path):
            copier.path(path)
    if not copier.files:
        die(f"{name} has no RECORD of its files", "install it with pip, which writes RECORD")
    site = site_packages(venv)
    compile_tree(dest + site, site, strict=True)
    reset_mtimes(dest)
    log(f"dist: {name} {found.version}, {len(copier.files)} files")


def venv_reproducible(venv: str, dest: str) -> None:
    site = site_packages(venv)
    compile_tree(site, site, strict=False)  # like pip: a module that does not compile stays .py
    Copier(dest).mkdirs(os.path.dirname(venv.rstrip("/")))
    shutil.copytree(venv, dest.rstrip("/") + venv, symlinks=True)
    reset_mtimes(dest)
    log(f"venv: {site} recompiled (unchecked-hash), copied to {dest} with fixed timestamps")


def measure(name: str, venv: str) -> None:
    _found, app_files = installed(name, venv)
    app = set(app_files)
    shell = os.path.realpath("/bin/sh")
    sizes = {"interpreter": 0, "deps": 0, "app": 0, "other": 0}
    for dirpath, dirnames, filenames in os.walk("/"):
        if dirpath == "/":
            dirnames[:] = [d for d in dirnames if d not in ("proc", "sys", "dev")]
        for n in filenames:
            path = os.path.join(dirpath, n)
            st = os.lstat(path)
            if not stat.S_ISREG(st.st_mode):
                continue
            if path in app:
                kind = "app"
            elif path.startswith(venv.rstrip("/") + "/"):
                kind = "deps"
            elif path == shell or path.startswith(("/etc/", "/var/", "/tmp/", "/usr/share/doc/")):
                kind = "other"
            else:
                kind = "interpreter"
            sizes[kind] += st.st_size
    print(json.dumps(sizes))


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "rootfs":
        rootfs(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 4 and sys.argv[1] == "venv":
        venv_reproducible(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 5 and sys.argv[1] == "dist":
        dist(sys.argv[2], sys.argv[3], sys.argv[4])
    elif len(sys.argv) == 4 and sys.argv[1] == "measure":
        measure(sys.argv[2], sys.argv[3])
    else:
        die(f"bad arguments {sys.argv[1:]}", "see the usage in this file's docstring")
