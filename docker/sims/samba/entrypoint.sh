#!/bin/sh
# Starts smbd in the posture SAMBA_POSTURE (weak | hardened) on the container's address, port 445, in the
# foreground (its log on stdout).
set -eu
posture=/etc/iacs-sim/smb.${SAMBA_POSTURE}.conf
if [ ! -f "$posture" ]; then
  echo "samba sim: no configuration for SAMBA_POSTURE=${SAMBA_POSTURE} (weak | hardened)" >&2
  exit 2
fi
ip=$(container-ip)
{ cat /etc/iacs-sim/smb.common.conf; echo "  interfaces = ${ip}"; cat "$posture"; } >/etc/samba/smb.conf
if ! check=$(testparm -s /etc/samba/smb.conf 2>&1); then echo "$check" >&2; exit 2; fi
echo "smbd (${SAMBA_POSTURE}) on ${ip}:445" >&2
exec /usr/sbin/smbd --foreground --no-process-group --debug-stdout
