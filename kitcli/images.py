"""Local base images for targets and builds, made with mmdebstrap + `docker import`
(no registry is reachable), cached by content hash: the rootfs tar under the cache dir,
the hash as an image label, so a warm run only inspects images."""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from kitcli.doctor import require_docker
from kitcli.errors import KitError
from kitcli.settings import Settings
from kitcli.steps import console, run, step

RECIPE_VERSION = 1  # bump when the way images are made changes
HASH_LABEL = "org.kit.content-hash"


@dataclass(frozen=True)
class Variant:
    name: str
    packages: tuple[str, ...]
    repository: str  # the docker repository the image is tagged into
    tag_suffix: str
    changes: tuple[str, ...]
    description: str


_SYSTEMD_CHANGES = (
    'CMD ["/sbin/init"]',
    "ENV container=docker",
)

VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant(
            "slim",
            (),
            "debian",  # the upstream name, so an unchanged `FROM debian:trixie-slim` works offline
            "-slim",
            ('CMD ["bash"]',),
            "minbase, tagged with the upstream name debian:<distro>-slim",
        ),
        Variant(
            "systemd-python",
            ("python3", "python3-venv", "systemd", "systemd-sysv", "dbus"),
            "kit/debian",
            "-systemd-python",
            _SYSTEMD_CHANGES,
            "minbase + python3 + systemd as PID 1 (targets for layers that use the distro Python)",
        ),
        Variant(
            "systemd",
            ("systemd", "systemd-sysv", "dbus"),
            "kit/debian",
            "-systemd",
            _SYSTEMD_CHANGES,
            "minbase + systemd as PID 1, NO python (targets for layers that bring their own)",
        ),
    )
}


ARCHES = ("amd64", "arm64")  # the host's own, and the Pi's (run under qemu-user + binfmt)


def image_ref(variant: str, distro: str, extra: tuple[str, ...] = (), arch: str = "amd64") -> str:
    """A variant's tag; a layer's extra target packages (layer.toml `target.packages`)
    extend it, e.g. kit/debian:trixie-systemd-python-rpm. Another CPU than the host's gets
    its own tag in kit/debian (one tag holds one platform without a registry's manifest
    lists): kit/debian:trixie-slim-arm64."""
    v = VARIANTS[variant]
    suffix = "".join(f"-{p}" for p in sorted(extra))
    if extra and v.repository == "debian":
        raise KitError(
            f"image variant {variant!r} is the upstream debian image and takes no extra packages",
            "use a kit/debian variant (systemd, systemd-python) as the target image",
        )
    if arch not in ARCHES:
        raise KitError(f"architecture {arch!r} is not supported", f"use one of {ARCHES}")
    if arch != "amd64":
        return f"kit/debian:{distro}{v.tag_suffix}{suffix}-{arch}"
    return f"{v.repository}:{distro}{v.tag_suffix}{suffix}"


def content_hash(
    settings: Settings,
    variant: Variant,
    distro: str,
    extra: tuple[str, ...] = (),
    arch: str = "amd64",
) -> str:
    recipe: dict[str, object] = {
        "recipe": RECIPE_VERSION,
        "distro": distro,
        "mirror": settings.mirror,
        "packages": sorted({*variant.packages, *extra}),
        "changes": list(variant.changes),
    }
    if arch != "amd64":  # (the host's own arch stays out: existing hashes stay valid)
        recipe["arch"] = arch
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]


def _current_hash(ref: str) -> str | None:
    proc = subprocess.run(
        [
            "docker",
            "image",
            "inspect",
            "--format",
            f'{{{{index .Config.Labels "{HASH_LABEL}"}}}}',
            ref,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.stdout.strip() if proc.returncode == 0 else None


def _mmdebstrap(settings: Settings, packages: list[str], distro: str, tar: Path, arch: str) -> None:
    tmp = tar.with_suffix(".partial")
    argv = ["mmdebstrap", "--variant=minbase", "--mode=root", "--format=tar"]
    if arch != "amd64":  # maintainer scripts run under qemu-user (binfmt): minutes
        argv.append(f"--architectures={arch}")
    if packages:
        argv.append("--include=" + ",".join(packages))
    # dpkg's fsyncs dominate a bootstrap; the result is a tar, so crash-safety buys nothing.
    argv += ["--dpkgopt=force-unsafe-io", distro, str(tmp), settings.mirror]
    try:
        run(argv, fix=f"check that {settings.mirror} is reachable (plain HTTP) and disk is free")
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.rename(tar)  # only a complete tar ever carries the final name


def ensure(
    settings: Settings,
    variant_name: str,
    distro: str,
    extra: tuple[str, ...] = (),
    arch: str = "amd64",
) -> str:
    """Make sure the image exists and is current; return its reference."""
    if variant_name not in VARIANTS:
        raise KitError(f"no image variant {variant_name!r}", f"use one of {sorted(VARIANTS)}")
    require_docker()
    variant = VARIANTS[variant_name]
    ref = image_ref(variant_name, distro, extra, arch)
    digest = content_hash(settings, variant, distro, extra, arch)
    packages = [*variant.packages, *(p for p in sorted(extra) if p not in variant.packages)]
    if _current_hash(ref) == digest:
        console.print(f"  [green]✓[/] {ref} is current [dim](hash {digest}, cached)[/]")
        return ref
    described = variant.description + (f" + {', '.join(sorted(extra))}" if extra else "")
    described += f", {arch}" if arch != "amd64" else ""
    with step(f"image {ref} ({described})"):
        cache = settings.cache_dir / "images"
        cache.mkdir(parents=True, exist_ok=True)
        tag = ref.rsplit(":", 1)[1]
        tar = cache / f"{tag}-{digest}.tar"
        if tar.exists():
            console.print(f"  rootfs from cache: {tar}", markup=False)
        else:
            with step(f"mmdebstrap {distro} ({', '.join(packages) or 'minbase'})"):
                _mmdebstrap(settings, packages, distro, tar, arch)
        argv = ["docker", "import", "--platform", f"linux/{arch}"]
        for change in (*variant.changes, f"LABEL {HASH_LABEL}={digest}"):
            argv += ["--change", change]
        with step(f"docker import → {ref}"):
            run(
                [*argv, str(tar), ref],
                capture=True,
                fix="check the engine with `./kit doctor` and the message above",
            )
    return ref


def ensure_all(settings: Settings, distros: list[str], variants: list[str]) -> list[str]:
    return [ensure(settings, v, d) for d in distros for v in variants]
