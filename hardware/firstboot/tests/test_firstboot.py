"""kit-firstboot (hardware/firstboot/): parse and validate firstboot.toml (every kind of bad
input, with the exact line it prints), the files it writes (into a tree with --root), the
rename with the Wi-Fi passphrase redacted, and growing the root partition: the planning
from sysfs-like input, then for real on a loop device (root only)."""

from __future__ import annotations

import datetime
import hashlib
import importlib.machinery
import importlib.util
import os
import re
import shutil
import stat
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent.parent
SCRIPT = HERE / "kit-firstboot"


def _load() -> ModuleType:
    loader = importlib.machinery.SourceFileLoader("kit_firstboot", str(SCRIPT))
    spec = importlib.util.spec_from_loader("kit_firstboot", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["kit_firstboot"] = module  # dataclasses look their module up
    loader.exec_module(module)
    return module


kf = _load()
needs_keygen = pytest.mark.skipif(not Path(kf.KEYGEN).exists(), reason="no ssh-keygen")
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (loop devices)")
TOML_ERROR_ACTION = "nothing from the file applied (it is left in place: fix it and reboot)"


def fake_key_problem(line: str) -> str | None:
    return None if re.match(r"(\S+ )?ssh-ed25519 AAAA\S+", line) else "fake: not a key"


CHECKS = kf.Checks(
    fake_key_problem,
    frozenset({"root", "daemon", "sudo"}),
    lambda name: name in {"Europe/London", "Etc/UTC"},
)
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFAKEfakeFAKEfake user@host"


def findings_of(text: str, checks: Any = CHECKS) -> tuple[Any, list[str]]:
    data, findings = kf.parse_toml(text.encode())
    config = None
    if data is not None:
        config, more = kf.validate(data, checks)
        findings += more
    return config, [str(f) for f in findings]


@pytest.fixture(scope="session")
def real_keys(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    if not Path(kf.KEYGEN).exists():
        pytest.skip("no ssh-keygen")
    keys = []
    for kind in ("ed25519", "ecdsa"):
        path = tmp_path_factory.mktemp("keys") / f"id_{kind}"
        argv = [kf.KEYGEN, "-q", "-t", kind, "-N", "", "-C", f"{kind}@test", "-f", str(path)]
        subprocess.run(argv, check=True)
        keys.append(path.with_suffix(".pub").read_text().strip())
    return keys


# --- parse + validate --------------------------------------------------------------------


def test_good_config_gives_everything_and_no_findings() -> None:
    config, found = findings_of(
        f"""
        hostname = "pi-kitchen"
        user = "pi"
        ssh_authorized_keys = ["{KEY}", 'from="10.0.0.0/8" {KEY}']
        timezone = "Europe/London"
        [wifi]
        ssid = "Home"
        psk = "correct horse"
        country = "gb"
        """
    )
    assert found == []
    assert config == kf.Config(
        "pi-kitchen",
        "pi",
        (KEY, f'from="10.0.0.0/8" {KEY}'),
        kf.Wifi("Home", "correct horse", "GB"),
        "Europe/London",
    )


def test_empty_file_is_all_defaults() -> None:
    assert findings_of("") == (kf.Config(), [])
    assert kf.Config().user == "admin"


def test_example_file_documents_only_known_keys_and_its_key_is_a_placeholder() -> None:
    text = (HERE / "firstboot.toml.example").read_text()
    data = tomllib.loads(text)
    # timezone is commented out: the kit's image has no tzdata (hardware/image.conf)
    assert set(data) == set(kf.KNOWN_KEYS) - {"timezone"}
    assert re.search(r'^# timezone = "', text, re.MULTILINE)
    assert set(data["wifi"]) == set(kf.WIFI_KEYS)
    for key in [*kf.KNOWN_KEYS, *kf.WIFI_KEYS]:  # each one documented in a comment
        assert re.search(rf"^#.*\b{key}\b", text, re.MULTILINE), key
    config, found = findings_of(text)
    assert found == []  # with the fake checker; the real ssh-keygen rejects the placeholder
    assert config.keys is not None


@needs_keygen
def test_example_placeholder_key_is_rejected_by_ssh_keygen() -> None:
    text = (HERE / "firstboot.toml.example").read_text()
    _, found = findings_of(text, kf.system_checks(Path("/")))
    assert found[0].startswith("ssh_authorized_keys #1: not a valid OpenSSH public key (")
    assert found[-1] == "ssh_authorized_keys: no usable key; existing authorized keys kept"


def test_toml_syntax_error_means_nothing_applied() -> None:
    text = 'hostname = "pi"\nuser admin\n'
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        error = str(e)
    config, found = findings_of(text)
    assert config is None
    assert found == [f"firstboot.toml: not valid TOML: {error}; {TOML_ERROR_ACTION}"]
    assert "line 2" in error


def test_not_utf8_is_reported_like_a_syntax_error() -> None:
    data, found = kf.parse_toml(b'hostname = "caf\xe9"\n')
    assert data is None
    assert [str(f) for f in found] == [
        f"firstboot.toml: not UTF-8 text (invalid continuation byte); {TOML_ERROR_ACTION}"
    ]


def test_utf8_bom_from_windows_editors_is_accepted() -> None:
    data, found = kf.parse_toml('\ufeffhostname = "pi"\n'.encode())
    assert (data, found) == ({"hostname": "pi"}, [])


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ('hostnme = "pi"', 'hostnme: unknown key (did you mean "hostname"?); ignored'),
        ('password = "x"', "password: unknown key; ignored"),
        ('[wifi]\nssid = "a"\npsk = "12345678"\ncountry = "GB"\nhidden = true',
         "wifi.hidden: unknown key; ignored"),
        ('[wifi]\nssid = "a"\npks = "12345678"\ncountry = "GB"',
         'wifi.pks: unknown key (did you mean "psk"?); ignored'),
    ],
)  # fmt: skip
def test_unknown_keys_are_ignored(text: str, line: str) -> None:
    _, found = findings_of(text)
    assert found[0] == line


