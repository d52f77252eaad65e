#!/bin/sh
# Healthy once the agent answers an SNMPv2c GET of sysDescr.0; then only a marker file is checked, so that
# the check sends nothing while the harness assesses the agent.
marker=/run/iacs-sim.healthy
[ -f "$marker" ] && exit 0
ip=$(container-ip) || exit 1
snmpget -v2c -c public -t 1 -r 1 -On "$ip" 1.3.6.1.2.1.1.1.0 >/dev/null 2>&1 || exit 1
date -u +%FT%TZ >"$marker"
