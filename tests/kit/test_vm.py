"""kitcli/vm.py without booting anything: the seed disk, the refusals, a safe down.
(dosfstools, mtools and qemu come from `./kit doctor --fix`.)"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from kitcli import vm
from kitcli.errors import KitError


def test_seed_is_a_cidata_vfat_with_one_key_only_user(tmp_path: Path) -> None:
    key = tmp_path / "key.pub"
    key.write_text("ssh-ed25519 AAAAtest kit@x\n")
    seed = vm._seed(tmp_path, "kit-x-packer-trixie", key)
    label = subprocess.run(
        ["mlabel", "-s", "-i", str(seed), "::"], capture_output=True, text=True, check=True
    ).stdout
    assert "CIDATA" in label
    user_data = subprocess.run(
        ["mtype", "-i", str(seed), "::user-data"], capture_output=True, text=True, check=True
    ).stdout
    assert user_data.startswith("#cloud-config\n")
    assert "lock_passwd: true" in user_data and "NOPASSWD" in user_data
    assert "- ssh-ed25519 AAAAtest kit@x" in user_data
    meta = subprocess.run(
        ["mtype", "-i", str(seed), "::meta-data"], capture_output=True, text=True, check=True
    ).stdout
    assert "local-hostname: kit-x-packer-trixie" in meta and "instance-id: " in meta


def test_missing_image_is_refused_with_the_fix(tmp_path: Path) -> None:
    assert shutil.which(vm.QEMU), "qemu missing — fix: sudo ./kit doctor --fix"
    with pytest.raises(KitError, match=r"no VM image at .*fix: build it first"):
        vm.up("kit-test-missing", tmp_path / "none.qcow2", 8080)


def test_down_of_a_vm_that_is_not_up_is_a_no_op() -> None:
    vm.down("kit-test-never-booted", quiet=True)
    with pytest.raises(KitError, match="no VM named kit-test-never-booted"):
        vm.load("kit-test-never-booted")
