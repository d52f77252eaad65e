#!/bin/sh
# Starts sshd in the posture SSHD_POSTURE (weak | hardened) on the container's address, port 22.
# Host keys are made at start, so every container has its own; passwords are the posture's fixed ones
# (profiles/docker/secrets.yaml holds them for the harness).
set -eu
conf=/etc/iacs-sim/sshd_config.${SSHD_POSTURE}
if [ ! -f "$conf" ]; then
  echo "openssh sim: no configuration for SSHD_POSTURE=${SSHD_POSTURE} (weak | hardened)" >&2
  exit 2
fi
rm -f /etc/ssh/ssh_host_*
case "$SSHD_POSTURE" in
  weak)
    ssh-keygen -q -t rsa -b 1024 -N '' -f /etc/ssh/ssh_host_rsa_key
    ssh-keygen -q -t ecdsa -b 256 -N '' -f /etc/ssh/ssh_host_ecdsa_key
    printf 'root:root\noperator:operator\n' | chpasswd
    ;;
  hardened)
    ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key
    printf '%s\n' 'operator:Op3rator!Bench-2026' | chpasswd
    passwd -l root >/dev/null
    ;;
esac
mkdir -p /run/sshd
ip=$(container-ip)
/usr/sbin/sshd -t -f "$conf"
echo "sshd (${SSHD_POSTURE}) on ${ip}:22" >&2
exec /usr/sbin/sshd -D -e -f "$conf" -o "ListenAddress=${ip}:22"