@pytest.mark.parametrize(
    ("value", "line"),
    [
        ("42", "hostname: expected a string, got an integer; ignored, host name left unchanged"),
        ('"my_pi"', 'hostname: "my_pi" is not a valid host name (1 to 63 letters, digits or '
         "'-', not starting or ending with '-'); ignored, host name left unchanged"),
        ('"-pi"', 'hostname: "-pi" is not a valid host name (1 to 63 letters, digits or '
         "'-', not starting or ending with '-'); ignored, host name left unchanged"),
        ('"pi.lan"', 'hostname: "pi.lan" is not a valid host name (1 to 63 letters, digits or '
         "'-', not starting or ending with '-'); ignored, host name left unchanged"),
        (f'"{"a" * 64}"', f'hostname: "{"a" * 64}" is not a valid host name (1 to 63 letters, '
         "digits or '-', not starting or ending with '-'); ignored, host name left unchanged"),
        ('""', 'hostname: "" is not a valid host name (1 to 63 letters, digits or '
         "'-', not starting or ending with '-'); ignored, host name left unchanged"),
    ],
)  # fmt: skip
def test_bad_hostname(value: str, line: str) -> None:
    config, found = findings_of(f'hostname = {value}\nuser = "pi"')
    assert found == [line]
    assert config.hostname is None
    assert config.user == "pi"  # the rest still applies


def test_hostname_limits() -> None:
    assert findings_of(f'hostname = "{"a" * 63}"')[1] == []
    assert findings_of('hostname = "Pi-4"')[0].hostname == "Pi-4"
    assert findings_of('hostname = "4pi"')[1] == []


@pytest.mark.parametrize(
    ("value", "line"),
    [
        ("true", 'user: expected a string, got a boolean; using default "admin"'),
        ('"Admin"', 'user: "Admin" is not a valid login name (at most 32 lower-case letters, '
         "digits, '_' or '-', starting with a letter or '_'); using default \"admin\""),
        ('"1pi"', 'user: "1pi" is not a valid login name (at most 32 lower-case letters, '
         "digits, '_' or '-', starting with a letter or '_'); using default \"admin\""),
        ('"root"', 'user: "root" is a system account; using default "admin"'),
        ('"sudo"', 'user: "sudo" is a system account; using default "admin"'),
    ],
)  # fmt: skip
def test_bad_user_falls_back_to_admin(value: str, line: str) -> None:
    config, found = findings_of(f"user = {value}")
    assert (config.user, found) == ("admin", [line])


@pytest.mark.parametrize(
    ("entry", "line"),
    [
        ("42", "ssh_authorized_keys #2: expected a string, got an integer; skipped"),
        ('""', "ssh_authorized_keys #2: empty; skipped"),
        (f'"""{KEY}\n{KEY}"""',
         "ssh_authorized_keys #2: more than one line (put each key in its own string); skipped"),
        ('"""-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blb\n-----END OPENSSH PRIVATE KEY-----"""',
         "ssh_authorized_keys #2: this is a PRIVATE key: never copy it anywhere (use the "
         "one-line .pub file); skipped"),
        ('"ssh-dss AAAAB3NzaC1kc3MAAACBAP x@y"',
         "ssh_authorized_keys #2: ssh-dss (DSA) keys are not accepted by OpenSSH 10; skipped"),
        ('"ssh-ed25519 garbage"', "ssh_authorized_keys #2: fake: not a key; skipped"),
    ],
)  # fmt: skip
def test_bad_key_entries_are_skipped_one_by_one(entry: str, line: str) -> None:
    config, found = findings_of(f'ssh_authorized_keys = ["{KEY}", {entry}, "{KEY}"]')
    assert found == [line]
    assert config.keys == (KEY, KEY)


def test_key_list_problems() -> None:
    kept = "existing authorized keys kept"
    assert findings_of("ssh_authorized_keys = 3") == (
        kf.Config(),
        [f"ssh_authorized_keys: expected a list of strings, got an integer; ignored, {kept}"],
    )
    assert findings_of("ssh_authorized_keys = []")[1] == [
        f"ssh_authorized_keys: empty list; {kept}"
    ]
    config, found = findings_of('ssh_authorized_keys = ["nope"]')
    assert config.keys is None
    assert found == [
        "ssh_authorized_keys #1: fake: not a key; skipped",
        f"ssh_authorized_keys: no usable key; {kept}",
    ]
    assert findings_of(f'ssh_authorized_keys = "{KEY}"') == (kf.Config(keys=(KEY,)), [])


@needs_keygen
def test_keys_checked_by_ssh_keygen(real_keys: list[str]) -> None:
    ed, ecdsa = real_keys
    checks = kf.system_checks(Path("/"))
    broken = ed[:30] + "x" + ed[31:]
    entries = [ed, f'no-pty,from="10.0.0.0/8" {ecdsa}', broken, "ssh-rsa AAAA", "hello"]
    text = "ssh_authorized_keys = [" + ", ".join(f"'{e}'" for e in entries) + "]"
    config, found = findings_of(text, checks)
    assert config.keys == (ed, f'no-pty,from="10.0.0.0/8" {ecdsa}')
    assert found == [
        f'ssh_authorized_keys #3: not a valid OpenSSH public key ("{broken[:37]}..."); skipped',
        'ssh_authorized_keys #4: not a valid OpenSSH public key ("ssh-rsa AAAA"); skipped',
        'ssh_authorized_keys #5: not a valid OpenSSH public key ("hello"); skipped',
    ]


