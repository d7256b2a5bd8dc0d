#!/usr/bin/env bash
# The Pi image's own boot checks. Two cards flashed from the SAME image, booted under qemu
# (the image's own kernel + initrd, kit vm up --machine arm64-virt --seed firstboot, each
# disk 1 GiB bigger than the image):
#   card A gets a plain firstboot.toml, card B a bad one — an unknown key, a malformed SSH
#   key next to a good one, Wi-Fi settings;
# `./kit test hardware` runs this in the molecule scenario's verify, before the contract,
# with --card-a naming the scenario's VM (a card booted the same way, fresh): only card B
# is booted here, which spares a third emulated boot. Without --card-a both are booted,
# side by side;
# then, over SSH:
#   - A and B have different SSH host keys and machine-ids (nothing baked into the image);
#   - both grew the root partition and filesystem to their disk;
#   - B came up reachable with the rest applied, and its findings are on the console and
#     in firstboot.log on the boot partition; the Wi-Fi passphrase is not left in clear
#     on the FAT partition, the supplicant config is root-only;
#   - sshd refuses passwords, root has no usable password, the service is active.
#
#   bash hardware/tests/boot-checks.sh --image-dir dist/hardware/trixie/1.0.0-arm64 \
#     --service <kit.toml name> --port <kit.toml port> [--card-a <a VM kit vm up booted>]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# shellcheck source=lib/build.sh
. "$root/lib/build.sh"

image_dir="" service="" port="" card_a=""
timeout="${KIT_BOOT_TIMEOUT:-600}"
while [ $# -gt 0 ]; do
  case "$1" in
    --image-dir) image_dir="${2:?}"; shift 2 ;;
    --service) service="${2:?}"; shift 2 ;;
    --port) port="${2:?}"; shift 2 ;;
    --card-a) card_a="${2:?}"; shift 2 ;;
    *) die "unknown argument '$1'" "use --image-dir DIR --service NAME --port N [--card-a VM]" ;;
  esac
done
[ -n "$service" ] && [ -n "$port" ] || die "--service and --port are required" "pass kit.toml's name and port"
image="$(find "$image_dir" -maxdepth 1 -name '*.img' | head -1)"
[ -f "$image" ] || die "no .img in $image_dir" "build it: ./kit build hardware"
name="$(basename "$image" .img)"
a="${card_a:-kit-boot-a}" b="kit-boot-b"
if [ -n "$card_a" ] && [ ! -f "$root/.kit/vm/$a/ssh_config" ]; then
  die "--card-a $a: no VM of that name is up" "boot it: ./kit vm up $a --image $image --machine arm64-virt --seed firstboot --grow-mib 1024 --port $port"
fi
work="$(mktemp -d)"
# Stop what this script booted, never the card it was lent.
booted="$b"
[ -n "$card_a" ] || booted="$a $b"
kit_on_exit "rm -rf '$work'; for vm in $booted; do '$root/kit' vm down \$vm >/dev/null 2>&1 || true; done"

cat >"$work/bad.toml" <<'TOML'
# a card's firstboot.toml with mistakes in it: the rest must still be applied
hostname = "@HOSTNAME@"
user = "@USER@"
ssh_authorized_keys = ["@KEY@", "ssh-ed25519 AAAAthis-is-not-a-key broken@example"]
colour = "blue"

[wifi]
ssid = "kit-test-net"
psk = "kit-boot-check-secret-42"
country = "GB"
TOML

failures=0
check() { # check DESCRIPTION COMMAND… — one line per check, all run, failures counted
  local what="$1"; shift
  if "$@"; then echo "  ✓ $what"; else echo "  ✗ $what"; failures=$((failures + 1)); fi
}
on() { local vm="$1"; shift; ssh -F "$root/.kit/vm/$vm/ssh_config" "$vm" "$@"; }

up=("$root/kit" vm up --image "$image" --port "$port" --machine arm64-virt --seed firstboot
  --grow-mib 1024 --timeout "$timeout")
t=$SECONDS
rc=0
if [ -n "$card_a" ]; then
  step "boot card B of $name (a bad firstboot.toml); card A is $a, already up"
  "${up[@]}" "$b" --firstboot "$work/bad.toml" >"$work/b.log" 2>&1 || rc=1
