#!/usr/bin/env bash
# Shards of one run on Docker Swarm, for real (docs/docker.md, "Shards on a cluster engine"):
#   the private dockerd of the Docker kit (docker/lib/private-engine.sh) becomes a one-node swarm
#   (`docker swarm init --advertise-addr 127.0.0.1`); the harness image is built from this checkout; a fleet
#   of four emulated PLCs runs as four swarm services on an internal overlay network (profiles/docker/fleet.yaml);
#   a replicated job assesses the fleet whole, then `--mode replicated-job --replicas N --max-concurrent M`
#   runs `iacs-probe run --shard <slot>/N` in N tasks; `iacs-probe merge` joins their folders, `iacs-probe
#   verify` checks the result, and the merged report is compared with the whole one
#   (docker/harness/compare-assessments.mjs). Then the swarm is left, docker_gwbridge removed, the engine
#   stopped and the machine proven as before (forwarding sysctls, docker links, chains, mounts, cgroups).
#
# usage: docker/swarm-shards.sh [--out DIR] [--shards N] [--max-concurrent M] [--base-image IMAGE]
#                               [--lock-wait SECONDS]
#
#   --out DIR            evidence (default runs/swarm-<UTC time>): runs/{whole,shard-<i>,merged}/ and their
#                        logs and exit codes, swarm/ (engine logs, task table, timings, machine state)
#   --shards N           shards (default 4); --max-concurrent M: tasks at once (default 2)
#   --base-image IMAGE   build FROM this image instead of the local Debian base (docker/base/make-base.sh)
#   --lock-wait S        wait up to S seconds for a docker/regress.sh using the same engine data (default 1800)
#
# Needs root (it starts dockerd; packages as docker/regress.sh). Nothing leaves the swarm: the fleet and the
# assessing tasks share an internal overlay network (no gateway, no route to the host or beyond), nothing is
# published, swarm listens on 127.0.0.1 only, and the merge runs with --network none.
#
# Exit status: 0 the merged report equals the whole run's and the machine is as before; 1 it does not equal;
# 2 errors (engine, build, a task, the merge, or the machine not restored); 3 usage.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
IMAGE=iacs-probe/harness:local
NETWORK=iacs-shards-fleet
PROFILE=/opt/iacs-probe/profiles/docker/fleet.yaml
# Read-only probes: every run sees the devices in the same state (the merged report must equal the whole one).
ONLY=ssh.algorithms,tls.protocols,tls.certificate,cleartext.telnet,http.headers,http.transport,modbus.identification,ports.tcp
FLEET=(eplc-1=weak eplc-2=hardened eplc-3=weak eplc-4=hardened)

shards=4 max_concurrent=2 out="" base_image="" lock_wait=1800
dockerd_iptables=0 fresh=0
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//' >&2; exit "${1:-3}"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=${2:-}; shift ;;
    --shards) shards=${2:-}; shift ;;
    --max-concurrent) max_concurrent=${2:-}; shift ;;
    --base-image) base_image=${2:-}; shift ;;
    --lock-wait) lock_wait=${2:-}; shift ;;
    -h|--help) usage 0 ;;
    *) echo "swarm-shards: unknown option $1" >&2; usage ;;
  esac
  shift
done
for n in "$shards" "$max_concurrent" "$lock_wait"; do
  case "$n" in ''|*[!0-9]*) echo "swarm-shards: --shards, --max-concurrent and --lock-wait take whole numbers" >&2; exit 3 ;; esac
done
[ "$shards" -ge 1 ] && [ "$max_concurrent" -ge 1 ] || { echo "swarm-shards: --shards and --max-concurrent must be at least 1" >&2; exit 3; }
[ "$(id -u)" = 0 ] || { echo "swarm-shards: needs root (it starts a private dockerd)" >&2; exit 3; }