WIFI_OFF = "Wi-Fi not configured"


@pytest.mark.parametrize(
    ("wifi", "lines"),
    [
        ({}, ["wifi.ssid: missing; " + WIFI_OFF,
              "wifi.psk: missing (open networks are not supported); " + WIFI_OFF,
              "wifi.country: missing (radio regulatory rules need it when [wifi] is set); "
              + WIFI_OFF]),
        ({"ssid": '"a"', "psk": '"12345678"'},
         ["wifi.country: missing (radio regulatory rules need it when [wifi] is set); "
          + WIFI_OFF]),
        ({"ssid": '"a"', "psk": "12345678", "country": '"GB"'},
         ["wifi.psk: expected a string (in quotes), got an integer; " + WIFI_OFF]),
        ({"ssid": '"a"', "psk": '"short"', "country": '"GB"'},
         ["wifi.psk: must be a passphrase of 8 to 63 printable ASCII characters or 64 hex "
          "digits (got 5 characters); " + WIFI_OFF]),
        ({"ssid": '"a"', "psk": f'"{"x" * 64}"', "country": '"GB"'},
         ["wifi.psk: must be a passphrase of 8 to 63 printable ASCII characters or 64 hex "
          "digits (got 64 characters); " + WIFI_OFF]),
        ({"ssid": '"a"', "psk": '"pässwörter"', "country": '"GB"'},
         ["wifi.psk: must be a passphrase of 8 to 63 printable ASCII characters or 64 hex "
          "digits (it contains a character that is not printable ASCII); " + WIFI_OFF]),
        ({"ssid": f'"{"s" * 33}"', "psk": '"12345678"', "country": '"GB"'},
         ["wifi.ssid: must be 1 to 32 bytes long (got 33); " + WIFI_OFF]),
        ({"ssid": '"a"', "psk": '"12345678"', "country": '"UK"'},
         ['wifi.country: "UK" is not an ISO 3166 alpha-2 country code (did you mean "GB"?); '
          + WIFI_OFF]),
        ({"ssid": '"a"', "psk": '"12345678"', "country": '"XX"'},
         ['wifi.country: "XX" is not an ISO 3166 alpha-2 country code (e.g. "GB", "DE", '
          '"US"); ' + WIFI_OFF]),
        ({"ssid": '"a"', "psk": '"<redacted>"', "country": '"GB"'},
         ["wifi.psk: is the redacted placeholder from firstboot.applied.toml; Wi-Fi "
          "configuration left as it is"]),
    ],
)  # fmt: skip
def test_bad_wifi(wifi: dict[str, str], lines: list[str]) -> None:
    body = "".join(f"{k} = {v}\n" for k, v in wifi.items())
    config, found = findings_of(f'hostname = "pi"\n[wifi]\n{body}')
    assert found == lines
    assert config.wifi is None
    assert config.hostname == "pi"


def test_wifi_not_a_table() -> None:
    assert findings_of('wifi = "home"')[1] == [
        "wifi: expected a table ([wifi] section), got a string; Wi-Fi not configured"
    ]


def test_wifi_hex_psk_is_accepted() -> None:
    config, found = findings_of(f'[wifi]\nssid = "a"\npsk = "{"aB" * 32}"\ncountry = "de"')
    assert found == []
    assert config.wifi == kf.Wifi("a", "aB" * 32, "DE")


@pytest.mark.parametrize(
    ("value", "checks", "line"),
    [
        ("1", CHECKS,
         "timezone: expected a string, got an integer; ignored, time zone left unchanged"),
        ('"Mars/Base"', CHECKS, 'timezone: "Mars/Base" is not a known time zone (a name like '
         '"Europe/Berlin"); ignored, time zone left unchanged'),
        ('"../../etc/passwd"', kf.Checks(fake_key_problem, frozenset(), lambda n: True),
         'timezone: "../../etc/passwd" is not a known time zone (a name like "Europe/Berlin"); '
         "ignored, time zone left unchanged"),
        ('"Etc/UTC"', kf.Checks(fake_key_problem),
         "timezone: tzdata is not installed in this image; ignored, time zone left unchanged"),
    ],
)  # fmt: skip
def test_bad_timezone(value: str, checks: Any, line: str) -> None:
    config, found = findings_of(f"timezone = {value}", checks)
    assert (config.timezone, found) == (None, [line])


def test_findings_come_in_file_order_and_the_rest_applies() -> None:
    config, found = findings_of(
        f'colour = "red"\nhostname = "bad name"\nssh_authorized_keys = ["{KEY}"]\n'
        '[wifi]\nssid = "Home"\npsk = "12345678"\ncountry = "FR"'
    )
    assert [line.split(":")[0] for line in found] == ["colour", "hostname"]
    assert config.keys == (KEY,)
    assert config.wifi == kf.Wifi("Home", "12345678", "FR")


# --- generated files -----------------------------------------------------------------------

IEEE_VECTOR = (
    "password",
    "IEEE",
    "f42c6fc52df0ebef9ebb4b90b38a5f902e83fe1b135a70e23aed762e9710a12e",
)


def test_psk_hash_known_vector() -> None:
    passphrase, ssid, psk = IEEE_VECTOR  # IEEE 802.11i-2004, H.4.3
    assert kf.psk_hash(passphrase, ssid) == psk
    assert kf.psk_hash("A" * 64, "x") == "a" * 64  # already hashed: kept


