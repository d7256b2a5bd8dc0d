#!/bin/sh -eux
# Make the image a template, not a machine: every VM booted from it is a fresh machine
# (its own SSH host keys, machine-id, cloud-init instance), no build credential stays in
# it, and its free blocks are empty so the qcow2 stays small.
#   env: SERVICE     the unit (= the package name)
#        BUILD_USER  the throw-away build user Packer logged in as
: "${SERVICE:?}" "${BUILD_USER:?}"

# The service's data was made by its first start here: an image ships none (systemd
# makes the data dir again, empty, on the first start of each VM).
systemctl stop "$SERVICE.service"
rm -rf "/var/lib/$SERVICE" "/var/lib/private/$SERVICE"

# apt: no caches, no lists (the base has none; apt-get update on the machine fetches them).
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin

# Identity: SSH host keys (cloud-init or ssh-hostkeys.service makes new ones on first
# boot), machine-id (empty = systemd makes one on boot, not "first boot" preset-all), the
# random seed, cloud-init's instance state and logs (the next boot is a new instance).
rm -f /etc/ssh/ssh_host_*
: >/etc/machine-id
rm -f /var/lib/dbus/machine-id /var/lib/systemd/random-seed /var/lib/systemd/credential.secret
cloud-init clean --logs
echo debian >/etc/hostname

# Logs: the journal goes on in /run until power-off, nothing of this build is kept.
journalctl --relinquish-var
rm -rf /var/log/journal/*
find /var/log -type f -delete
rm -rf /tmp/* /var/tmp/* /root/.bash_history

# The build user: Packer still needs its session (and sudo) for the power-off, so it goes
# last, as the VM stops — a transient unit (in /run, not in the image) whose ExecStop
# removes the user, its home, its sudo rule and the login records, then trims again.
cat >/run/kit-remove-build-user.sh <<REMOVE
#!/bin/sh
userdel --force --remove '$BUILD_USER'
rm -f /etc/sudoers.d/90-cloud-init-users
rm -f /var/log/wtmp /var/log/btmp /var/log/lastlog /var/lib/wtmpdb/* /var/lib/lastlog/*
fstrim / || true
REMOVE
systemd-run --unit=kit-remove-build-user --service-type=oneshot \
  --property=RemainAfterExit=yes --property="ExecStop=/bin/sh /run/kit-remove-build-user.sh" \
  /bin/true

# Free blocks: TRIM reaches the qcow2 (virtio discard=unmap) and frees its clusters; where
# discard does not get through, fill the free space with zeros (compression drops them).
sync
if ! fstrim -v /; then
  dd if=/dev/zero of=/zero.fill bs=1M status=none || true
  rm -f /zero.fill
fi
sync
