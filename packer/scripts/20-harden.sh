#!/bin/sh -eux
# Hardening of the machine around the service.
#   env: SERVICE  the unit (= the package name); LAYER  what the service reports as its
#        layer (KIT_LAYER): this image, not the package it was baked from
# 1. sshd: keys only — no passwords, no keyboard-interactive, no root login. A drop-in
#    named 10-… so it wins over cloud-init's 50-cloud-init.conf (sshd takes the first
#    value it reads; Debian's sshd_config includes sshd_config.d/ first).
# 2. The service: the .deb ships the kit's hardened unit (systemd-analyze security
#    exposure <= 1.2); a VM — unlike the container targets — has user namespaces, so the
#    step the deb layer leaves to real hosts is taken here: PrivateUsers=yes, as a
#    drop-in under /etc (survives package upgrades).
: "${SERVICE:?SERVICE=<unit name> is required}"
: "${LAYER:?LAYER=<layer name> is required}"

install -d -m 0755 /etc/ssh/sshd_config.d
cat >/etc/ssh/sshd_config.d/10-kit-hardening.conf <<'SSHD'
# kit VM image (packer/scripts/20-harden.sh): public keys only.
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitEmptyPasswords no
PermitRootLogin no
AuthenticationMethods publickey
X11Forwarding no
SSHD
sshd -t
sshd -T | grep -Ei '^(passwordauthentication|kbdinteractiveauthentication|permitrootlogin|authenticationmethods) '

before="$(systemd-analyze security "$SERVICE.service" | tail -1)"
install -d -m 0755 "/etc/systemd/system/$SERVICE.service.d"
cat >"/etc/systemd/system/$SERVICE.service.d/50-vm-hardening.conf" <<UNIT
# kit VM image (packer/scripts/20-harden.sh): a VM has user namespaces, so the service
# also runs in its own (root inside is nobody outside); and it says which layer it is.
[Service]
PrivateUsers=yes
Environment=KIT_LAYER=$LAYER
UNIT
systemctl daemon-reload
systemctl restart "$SERVICE.service"
echo "exposure before: $before"
echo "exposure after:  $(systemd-analyze security "$SERVICE.service" | tail -1)"
systemctl is-active "$SERVICE.service"
