#!/bin/sh
# Starts the Linux host simulator (docker/sims/linux-host) in its image's posture HOST_POSTURE on the
# container's address: the posture's passwords (profiles/docker/secrets.yaml holds them for the harness), host
# keys made at start, the OpenSSH simulator's sshd configuration of the same posture as /etc/ssh/sshd_config
# (what host.audit reads with sshd -T), and on the weak host an undeclared Telnet service (inetd) on 23.
set -eu
conf=/etc/iacs-sim/sshd_config.${HOST_POSTURE}
[ -f "$conf" ] || { echo "linux-host sim: no sshd configuration for HOST_POSTURE=${HOST_POSTURE}" >&2; exit 2; }
ip=$(container-ip)
rm -f /etc/ssh/ssh_host_*
case "$HOST_POSTURE" in
  weak)
    ssh-keygen -q -t rsa -b 1024 -N '' -f /etc/ssh/ssh_host_rsa_key
    ssh-keygen -q -t ecdsa -b 256 -N '' -f /etc/ssh/ssh_host_ecdsa_key
    printf 'root:root\ntoor:root\noperator:operator\n' | chpasswd
    passwd -d guest >/dev/null
    printf '%s:telnet stream tcp nowait root /usr/sbin/telnetd telnetd\n' "$ip" >/etc/iacs-sim/inetd.conf
    /usr/sbin/inetutils-inetd /etc/iacs-sim/inetd.conf
    ;;
  hardened)
    ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key
    printf '%s\n' 'opsadmin:Adm1n!Bench-Host-2026' 'operator:Op3rator!Bench-2026' | chpasswd
    passwd -l root >/dev/null
    ;;
esac
{ cat "$conf"; echo "ListenAddress ${ip}:22"; } >/etc/ssh/sshd_config
mkdir -p /run/sshd
/usr/sbin/sshd -t
echo "linux host (${HOST_POSTURE}): sshd on ${ip}:22" >&2
exec /usr/sbin/sshd -D -e