# The third entry is the second IEEE 802.11i-2004 H.4 test vector.
VECTORS = [
    ("Home", "correct horse", None),
    ("café 5G", "p@ss w0rd!", None),
    (
        "ThisIsASSID",
        "ThisIsAPassword",
        "0dc0d6eb90555ed6419756b9a15ec3e3209b63df707dd508d14581f8982721af",
    ),
]


@pytest.mark.parametrize(("ssid", "passphrase", "psk"), VECTORS)
def test_psk_hash_matches_wpa_passphrase(ssid: str, passphrase: str, psk: str | None) -> None:
    """Against wpa_passphrase itself when installed, else against the recorded vectors."""
    if shutil.which("wpa_passphrase"):
        out = subprocess.run(
            ["wpa_passphrase", ssid], input=passphrase + "\n", capture_output=True, text=True
        ).stdout
        match = re.search(r"^\s*psk=([0-9a-f]{64})$", out, re.MULTILINE)
        assert match is not None, out
        psk = match.group(1)
    elif psk is None:  # no recorded value: compute it the independent way
        psk = hashlib.pbkdf2_hmac("sha1", passphrase.encode(), ssid.encode(), 4096, 32).hex()
    assert kf.psk_hash(passphrase, ssid) == psk


def test_wpa_supplicant_conf_has_country_and_only_the_hash() -> None:
    text = kf.wpa_supplicant_conf(kf.Wifi(*IEEE_VECTOR[1::-1], "GB"))
    assert "country=GB\n" in text
    assert '\tssid="IEEE"\n' in text
    assert f"\tpsk={IEEE_VECTOR[2]}\n" in text
    assert "password" not in text.replace("passphrase", "")
    assert text.count("network={") == 1


@pytest.mark.parametrize(
    ("ssid", "written"),
    [("Home", '"Home"'), ('say "hi"', "7361792022686922"), ("café", "636166c3a9")],
)
def test_wpa_ssid_quoted_or_hex(ssid: str, written: str) -> None:
    assert kf.wpa_ssid(ssid) == written


def test_hosts_gets_a_127_0_1_1_line() -> None:
    debian = "127.0.0.1\tlocalhost\n127.0.1.1\tdebian\n::1\tlocalhost ip6-localhost\n"
    assert kf.hosts_with_hostname(debian, "pi") == debian.replace("debian", "pi")
    bare = "127.0.0.1 localhost\n::1 localhost\n"
    assert (
        kf.hosts_with_hostname(bare, "pi") == "127.0.0.1 localhost\n127.0.1.1\tpi\n::1 localhost\n"
    )
    assert kf.hosts_with_hostname("", "pi") == "127.0.1.1\tpi\n"


def test_dump_toml_round_trips() -> None:
    data = {
        "hostname": "pi",
        "n": 3,
        "f": 1.5,
        "b": True,
        "when": datetime.datetime(2025, 1, 2, 3, 4, 5, tzinfo=datetime.UTC),
        "day": datetime.date(2025, 1, 2),
        "list": ['a "quoted"\\ one', "tab\there", "new\nline", "\x7f\x01", "ünï ✓ 🙂"],
        "nested": [{"a": 1}, [1, 2]],
        "weird key": "x",
        "wifi": {"ssid": "Home", "psk": "secret", "sub": {"k": "v"}},
        "empty": {},
    }
    assert tomllib.loads(kf.dump_toml(data)) == data


def test_redaction_keeps_known_values_and_hides_secrets() -> None:
    data = {
        "hostname": "pi",
        "password": "hunter22",
        "ssh_authorized_keys": [KEY, "-----BEGIN OPENSSH PRIVATE KEY-----\nx"],
        "wifi": {"ssid": "Home", "psk": "secret12", "country": "GB", "extra": "x"},
    }
    assert kf.redacted(data) == {
        "hostname": "pi",
        "password": "<redacted>",
        "ssh_authorized_keys": [KEY, "<redacted>"],
        "wifi": {"ssid": "Home", "psk": "<redacted>", "country": "GB", "extra": "<redacted>"},
    }
    text = kf.applied_text(data, "2025-01-01T00:00:00+00:00")
    assert "secret12" not in text and "hunter22" not in text and "PRIVATE" not in text
    assert tomllib.loads(text)["wifi"]["psk"] == "<redacted>"


# --- apply into a tree (--root, --boot) --------------------------------------------------


PASSWD = (
    "root:x:0:0:root:/root:/bin/bash\n"
    "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
    "admin:x:1000:1000::/home/admin:/bin/bash\n"
)


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, Path]:
    """A minimal image tree: passwd with admin, tzdata, the wpa_supplicant@ template."""
    root, boot = tmp_path / "root", tmp_path / "root/boot/firmware"
    for d in ("etc/ssh", "home/admin", "usr/share/zoneinfo/Europe", "usr/share/zoneinfo/Etc",
              "usr/lib/systemd/system", "root"):  # fmt: skip
        (root / d).mkdir(parents=True)
    boot.mkdir(parents=True)
    (root / "etc/passwd").write_text(PASSWD)
    (root / "etc/group").write_text("root:x:0:\nsudo:x:27:\nadmin:x:1000:\n")
    (root / "etc/hosts").write_text("127.0.0.1\tlocalhost\n127.0.1.1\tdebian\n")
    (root / "etc/hostname").write_text("debian\n")
    (root / "usr/share/zoneinfo/Europe/London").write_text("TZif")
    (root / "usr/share/zoneinfo/Etc/UTC").write_text("TZif")
    (root / "usr/lib/systemd/system/wpa_supplicant@.service").write_text("[Unit]\n")
    return root, boot


def run_main(root: Path, *args: str) -> int:
    return int(kf.main(["--root", str(root), *args]))