else
  step "boot two cards of $name side by side (A: plain firstboot.toml, B: a bad one)"
  "${up[@]}" "$a" >"$work/a.log" 2>&1 &
  pid_a=$!
  "${up[@]}" "$b" --firstboot "$work/bad.toml" >"$work/b.log" 2>&1 &
  pid_b=$!
  wait "$pid_a" || rc=1
  wait "$pid_b" || rc=1
  sed 's/^/  A| /' "$work/a.log"
fi
sed 's/^/  B| /' "$work/b.log"
[ "$rc" -eq 0 ] || die "a card did not come up (console tails above)" "read .kit/vm/<name>/serial.log; hardware/README.md, section Test"
echo "  both reachable over SSH after $((SECONDS - t)) s"

step "no shared secrets"
key_a="$(on "$a" cat /etc/ssh/ssh_host_ed25519_key.pub | cut -d' ' -f2)"
key_b="$(on $b cat /etc/ssh/ssh_host_ed25519_key.pub | cut -d' ' -f2)"
id_a="$(on "$a" cat /etc/machine-id)" id_b="$(on $b cat /etc/machine-id)"
check "host keys differ (A ${key_a:0:16}…, B ${key_b:0:16}…)" test -n "$key_a" -a -n "$key_b" -a "$key_a" != "$key_b"
check "machine-ids differ (A $id_a, B $id_b)" test -n "$id_a" -a -n "$id_b" -a "$id_a" != "$id_b"
check "sshd refuses passwords" sh -c "ssh -F '$root/.kit/vm/$a/ssh_config' $a sudo sshd -T | grep -qx 'passwordauthentication no'"
check "root has no usable password" sh -c "ssh -F '$root/.kit/vm/$a/ssh_config' $a sudo passwd -S root | grep -q ' L '"

step "the root grew to the disk"
for vm in $a $b; do
  sizes="$(on "$vm" 'lsblk -bdno SIZE /dev/vda; lsblk -bdno SIZE /dev/vda2; df -B1 --output=size / | tail -1')"
  read -r disk part fs <<<"$(echo "$sizes" | tr '\n' ' ')"
  # the partition reaches the end of the disk (minus the boot partition and alignment);
  # the filesystem fills the partition (minus ext4's reserved metadata)
  check "$vm: partition $((part >> 20)) MiB of a $((disk >> 20)) MiB disk; filesystem $((fs >> 20)) MiB" \
    test $((disk - part)) -lt $((300 << 20)) -a "$fs" -gt $((part * 9 / 10))
done

step "card B: the bad firstboot.toml reported, the rest applied"
log="$(on $b sudo cat /boot/firmware/firstboot.log)"
while IFS= read -r line; do echo "  log| $line"; done <<<"$log"
check "unknown key reported in firstboot.log" grep -q "colour" <<<"$log"
check "malformed SSH key reported in firstboot.log" grep -qi "not a valid\|malformed\|invalid" <<<"$log"
check "the findings reached the console" grep -q "colour" "$root/.kit/vm/$b/serial.log"
check "hostname applied" test "$(on $b hostname)" = "$b"
check "login with the good key worked (user kit, sudo)" test "$(on $b sudo id -u)" = 0
check "wpa_supplicant-wlan0.conf is root-only, passphrase hashed" \
  sh -c "ssh -F '$root/.kit/vm/$b/ssh_config' $b 'sudo stat -c %a /etc/wpa_supplicant/wpa_supplicant-wlan0.conf; sudo cat /etc/wpa_supplicant/wpa_supplicant-wlan0.conf' >'$work/wpa' && head -1 '$work/wpa' | grep -qx 600 && ! grep -q kit-boot-check-secret '$work/wpa' && grep -q 'country=GB' '$work/wpa'"
check "no clear passphrase left on the FAT partition" \
  sh -c "! ssh -F '$root/.kit/vm/$b/ssh_config' $b 'sudo grep -rl kit-boot-check-secret /boot/firmware' | grep -q ."
check "the service is active on both" sh -c "ssh -F '$root/.kit/vm/$a/ssh_config' $a systemctl is-active --quiet $service && ssh -F '$root/.kit/vm/$b/ssh_config' $b systemctl is-active --quiet $service"

[ "$failures" -eq 0 ] || die "$failures boot check(s) failed (above)" "hardware/README.md, section Test; consoles: .kit/vm/$a|$b/serial.log"
step "boot checks passed"