out=${out:-$ROOT/runs/swarm-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$out"
out=$(cd "$out" && pwd)
if [ -n "$(ls -A "$out")" ]; then echo "swarm-shards: $out is not empty" >&2; exit 3; fi
LOGS="$out/swarm"
EVIDENCE="$out/runs"   # bind-mounted at /evidence into every task
mkdir -p "$LOGS" "$EVIDENCE"

say() { echo "swarm-shards: $*" >&2; }
# shellcheck source=lib/private-engine.sh
source "$ROOT/docker/lib/private-engine.sh"
T0=$(mark)
final_rc=2
services=()

t=$(mark); ensure_packages || { say "package installation failed (see $LOGS/apt.log)"; exit 2; }; record "install packages (if missing)" "$t"
[ -n "$DOCKER" ] || { say "no docker client"; exit 2; }

finish() {
  final_rc=$?
  set +e
  trap - EXIT INT TERM HUP
  local t; t=$(mark)
  if [ "$engine_started" = 1 ] && "$DOCKER" version >/dev/null 2>&1; then
    "$DOCKER" service ls --format '{{.Name}} {{.Mode}} {{.Replicas}}' >"$LOGS/services.txt" 2>&1
    # The devices' own output (the jobs' goes to $EVIDENCE/*.log). `docker logs` of the task containers:
    # `docker service logs` waited for its 10 s timeout on each service here.
    for s in "${FLEET[@]}"; do
      for c in $("$DOCKER" ps -aq --filter "label=com.docker.swarm.service.name=${s%%=*}"); do
        timeout 10 "$DOCKER" logs --timestamps "$c" >>"$LOGS/service-${s%%=*}.log" 2>&1
      done
    done
    [ ${#services[@]} -eq 0 ] || timeout 60 "$DOCKER" service rm "${services[@]}" >/dev/null 2>&1
    # The services' containers must be stopped and removed before the swarm is left and docker_gwbridge
    # removed (swarm is slow to remove the containers of finished job tasks: prune them).
    for _ in $(seq 1 150); do [ -z "$("$DOCKER" ps -q 2>/dev/null)" ] && break; sleep 0.2; done
    timeout 60 "$DOCKER" container prune --force >/dev/null 2>&1
    record "remove services" "$t"
    timeout 60 "$DOCKER" image prune --force >/dev/null 2>&1
  fi
  engine_stop   # leaves the swarm, removes docker_gwbridge, stops dockerd, restores the machine
  record "teardown (services, swarm, engine)" "$t"
  engine_check_machine || final_rc=2
  record "total" "$T0"
  printf '%s\n' "${TIMINGS[@]}" | tee "$LOGS/timings.txt" >&2
  say "evidence: $out (exit $final_rc)"
  exit "$final_rc"
}

say "waiting for the kit's engine lock (docker/regress.sh uses the same engine data)"
engine_lock "$lock_wait" || { say "the kit's lock stayed taken for $lock_wait s"; exit 2; }
engine_prepare || { say "not started"; exit 2; }
trap finish EXIT
trap 'on_signal INT' INT
trap 'on_signal TERM' TERM
trap 'on_signal HUP' HUP

t=$(mark)
engine_start || { say "the private engine did not start"; exit 2; }
record "start dockerd" "$t"

# --- the harness image, from this checkout -----------------------------------------------------------------
t=$(mark)
if [ -z "$base_image" ]; then
  step "$LOGS/base-tag.txt" "$LOGS/base.log" "$ROOT/docker/base/make-base.sh" && base_image=$(cat "$LOGS/base-tag.txt") || { tail -n 20 "$LOGS/base.log" >&2; say "base image failed"; exit 2; }
fi
record "base image ($base_image)" "$t"
t=$(mark)
say "building $IMAGE FROM $base_image (log: $LOGS/build.log)"
# The legacy builder, as docker-compose 1.29 in docker/regress.sh: build steps on the host's network (the
# engine has no default bridge).
step "$LOGS/build.log" "$LOGS/build.log" env DOCKER_BUILDKIT=0 "$DOCKER" build --network host --build-arg "BASE_IMAGE=$base_image" \
  -f "$ROOT/docker/Dockerfile" -t "$IMAGE" "$ROOT" || { tail -n 40 "$LOGS/build.log" >&2; say "image build failed"; exit 2; }
record "build harness image" "$t"

# --- the swarm and the fleet -------------------------------------------------------------------------------
t=$(mark)
"$DOCKER" swarm init --advertise-addr 127.0.0.1 --listen-addr 127.0.0.1:2377 >"$LOGS/swarm-init.log" 2>&1 \
  || { cat "$LOGS/swarm-init.log" >&2; say "docker swarm init failed"; exit 2; }
# Internal: no gateway, so the tasks reach each other and nothing else (not the host, not beyond).
"$DOCKER" network create --driver overlay --internal "$NETWORK" >/dev/null
# Templates are expanded by swarm per task; the image's node runs as PID 1 behind --init.
task_options=(--detach --quiet --init --restart-condition none --network "$NETWORK")
for device in "${FLEET[@]}"; do
  name=${device%%=*}
  services+=("$name")
  # dnsrr: the service name resolves to the task's own address (no virtual IP), which the emulator binds to.
  "$DOCKER" service create "${task_options[@]}" --name "$name" --hostname "$name" --endpoint-mode dnsrr --stop-grace-period 5s \
    --env "IACS_POSTURE=${device#*=}" --entrypoint /opt/iacs-probe/docker/emulator/entrypoint.sh \
    --health-cmd 'node /opt/iacs-probe/docker/emulator/healthcheck.mjs' --health-interval 2s --health-timeout 5s \
    --health-retries 30 --health-start-period 60s "$IMAGE" >/dev/null 2>>"$LOGS/services.log" \
    || { tail -n 5 "$LOGS/services.log" >&2; say "could not create the fleet service $name"; exit 2; }
done

# task_states SERVICE: the current state of each of its tasks, one word a line.
task_states() { "$DOCKER" service ps "$1" --format '{{.CurrentState}}' 2>/dev/null | awk '{ print $1 }'; }

# wait_tasks SERVICE COUNT FINAL_STATE SECONDS: until COUNT tasks are in FINAL_STATE; fails at once when one
# ends otherwise (Failed, Rejected, Shutdown, Complete for a device), and after SECONDS.
wait_tasks() {
  local service=$1 count=$2 want=$3 seconds=$4 states i
  for ((i = 0; i < seconds * 2; i++)); do
    states=$(task_states "$service")
    if echo "$states" | grep -qE '^(Failed|Rejected|Shutdown|Orphaned)$' || { [ "$want" = Running ] && echo "$states" | grep -qx Complete; }; then
      say "$service: a task ended: $(echo "$states" | sort | uniq -c | tr -s ' \n' ' ')"
      "$DOCKER" service ps --no-trunc "$service" >&2 || true
      return 1
    fi
    [ "$(echo "$states" | grep -cx "$want")" -ge "$count" ] && return 0
    sleep 0.5
  done
  say "$service: not $want after $seconds s: $(echo "$states" | sort | uniq -c | tr -s ' \n' ' ')"
  return 1
}

for name in "${services[@]}"; do
  wait_tasks "$name" 1 Running 180 || { say "the fleet did not come up (the task is Running once its healthcheck passed)"; exit 2; }
done
record "swarm init, fleet up (${#FLEET[@]} devices)" "$t"

# --- the whole run and the shards, as replicated jobs --------------------------------------------------------
# run_job NAME REPLICAS SECONDS SHELL_COMMAND: one replicated-job service, every task with /evidence bound.
run_job() {
  local name=$1 replicas=$2 seconds=$3 command=$4
  services+=("$name")
  "$DOCKER" service create "${task_options[@]}" --name "$name" --mode replicated-job --replicas "$replicas" \
    --max-concurrent "$max_concurrent" --env 'IACS_SWARM_SLOT={{.Task.Slot}}' --env "IACS_SHARDS=$shards" \
    --mount "type=bind,src=$EVIDENCE,dst=/evidence" --entrypoint sh "$IMAGE" -c "$command" >/dev/null 2>>"$LOGS/services.log" \
    || { tail -n 5 "$LOGS/services.log" >&2; say "could not create the job $name"; return 1; }
  wait_tasks "$name" "$replicas" Complete "$seconds"
  local ids
  ids=$("$DOCKER" service ps -q "$name")
  # shellcheck disable=SC2086
  "$DOCKER" inspect --format "$name {{.Slot}} {{.Status.State}} exit={{.Status.ContainerStatus.ExitCode}}" $ids >>"$LOGS/tasks.txt"
}

# A run ends 0, 1 or 2 with its folder written (its verdicts are what the merge joins); 3 (usage, a folder
# already there) fails the task. Output, exit code and folder go to /evidence.
run_script() { # run_script NAME RUN_OPTIONS
  echo "iacs-probe run $PROFILE --only $ONLY $2 --out /evidence/$1 >/evidence/$1.log 2>&1; rc=\$?; echo \$rc >/evidence/$1.exit; [ \$rc -le 2 ]"
}

t=$(mark)
say "the whole fleet in one task"
run_job iacs-whole 1 600 "$(run_script whole '')" || { say "the whole run failed (see $EVIDENCE/whole.log)"; exit 2; }
record "whole run (1 task)" "$t"

t=$(mark)
say "$shards shards as replicated-job tasks, $max_concurrent at a time"
# The task's slot is its shard: swarm numbers a replicated job's tasks 0..N-1 (docker/bin/swarm-shard-index
# says how slot 0 looks).
shard_command='index=$(/opt/iacs-probe/docker/bin/swarm-shard-index "$IACS_SWARM_SLOT"); '$(run_script 'shard-$index' '--shard $index/$IACS_SHARDS')
run_job iacs-shards "$shards" 900 "$shard_command" || { say "a shard task failed (logs in $EVIDENCE)"; exit 2; }
record "$shards shards ($max_concurrent at a time)" "$t"

# --- merge, verify, compare (a container without network) -------------------------------------------------
t=$(mark)
shard_dirs=$(for ((i = 0; i < shards; i++)); do printf '/evidence/shard-%d ' "$i"; done)
set +e
"$DOCKER" run --rm --network none --mount "type=bind,src=$EVIDENCE,dst=/evidence" --entrypoint sh "$IMAGE" -c "
  iacs-probe merge $shard_dirs --out /evidence/merged >/evidence/merged.log 2>&1; echo \$? >/evidence/merged.exit
  iacs-probe verify /evidence/merged >>/evidence/merged.log 2>&1 || exit 2
  node /opt/iacs-probe/docker/harness/compare-assessments.mjs /evidence/whole /evidence/merged" >"$LOGS/compare.txt" 2>&1
compare_rc=$?
set -e
record "merge, verify, compare" "$t"
cat "$LOGS/compare.txt"
whole_exit=$(cat "$EVIDENCE/whole.exit" 2>/dev/null || echo none)
merged_exit=$(cat "$EVIDENCE/merged.exit" 2>/dev/null || echo none)
say "exit codes: whole run $whole_exit, merge $merged_exit; shards: $(for ((i = 0; i < shards; i++)); do printf '%s ' "$(cat "$EVIDENCE/shard-$i.exit" 2>/dev/null || echo none)"; done)"
case "$compare_rc" in
  0) if [ "$whole_exit" = "$merged_exit" ]; then final_rc=0; say "the merged report equals the whole run's"; else final_rc=1; say "merge exited $merged_exit, the whole run $whole_exit"; fi ;;
  1) final_rc=1; say "the merged report differs from the whole run's (above)" ;;
  *) final_rc=2; say "merge, verify or compare failed (see $EVIDENCE/merged.log, $LOGS/compare.txt)" ;;
esac
exit "$final_rc"
