#!/bin/sh
# Starts snmpd in the foreground with only docker/sims/snmpd/snmpd.conf (-C), on the container's address,
# UDP 161, SMUX off (-I -smux: no TCP 199), logging to stdout.
set -eu
ip=$(container-ip)
mkdir -p /var/lib/snmp
echo "snmpd on udp:${ip}:161" >&2
exec /usr/sbin/snmpd -f -Lo -C -c /etc/iacs-sim/snmpd.conf -I -smux -p /run/snmpd.pid "udp:${ip}:161"
