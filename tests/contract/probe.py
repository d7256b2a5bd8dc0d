"""Runs ON the target, under the layer's own interpreter (every layer ships one), so the
contract needs no coreutils, procps or curl there. Prints one JSON document.
Usage: python3 probe.py COMMAND ARGS... (the contract passes this file's source via -c)."""

import errno
import glob
import json
import os
import pwd
import stat
import subprocess
import sys
import urllib.error
import urllib.request


def stat_paths(*paths):
    out = {}
    for p in paths:
        try:
            st = os.lstat(p)
            out[p] = {
                "uid": st.st_uid,
                "gid": st.st_gid,
                "mode": stat.S_IMODE(st.st_mode),
                "dir": stat.S_ISDIR(st.st_mode),
                "exists": True,
            }
        except FileNotFoundError:
            out[p] = {"exists": False}
    return out


def procs():
    out = []
    for d in glob.glob("/proc/[0-9]*"):
        try:
            with open(d + "/status") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
            with open(d + "/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        out.append(
            {
                "pid": int(d[6:]),
                "ppid": int(fields["PPid"]),
                "uid": int(fields["Uid"].split()[0]),
                "gid": int(fields["Gid"].split()[0]),
                "cmd": cmd,
            }
        )
    return out


def listening(port):
    port_hex = f"{int(port):04X}"
    found = []
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if cols[1].endswith(":" + port_hex) and cols[3] == "0A":
                found.append(name)
    return found


def http(method, url, body=None):
    data = body.encode() if body is not None else None
    req = urllib.request.Request(
        url, method=method, data=data, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return {"status": resp.status, "body": resp.read().decode()}
    except urllib.error.HTTPError as exc:
        return {"status": exc.code, "body": exc.read().decode()}
    except OSError as exc:
        return {"status": 0, "body": str(exc)}


def _files(root):
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            yield os.path.join(dirpath, name)


def tree(root, *needles):
    """Facts about an installed tree: writable entries, build paths, compilers, ELFs, pyc."""
    res = {"writable": [], "needles": [], "compilers": [], "elf": [], "py_without_pyc": []}
    import importlib.util

    compilers = {
        "gcc",
        "cc",
        "c++",
        "g++",
        "clang",
        "clang++",
        "x86_64-linux-gnu-gcc",
        "aarch64-linux-gnu-gcc",
    }
    raw_needles = [n.encode() for n in needles if n]
    for path in _files(root):
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            continue
        res["writable"].append([path, st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)])
        if stat.S_ISDIR(st.st_mode):
            continue
        base = os.path.basename(path)
        if base in compilers:
            res["compilers"].append(path)
        with open(path, "rb") as f:
            head = f.read(4)
            rest = f.read() if st.st_size < 64 * 1024 * 1024 else b""
        blob = head + rest
        if head == b"\x7fELF":
            res["elf"].append(path)
        for n in raw_needles:
            if n in blob:
                res["needles"].append([path, n.decode()])
        if path.endswith(".py") and "site-packages" in path:
            cached = importlib.util.cache_from_source(path)
            if not os.path.exists(cached):
                res["py_without_pyc"].append(path)
    return res


def ldd(*paths):
    """Unresolved libraries per ELF, via the dynamic loader itself (works without ldd)."""
    loaders = sorted(glob.glob("/lib64/ld-linux*.so*") + glob.glob("/lib/ld-linux*.so*"))
    if not loaders:
        return {"error": "no dynamic loader found"}
    bad = {}
    for p in paths:
        proc = subprocess.run([loaders[0], "--list", p], capture_output=True, text=True)
        missing = [line.strip() for line in proc.stdout.splitlines() if "not found" in line]
        if missing:
            bad[p] = missing
    return bad


def files(directory):
    try:
        return sorted(os.listdir(directory))
    except OSError as exc:
        return {"error": str(exc)}


def user(name):
    """The account database's entry for a user (works without getent)."""
    try:
        pw = pwd.getpwnam(name)
    except KeyError:
        return {"exists": False}
    return {
        "exists": True,
        "uid": pw.pw_uid,
        "gid": pw.pw_gid,
        "home": pw.pw_dir,
        "shell": pw.pw_shell,
    }


def status(pid):
    """/proc/PID/status as a dict (credentials, capability sets, NoNewPrivs, Seccomp)."""
    with open(f"/proc/{pid}/status") as f:
        return {k: v.strip() for k, v in (line.split(":", 1) for line in f if ":" in line)}


def fs_audit(uid, *skip):
    """One walk of the whole filesystem (minus /proc, /sys, /dev and SKIP): setuid/setgid
    files, entries owned by UID, and whether the root filesystem accepts a write."""
    res = {"setid": [], "owned": [], "root_write": "ok"}
    uid, skip = int(uid), set(skip) | {"/proc", "/sys", "/dev"}
    for dirpath, dirnames, filenames in os.walk("/"):
        dirnames[:] = [d for d in dirnames if os.path.join(dirpath, d) not in skip]
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode) and st.st_mode & (stat.S_ISUID | stat.S_ISGID):
                res["setid"].append(path)
            if st.st_uid == uid:
                res["owned"].append(path)
    probe = "/.contract-write-probe"
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        os.unlink(probe)
    except OSError as exc:
        res["root_write"] = errno.errorcode.get(exc.errno, str(exc.errno))
    return res


def sqlite_check(path):
    """PRAGMA integrity_check and user_version of a SQLite file (run as its owner: a
    WAL-mode reader may need to create the -shm file)."""
    import sqlite3

    if not os.path.isfile(path):
        return {"integrity": [f"{path} does not exist"], "user_version": None}
    conn = sqlite3.connect(path, timeout=10)
    try:
        rows = [r[0] for r in conn.execute("PRAGMA integrity_check")]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    finally:
        conn.close()
    return {"integrity": rows, "user_version": version}


def fill(directory):
    """Fill the filesystem of DIRECTORY with one file until ENOSPC; report bytes written."""
    path, written, block = os.path.join(directory, ".contract-filler"), 0, b"\0" * 65536
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        while True:
            try:
                n = os.write(fd, block)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                if len(block) == 1:
                    break
                block = block[: len(block) // 2]
                continue
            written += n
        os.fsync(fd)
    finally:
        os.close(fd)
    st = os.statvfs(directory)
    return {"path": path, "written": written, "free": st.f_bavail * st.f_frsize}


def unlink(path):
    os.unlink(path)
    return {"removed": path}


def hashes(directory):
    """sha256 of every file in DIRECTORY (not recursive)."""
    import hashlib

    out = {}
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            with open(path, "rb") as f:
                out[name] = hashlib.sha256(f.read()).hexdigest()
    return out


COMMANDS = {
    "stat": stat_paths,
    "procs": procs,
    "listening": listening,
    "http": http,
    "tree": tree,
    "ldd": ldd,
    "files": files,
    "user": user,
    "status": status,
    "fs_audit": fs_audit,
    "sqlite_check": sqlite_check,
    "fill": fill,
    "unlink": unlink,
    "hashes": hashes,
}

if __name__ == "__main__":
    print(json.dumps(COMMANDS[sys.argv[1]](*sys.argv[2:])))
