#!/bin/sh
# Healthy once the plain listener answers a CONNECT (CONNACK accepted, or "not authorised" in the secure
# posture); then only a marker file is checked, so that the check sends nothing while the harness assesses
# the broker.
marker=/run/iacs-sim.healthy
[ -f "$marker" ] && exit 0
ip=$(container-ip) || exit 1
out=$(mosquitto_sub -h "$ip" -p 1883 -t '$SYS/broker/version' -C 1 -W 2 2>&1)
case "$out" in
  *mosquitto*|*"not authori"*) date -u +%FT%TZ >"$marker"; exit 0 ;;
  *) exit 1 ;;
esac
