#!/bin/sh
# Runs the emulated device on the container's address until the container is stopped. The services
# line (JSON) goes to /run/iacs-emulator.json, where the healthcheck reads it; diagnostics go to the
# container log.
set -eu
host=${IACS_HOST:-$(/opt/iacs-probe/docker/bin/container-ip)}
line=/run/iacs-emulator.json
# The device's log and time settings (docker/compose.yaml): the lab services' address and ports, and the kit's
# lab CA for the collector's certificate. IACS_LAB_PORTS is split into words on purpose.
set --
if [ -n "${IACS_LAB_ADDRESS:-}" ]; then
  # shellcheck disable=SC2086
  set -- --log-host "$IACS_LAB_ADDRESS" --syslog-ca /opt/iacs-probe/docker/lab/lab-ca.crt ${IACS_LAB_PORTS:-}
fi
echo "iacs-probe emulate --posture ${IACS_POSTURE} --host ${host} $*" >&2
/opt/iacs-probe/bin/iacs-probe emulate --posture "${IACS_POSTURE}" --host "${host}" "$@" >"$line" &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null || true; wait "$pid" || true; exit 0' TERM INT
status=0
wait "$pid" || status=$?
# A posture that starts no service (today's hardened one) is still a device, but `iacs-probe emulate`
# then returns at once: nothing keeps Node's event loop alive. Stay up until stopped, like the device.
if [ "$status" -eq 0 ] && grep -q '"services":\[\]' "$line"; then
  echo "the posture starts no service; the device stays up with nothing listening" >&2
  pid=""
  trap 'exit 0' TERM INT
  while :; do sleep 3600 & wait $! || true; done
fi
exit "$status"