def all_text(*dirs: Path) -> str:
    return "".join(
        p.read_text(errors="replace")
        for d in dirs
        for p in d.rglob("*")
        if p.is_file() and not p.is_symlink()
    )


LOG_LINE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00 (INFO|WARNING|ERROR) \S")


@needs_keygen
def test_apply_writes_everything_and_retires_the_file(
    tree: tuple[Path, Path], real_keys: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    root, boot = tree
    passphrase = "correct horse battery staple"
    (boot / "firstboot.toml").write_text(
        f"""# mine
hostname = "pi-kitchen"
ssh_authorized_keys = ["{real_keys[0]}", "not a key"]
timezone = "Europe/London"
[wifi]
ssid = "Home"
psk = "{passphrase}"
country = "GB"
"""
    )
    assert run_main(root, "apply") == 0

    assert (root / "etc/hostname").read_text() == "pi-kitchen\n"
    assert "127.0.1.1\tpi-kitchen\n" in (root / "etc/hosts").read_text()
    assert os.readlink(root / "etc/localtime") == "/usr/share/zoneinfo/Europe/London"
    keys = root / "home/admin/.ssh/authorized_keys"
    assert keys.read_text().splitlines()[1:] == [real_keys[0]]
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600
    assert stat.S_IMODE(keys.parent.stat().st_mode) == 0o700
    if os.geteuid() == 0:
        assert (keys.stat().st_uid, keys.parent.stat().st_gid) == (1000, 1000)
    sudoers = root / "etc/sudoers.d/kit-firstboot"
    assert sudoers.read_text().endswith("\nadmin ALL=(ALL:ALL) NOPASSWD: ALL\n")
    assert stat.S_IMODE(sudoers.stat().st_mode) == 0o440
    wpa = root / "etc/wpa_supplicant/wpa_supplicant-wlan0.conf"
    assert stat.S_IMODE(wpa.stat().st_mode) == 0o600
    assert f"psk={kf.psk_hash(passphrase, 'Home')}\n" in wpa.read_text()
    assert "Name=wlan0" in (root / "etc/systemd/network/10-kit-wlan0.network").read_text()
    wants = root / "etc/systemd/system/multi-user.target.wants/wpa_supplicant@wlan0.service"
    assert os.readlink(wants) == "/usr/lib/systemd/system/wpa_supplicant@.service"

    assert not (boot / "firstboot.toml").exists()
    applied = tomllib.loads((boot / "firstboot.applied.toml").read_text())
    assert applied["wifi"] == {"ssid": "Home", "psk": "<redacted>", "country": "GB"}
    assert applied["hostname"] == "pi-kitchen"
    assert passphrase not in all_text(root)  # nowhere: not on the card, not in the system

    log = (boot / "firstboot.log").read_text().splitlines()
    assert all(LOG_LINE.match(line) for line in log), log
    bad_key = 'ssh_authorized_keys #2: not a valid OpenSSH public key ("not a key"); skipped'
    assert any(line.endswith(f"WARNING firstboot.toml: {bad_key}") for line in log)
    assert not any(" ERROR " in line for line in log)
    out = capsys.readouterr().out
    assert "kit-firstboot: WARNING firstboot.toml: ssh_authorized_keys #2: not a valid" in out
    assert passphrase not in out


@needs_keygen
def test_a_new_file_is_applied_again(tree: tuple[Path, Path], real_keys: list[str]) -> None:
    root, boot = tree
    (boot / "firstboot.toml").write_text(
        f'ssh_authorized_keys = ["{real_keys[0]}"]\n'
        '[wifi]\nssid = "A"\npsk = "12345678"\ncountry = "GB"\n'
    )
    assert run_main(root, "apply") == 0
    wpa = (root / "etc/wpa_supplicant/wpa_supplicant-wlan0.conf").read_text()
    # Copy the applied file back with a new key list: keys replaced, Wi-Fi left as it is.
    applied = (boot / "firstboot.applied.toml").read_text()
    (boot / "firstboot.toml").write_text(applied.replace(real_keys[0], real_keys[1]))
    assert run_main(root, "apply") == 0
    keys = (root / "home/admin/.ssh/authorized_keys").read_text().splitlines()[1:]
    assert keys == [real_keys[1]]
    assert (root / "etc/wpa_supplicant/wpa_supplicant-wlan0.conf").read_text() == wpa
    log = (boot / "firstboot.log").read_text()
    assert "wifi.psk: is the redacted placeholder from firstboot.applied.toml; Wi-Fi " in log


def test_syntax_error_applies_nothing_and_says_nobody_can_log_in(
    tree: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    root, boot = tree
    before = all_text(root / "etc")
    (boot / "firstboot.toml").write_text('hostname = "pi"\n[wifi\n')
    assert run_main(root, "apply") == 0
    assert all_text(root / "etc") == before
    assert (boot / "firstboot.toml").exists()  # left in place to be fixed
    assert not (boot / "firstboot.applied.toml").exists()
    log = (boot / "firstboot.log").read_text()
    assert re.search(r"WARNING firstboot.toml: firstboot.toml: not valid TOML: .*line 2.*; "
                     + re.escape(TOML_ERROR_ACTION), log)  # fmt: skip
    assert f"ERROR {kf.NO_LOGIN}\n" in log
    assert f"kit-firstboot: ERROR {kf.NO_LOGIN}" in capsys.readouterr().out


@needs_keygen
def test_no_usable_key_keeps_existing_ones(tree: tuple[Path, Path], real_keys: list[str]) -> None:
    root, boot = tree
    ssh = root / "home/admin/.ssh"
    ssh.mkdir()
    (ssh / "authorized_keys").write_text(real_keys[0] + "\n")
    (boot / "firstboot.toml").write_text('ssh_authorized_keys = ["nope"]\n')
    assert run_main(root, "apply") == 0
    assert (ssh / "authorized_keys").read_text() == real_keys[0] + "\n"
    log = (boot / "firstboot.log").read_text()
    assert "ssh_authorized_keys: no usable key; existing authorized keys kept" in log
    assert kf.NO_LOGIN not in log
    (ssh / "authorized_keys").unlink()
    (boot / "firstboot.toml").write_text('ssh_authorized_keys = ["nope"]\n')
    assert run_main(root, "apply") == 0
    assert f"ERROR {kf.NO_LOGIN}\n" in (boot / "firstboot.log").read_text()


def test_without_wifi_nothing_wifi_is_written(tree: tuple[Path, Path]) -> None:
    root, boot = tree
    (boot / "firstboot.toml.txt").write_text('hostname = "pi"\n')  # Windows' hidden .txt
    assert run_main(root, "apply") == 0
    assert (root / "etc/hostname").read_text() == "pi\n"
    assert not (root / "etc/wpa_supplicant").exists()
    assert not (root / "etc/systemd").exists()
    assert not (boot / "firstboot.toml.txt").exists()
    assert (boot / "firstboot.applied.toml").exists()


def test_dry_run_changes_nothing_and_shows_useradd(
    tree: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    root, boot = tree
    (boot / "firstboot.toml").write_text(
        f'user = "pi"\nhostname = "x"\nssh_authorized_keys = ["{KEY}"]\n'
        '[wifi]\nssid = "A"\npsk = "12345678"\ncountry = "GB"\n'
    )
    before = sorted(str(p) for p in root.rglob("*"))
    assert run_main(root, "--dry-run", "apply") == 0
    assert sorted(str(p) for p in root.rglob("*")) == before
    out = capsys.readouterr().out
    assert (
        f"would run: useradd --root {root} --create-home --user-group --shell /bin/bash pi" in out
    )
    assert f"would write {root}/etc/wpa_supplicant/wpa_supplicant-wlan0.conf (mode 0600)" in out
    assert "12345678" not in out


def test_no_file_nothing_to_do(tree: tuple[Path, Path]) -> None:
    root, boot = tree
    assert run_main(root, "apply") == 0
    assert "nothing to apply" in (boot / "firstboot.log").read_text()


def test_check_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "firstboot.toml"
    path.write_text('hostname = "a_b"\n')
    assert kf.main(["check", str(path)]) == 1
    out = capsys.readouterr().out
    assert f'{path}: hostname: "a_b" is not a valid host name' in out
    assert "nobody could log in" in out


@needs_keygen
def test_hostkeys_into_a_tree(tree: tuple[Path, Path]) -> None:
    root, boot = tree
    assert run_main(root, "hostkeys") == 0
    assert (root / "etc/ssh/ssh_host_ed25519_key").exists()
    log = (boot / "firstboot.log").read_text()
    assert re.search(r"INFO SSH host key: 256 SHA256:\S+ .*\(ED25519\)", log)


# --- growing the root partition ------------------------------------------------------------


@pytest.mark.parametrize(
    ("sysfs", "disk", "number"),
    [
        ("/sys/devices/platform/emmc2bus/fe340000.mmc/mmc_host/mmc0/mmc0:aaaa/block/mmcblk0/mmcblk0p2",
         "mmcblk0", 2),
        ("/sys/devices/platform/a003e00.virtio_mmio/virtio1/block/vda/vda2", "vda", 2),
        ("/sys/devices/pci0000:00/0000:00:01.0/virtio1/block/vda/vda2/", "vda", 2),
        ("/sys/devices/pci0000:00/0000:00:14.0/usb2/2-1/2-1:1.0/host0/target0:0:0/0:0:0:0/block/sda/sda2",
         "sda", 2),
        ("/sys/devices/pci0000:00/0000:00:01.1/0000:01:00.0/nvme/nvme0/nvme0n1/nvme0n1p2",
         "nvme0n1", 2),
        ("/sys/devices/virtual/block/loop0/loop0p2", "loop0", 2),
    ],
)  # fmt: skip
def test_disk_and_partition(sysfs: str, disk: str, number: int) -> None:
    assert kf.disk_and_partition(sysfs, f"{number}\n") == (disk, number)


def test_plan_grow() -> None:
    boot, root = kf.Part(1, 8192, 1048576), kf.Part(2, 1056768, 3145728)
    end = root.start + root.size
    assert kf.plan_grow(end + 20_000_000, [boot, root], 2) == kf.GrowPlan(
        "grow", "9.5 GiB free after it"
    )
    assert kf.plan_grow(end + 2048, [root, boot], 2).action == "full"  # <= 1 MiB: full
    assert kf.plan_grow(end, [boot, root], 2).action == "full"
    assert kf.plan_grow(end + 2049, [boot, root], 2).action == "grow"
    swap = kf.Part(3, end, 1000)
    assert kf.plan_grow(end * 2, [boot, root, swap], 2) == kf.GrowPlan(
        "blocked", "partition 3 follows it on the disk"
    )
    assert kf.plan_grow(end * 2, [boot], 2).action == "blocked"


def test_parse_mountinfo() -> None:
    text = (
        "22 1 179:2 / / ro,relatime shared:1 - ext4 /dev/mmcblk0p2 ro\n"
        "23 22 0:21 / /proc rw shared:12 - proc proc rw\n"
        "30 22 179:1 / /boot/firmware rw - vfat /dev/mmcblk0p1 rw\n"
        "31 22 7:2 / /mnt/my\\040disk rw - ext4 /dev/loop0p2 rw\n"
        "40 1 179:2 / / rw,relatime shared:1 master:2 - ext4 /dev/root rw\n"  # remounted
    )
    assert kf.parse_mountinfo(text) == kf.MountEntry(179, 2, "ext4", "/dev/root")
    assert kf.parse_mountinfo(text, "/mnt/my disk") == kf.MountEntry(7, 2, "ext4", "/dev/loop0p2")
    assert kf.parse_mountinfo(text, "/srv") is None


def test_sfdisk_label() -> None:
    assert kf.sfdisk_label("label: dos\nlabel-id: 0x1\ndevice: /dev/vda\n") == "dos"
    assert kf.sfdisk_label("label: gpt\n") == "gpt"
    assert kf.sfdisk_label("") == "unknown"


def fake_sysfs(tmp_path: Path, devpath: str, major: int, disk_size: int) -> tuple[Path, Path]:
    """/sys and /proc stand-ins: a disk with p1 (boot) and p2 (root, mounted at /)."""
    sysfs, proc = tmp_path / "sys", tmp_path / "proc"
    disk_dir = sysfs / devpath
    disk = disk_dir.name
    (disk_dir).mkdir(parents=True)
    (disk_dir / "size").write_text(f"{disk_size}\n")
    sep = "p" if disk[-1].isdigit() else ""
    for n, start, size in ((1, 8192, 1048576), (2, 1056768, 3145728)):
        part = disk_dir / f"{disk}{sep}{n}"
        part.mkdir()
        for name, value in (("partition", n), ("start", start), ("size", size)):
            (part / name).write_text(f"{value}\n")
        (part / "uevent").write_text(f"MAJOR={major}\nMINOR={n}\nDEVNAME={part.name}\n")
    (sysfs / "dev/block").mkdir(parents=True)
    (sysfs / f"dev/block/{major}:2").symlink_to(disk_dir / f"{disk}{sep}2")
    (proc / "self").mkdir(parents=True)
    line = f"22 1 {major}:2 / / rw,relatime shared:1 - ext4 /dev/root rw\n"
    (proc / "self/mountinfo").write_text(line)
    return sysfs, proc


@pytest.mark.parametrize(
    ("devpath", "major", "disk", "part"),
    [
        ("devices/platform/emmc2bus/fe340000.mmc/mmc_host/mmc0/mmc0:aaaa/block/mmcblk0", 179,
         "/dev/mmcblk0", "/dev/mmcblk0p2"),
        ("devices/platform/a003e00.virtio_mmio/virtio1/block/vda", 254, "/dev/vda", "/dev/vda2"),
        ("devices/pci0000:00/0000:00:01.1/0000:01:00.0/nvme/nvme0/nvme0n1", 259,
         "/dev/nvme0n1", "/dev/nvme0n1p2"),
    ],
)  # fmt: skip
def test_growroot_dry_run_on_fake_sysfs(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    devpath: str,
    major: int,
    disk: str,
    part: str,
) -> None:
    sysfs, proc = fake_sysfs(tmp_path, devpath, major, 60_000_000)
    sx = kf.System(tmp_path / "root", tmp_path / "boot", True, kf.Log(None, True))
    assert kf.cmd_growroot(sx, "/", proc, sysfs) == 0
    out = capsys.readouterr().out
    assert f"growing {part} (partition 2 of {disk}): 26.6 GiB free after it" in out
    assert f"would run: sfdisk --no-reread --no-tell-kernel -N 2 {disk}\n" in out
    assert f"would run: partx -u --nr 2 {disk}\n" in out
    assert f"would run: resize2fs {part}\n" in out
    assert not (tmp_path / "root").exists()  # no stamp on a dry run


def test_growroot_full_disk_only_resizes_and_stamps(tmp_path: Path) -> None:
    sysfs, proc = fake_sysfs(tmp_path, "devices/virtual/block/vda", 254, 1056768 + 3145728)
    sx = kf.System(tmp_path / "root", tmp_path / "boot", False, kf.Log(None))
    ran: list[list[str]] = []

    def run(argv: list[str], stdin: str | None = None, readonly: bool = False) -> str:
        ran.append(list(argv))
        return ""

    sx.run = run
    assert kf.cmd_growroot(sx, "/", proc, sysfs) == 0
    assert ran == [["resize2fs", "/dev/vda2"]]
    assert (
        (tmp_path / "root/var/lib/kit-firstboot/grown")
        .read_text()
        .endswith("/dev/vda2 3145728 -> 3145728 sectors\n")
    )


def test_growroot_whole_disk_root_is_left_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sysfs, proc = fake_sysfs(tmp_path, "devices/virtual/block/vda", 254, 10**8)
    (proc / "self/mountinfo").write_text("22 1 254:0 / / rw - ext4 /dev/vda rw\n")
    (sysfs / "dev/block/254:0").symlink_to(sysfs / "devices/virtual/block/vda")
    sx = kf.System(tmp_path / "root", tmp_path / "boot", False, kf.Log(None))
    assert kf.cmd_growroot(sx, "/", proc, sysfs) == 0
    assert (
        "/dev/vda is not a partition (whole disk or virtual device); not grown"
        in capsys.readouterr().out
    )
    assert (tmp_path / "root/var/lib/kit-firstboot/grown").exists()


# --- for real, on a loop device ------------------------------------------------------------


def sh(*argv: str, stdin: str | None = None) -> str:
    return subprocess.run(argv, input=stdin, capture_output=True, text=True, check=True).stdout


def has_cap_sys_resource() -> bool:
    """Online ext4 resize needs CAP_SYS_RESOURCE (some sandboxes drop it even for root)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapEff:"):
            return bool(int(line.split()[1], 16) >> 24 & 1)
    return False


class Card:
    """A sparse image file with the Pi's layout (p1 FAT-type, p2 ext4) on a loop device."""

    def __init__(self, path: Path, label: str) -> None:
        self.path = path
        self.mnt = path.parent / "mnt"
        self.mounted = False
        path.write_bytes(b"")
        os.truncate(path, 64 * 2**20)
        parts = "start=2048, size=16MiB, type={}\nsize=32MiB, type={}\n"
        gpt_types = ("EBD0A0A2-B9E5-4433-87C0-68B6B72699C7", "0FC63DAF-8483-4772-8E79-3D69D8477DE4")
        types = ("c", "83") if label == "dos" else gpt_types
        sh("sfdisk", "-q", str(path), stdin=f"label: {label}\n" + parts.format(*types))
        self.dev = sh("losetup", "-f", "--show", "-P", str(path)).strip()
        self.part = f"{self.dev}p2"
        if not Path(self.part).exists():  # no udev: ask the kernel for the partitions
            subprocess.run(["partx", "-a", self.dev], check=False)
        assert Path(self.part).exists(), f"{self.part} did not appear"
        sh("mkfs.ext4", "-q", "-L", "RASPIROOT", self.part)

    def mount(self) -> None:
        self.mnt.mkdir(exist_ok=True)
        sh("mount", self.part, str(self.mnt))
        self.mounted = True

    def umount(self) -> None:
        if self.mounted:
            sh("umount", str(self.mnt))
            self.mounted = False

    def enlarge(self, size: int) -> None:
        os.truncate(self.path, size)
        sh("losetup", "-c", self.dev)

    def sectors(self, name: str) -> int:
        return int(Path(f"/sys/class/block/{Path(self.dev).name}{name}/size").read_text())

    def fs_bytes(self) -> int:
        out = sh("dumpe2fs", "-h", self.part)
        count = int(re.search(r"^Block count:\s+(\d+)", out, re.M).group(1))  # type: ignore[union-attr]
        size = int(re.search(r"^Block size:\s+(\d+)", out, re.M).group(1))  # type: ignore[union-attr]
        return count * size

    def close(self) -> None:
        try:
            self.umount()
        finally:
            subprocess.run(["losetup", "-d", self.dev], check=False)


@pytest.fixture(params=["dos", "gpt"])
def card(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Card]:
    if os.geteuid() != 0:
        pytest.skip("needs root (loop devices)")
    if not all(shutil.which(t) for t in ("sfdisk", "partx", "losetup", "resize2fs", "mkfs.ext4")):
        pytest.skip("needs util-linux (sfdisk, partx, losetup) and e2fsprogs")
    try:
        c = Card(tmp_path / "card.img", request.param)
    except (subprocess.CalledProcessError, AssertionError) as e:
        pytest.skip(f"no usable loop device here: {e}")
    try:
        yield c
    finally:
        c.close()


def mounted_root(card: Card) -> Any:
    entry = kf.parse_mountinfo(Path("/proc/self/mountinfo").read_text(), str(card.mnt))
    assert entry is not None
    return kf.locate(entry, Path("/sys"))


@needs_root
def test_grow_partition_of_a_mounted_card_then_the_file_system(card: Card) -> None:
    """The partition grows while its file system is mounted (as / is on the Pi); the file
    system is then resized offline, which needs no CAP_SYS_RESOURCE."""
    card.mount()
    dev = mounted_root(card)
    assert (dev.disk, dev.part, dev.number) == (card.dev, card.part, 2)
    card.enlarge(128 * 2**20)
    disk_size = card.sectors("")
    plan = kf.plan_grow(disk_size, kf.partitions(dev.sysfs_disk), 2)
    assert plan.action == "grow"
    sx = kf.System(Path("/nonexistent"), Path("/nonexistent"), False, kf.Log(None))
    kf.grow_partition(sx, dev)
    grown = card.sectors("p2")
    assert grown > 200_000  # was 65536 (32 MiB)
    assert kf.plan_grow(disk_size, kf.partitions(dev.sysfs_disk), 2).action == "full"
    card.umount()
    sh("e2fsck", "-f", "-p", card.part)
    kf.resize_fs(sx, card.part)
    assert card.fs_bytes() > 100 * 2**20
    assert abs(card.fs_bytes() - grown * 512) < 4 * 2**20


@needs_root
def test_growroot_end_to_end_on_a_mounted_card(
    card: Card, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The whole growroot on the card mounted as its root. Online ext4 resize needs
    CAP_SYS_RESOURCE, which some sandboxes drop even for root: without it, what is checked
    is the failure path (partition grown, error logged, no stamp: retried next boot)."""
    card.mount()
    card.enlarge(128 * 2**20)
    root = tmp_path / "root"
    stamp = root / "var/lib/kit-firstboot/grown"
    sx = kf.System(root, tmp_path, False, kf.Log(None))
    if has_cap_sys_resource():
        assert kf.cmd_growroot(sx, str(card.mnt)) == 0
        assert card.fs_bytes() > 100 * 2**20
        assert stamp.exists()
        assert kf.cmd_growroot(sx, str(card.mnt)) == 0  # idempotent: already full size
        assert "already reaches the end of the disk" in capsys.readouterr().out
    else:
        assert kf.cmd_growroot(sx, str(card.mnt)) == 1
        assert card.sectors("p2") > 200_000
        out = capsys.readouterr().out
        assert f"ERROR growroot: resize2fs {card.part} exited 1: " in out
        assert "will try again on the next boot" in out
        assert not stamp.exists()
