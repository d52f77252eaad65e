#!/usr/bin/env bash
# The Docker regression of iacs-probe, end to end (docs/docker.md):
#   install docker.io, docker-compose and debootstrap if missing; start a private dockerd; build (once) a
#   local Debian base with this machine's Node; build the images; `docker-compose up --exit-code-from
#   harness`; keep the evidence; tear everything down in a trap, on success and on failure, and prove that
#   the machine is as before (no dockerd, no bridges, no docker chains, ip_forward as it was).
#
# usage: docker/regress.sh [--update-baseline] [--allow-improvements] [--break TARGET] [--out DIR]
#                          [--engine own|existing] [--base-image IMAGE] [--dockerd-iptables] [--fresh]
#                          [--compose-override FILE]
#
#   --update-baseline     store the new runs as baselines in docker/baselines/ (refused when a target misses
#                         its expectation or a run has errors)
#   --allow-improvements  a difference from a baseline that is not worse passes (default: any difference fails)
#   --break TARGET        deliberately change a target's posture to see the gate close (exit 1):
#                         eplc-hardened (runs the weak posture) or openssh-hardened (runs the weak sshd config)
#   --out DIR             where the evidence goes (default runs/docker-<UTC time>)
#   --engine own          (default) start and stop a private dockerd; needs root; installs packages with apt-get
#   --engine existing     use the engine DOCKER_HOST (or the default socket) names; nothing is installed,
#                         started or stopped, and the base defaults to node:20-bookworm-slim (a registry is needed)
#   --base-image IMAGE    build every image FROM this image instead of the local Debian base
#   --dockerd-iptables    let the private dockerd manage iptables (by default it touches none; the trap
#                         removes whatever docker adds either way)
#   --compose-override F  also read this compose file (e.g. docker/compose.public.yaml: public images)
#   --fresh               start the private engine with an empty image store (no layer cache; the cached
#                         base file system is kept). Engine data: $IACS_DOCKER_STATE (/var/cache/iacs-probe/docker)
#
# Exit status: 0 every target as its baseline; 1 a regression; 2 errors (a run, the build, the engine, or
# the machine not restored after the run); 3 usage.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
COMPOSE_FILE="$ROOT/docker/compose.yaml"
PROJECT=iacs-regress
CGROUP_PARENT=iacs-probe-regress   # containers' cgroups: /sys/fs/cgroup/<controller>/iacs-probe-regress/<id>
STATE_DIR=${IACS_DOCKER_STATE:-/var/cache/iacs-probe/docker}
BREAKABLE=(eplc-hardened openssh-hardened)

update_baseline=0 allow_improvements=0 break_target="" out="" engine=own base_image="" dockerd_iptables=0 fresh=0
overrides=()
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//' >&2; exit "${1:-3}"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --update-baseline) update_baseline=1 ;;
    --allow-improvements) allow_improvements=1 ;;
    --break) break_target=${2:-}; shift ;;
    --out) out=${2:-}; shift ;;
    --engine) engine=${2:-}; shift ;;
    --base-image) base_image=${2:-}; shift ;;
    --dockerd-iptables) dockerd_iptables=1 ;;
    --fresh) fresh=1 ;;
    --compose-override) overrides+=(-f "$(cd "$(dirname "${2:?}")" && pwd)/$(basename "$2")"); shift ;;
    -h|--help) usage 0 ;;
    *) echo "regress: unknown option $1" >&2; usage ;;
  esac
  shift
done
case "$engine" in own|existing) ;; *) echo "regress: --engine must be own or existing" >&2; exit 3 ;; esac
if [ -n "$break_target" ] && [[ " ${BREAKABLE[*]} " != *" $break_target "* ]]; then
  echo "regress: --break takes one of: ${BREAKABLE[*]}" >&2; exit 3
fi
if [ "$update_baseline" = 1 ] && [ -n "$break_target" ]; then
  echo "regress: --update-baseline with --break would store a broken baseline" >&2; exit 3
fi
[ "$engine" = existing ] && [ -z "$base_image" ] && base_image=node:20-bookworm-slim
if [ "$engine" = own ] && [ "$(id -u)" != 0 ]; then
  echo "regress: --engine own needs root (it starts dockerd); use --engine existing with a running Docker" >&2; exit 3
fi

out=${out:-$ROOT/runs/docker-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$out"
out=$(cd "$out" && pwd)
if [ -n "$(ls -A "$out")" ]; then echo "regress: $out is not empty" >&2; exit 3; fi
LOGS="$out/regress"
mkdir -p "$LOGS"

# --- timing -------------------------------------------------------------------------------------------
mark() { date +%s%N; }
T0=$(mark)
declare -a TIMINGS=()
# record LABEL START: appends "LABEL  12.3 s" (elapsed since START, from mark) to the timings.
record() { local ms=$(( ($(mark) - $2) / 1000000 )); TIMINGS+=("$(printf '%-44s %5d.%01d s' "$1" $((ms / 1000)) $((ms % 1000 / 100)))"); }
say() { echo "regress: $*" >&2; }

# --- tools --------------------------------------------------------------------------------------------
ensure_packages() {
  local missing=() p
  local wanted=(docker.io docker-compose debootstrap)
  [ "$dockerd_iptables" = 1 ] && wanted+=(nftables)
  for p in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing ${missing[*]}"
  # No service may start during the installation (docker.io's maintainer scripts would start a dockerd
  # with the default bridge and iptables): policy-rc.d says no, unless the machine already has one.
  local policy=/usr/sbin/policy-rc.d own_policy=0
  if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod 755 "$policy"; own_policy=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$LOGS/apt.log" 2>&1
  local rc=$?
  [ "$own_policy" = 1 ] && rm -f "$policy"
  return $rc
}

if [ "$engine" = own ]; then
  t=$(mark); ensure_packages || { echo "regress: package installation failed (see $LOGS/apt.log)" >&2; exit 2; }; record "install packages (if missing)" "$t"
fi
DOCKER=$( [ -x /usr/bin/docker ] && echo /usr/bin/docker || command -v docker || true )
[ -n "$DOCKER" ] || { echo "regress: no docker client" >&2; exit 2; }
if command -v docker-compose >/dev/null; then COMPOSE=(docker-compose); else COMPOSE=("$DOCKER" compose); fi
export DOCKER
COMPOSE_ARGS=(-p "$PROJECT" -f "$COMPOSE_FILE" "${overrides[@]}")
compose() { "${COMPOSE[@]}" "${COMPOSE_ARGS[@]}" "$@"; }

# --- the machine's state, before and after ----------------------------------------------------------
RUN_DIR=/run/iacs-probe-docker.$$
DATA_DIR="$STATE_DIR/data"
host_state() {
  echo "ipv4.ip_forward $(cat /proc/sys/net/ipv4/ip_forward)"
  echo "ipv6.forwarding $(cat /proc/sys/net/ipv6/conf/all/forwarding 2>/dev/null || echo -)"
  local f
  for f in /proc/sys/net/bridge/bridge-nf-call-iptables /proc/sys/net/bridge/bridge-nf-call-ip6tables; do
    [ -e "$f" ] && echo "${f##*/} $(cat "$f")"
  done
  # Docker's links: its bridges and the host ends of container veths.
  ip -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | grep -E '^(docker[0-9]+|br-[0-9a-f]{12}|veth[0-9a-f]{7})$' | sed 's/^/link /' || true
  # Docker's chains and every non-ACCEPT policy, in each iptables flavour present.
  local tool
  for tool in iptables-nft-save ip6tables-nft-save iptables-legacy-save ip6tables-legacy-save; do
    command -v "$tool" >/dev/null || continue
    "$tool" 2>/dev/null | awk -v t="$tool" '
      /^\*/ { table = substr($0, 2) }
      /^:/ { split(substr($0, 2), c, " "); if (c[1] ~ /^DOCKER/ || (c[2] != "-" && c[2] != "ACCEPT")) print "chain " t " " table " " c[1] " " c[2] }
      /^-A/ && /DOCKER/ { print "rule " t " " table " " $0 }' || true
  done
  # Tables of the nf_tables flavour (dockerd with iptables creates ip filter and ip nat; they outlive it).
  command -v iptables-nft-save >/dev/null && iptables-nft-save 2>/dev/null | sed -n 's/^\*/nft-table ip /p'
  command -v ip6tables-nft-save >/dev/null && ip6tables-nft-save 2>/dev/null | sed -n 's/^\*/nft-table ip6 /p'
  pgrep -f -- "$RUN_DIR" | sed 's/^/process /' || true
  pgrep -x dockerd >/dev/null && echo "dockerd running: $(pgrep -x dockerd | tr '\n' ' ')"
  awk -v r="$RUN_DIR" -v d="$DATA_DIR" 'index($5, r) == 1 || index($5, d) == 1 { print "mount " $5 }' /proc/self/mountinfo
  local c
  for c in /sys/fs/cgroup/*/"$CGROUP_PARENT" /sys/fs/cgroup/*/docker /sys/fs/cgroup/"$CGROUP_PARENT"; do
    [ -d "$c" ] && echo "cgroup $c"
  done
  true
}

BEFORE="$LOGS/host-before.txt"
AFTER="$LOGS/host-after.txt"
dockerd_pid=""
engine_started=0
final_rc=2

remove_docker_chains() {
  # Only what docker adds: jumps to DOCKER* chains in the built-in chains, then the DOCKER* chains.
  local tool table
  for tool in iptables-nft ip6tables-nft iptables-legacy ip6tables-legacy; do
    command -v "$tool" >/dev/null || continue
    for table in filter nat mangle raw; do
      "${tool}-save" -t "$table" 2>/dev/null | grep -E '^-A [A-Z]+ .*-j DOCKER' | sed 's/^-A /-D /' | while read -r rule; do
        eval "$tool -t $table $rule" 2>/dev/null || true
      done
      "${tool}-save" -t "$table" 2>/dev/null | awk '/^:DOCKER/ { print substr($1, 2) }' | while read -r chain; do
        "$tool" -t "$table" -F "$chain" 2>/dev/null || true
      done
      "${tool}-save" -t "$table" 2>/dev/null | awk '/^:DOCKER/ { print substr($1, 2) }' | while read -r chain; do
        "$tool" -t "$table" -X "$chain" 2>/dev/null || true
      done
    done
  done
}

restore_policies() {
  # dockerd may set FORWARD to DROP; put every built-in chain's policy back to what BEFORE recorded.
  local tool table chain policy now
  for tool in iptables-nft ip6tables-nft iptables-legacy ip6tables-legacy; do
    command -v "$tool" >/dev/null || continue
    "${tool}-save" 2>/dev/null | awk '/^\*/ { t = substr($0, 2) } /^:[A-Z]+ [A-Z]+/ { print t, substr($1, 2), $2 }' | while read -r table chain policy; do
      now=$(grep -E "^chain ${tool}-save ${table} ${chain} " "$BEFORE" | awk '{ print $5 }')
      [ "$policy" = "${now:-ACCEPT}" ] || "$tool" -t "$table" -P "$chain" "${now:-ACCEPT}" 2>/dev/null || true
    done
  done
}

remove_new_nft_tables() {
  # Tables that did not exist before and are empty now (no rule left) are removed with nft (package
  # nftables, installed with --dockerd-iptables); iptables-nft cannot delete a table.
  local family table save
  host_state | awk '$1 == "nft-table" { print $2, $3 }' | while read -r family table; do
    grep -qx "nft-table $family $table" "$BEFORE" && continue
    save=iptables-nft-save; [ "$family" = ip6 ] && save=ip6tables-nft-save
    "$save" -t "$table" 2>/dev/null | grep -q '^-A ' && continue
    command -v nft >/dev/null && nft delete table "$family" "$table" 2>/dev/null || true
  done
}

teardown_engine() {
  local t; t=$(mark)
  if [ "$engine_started" = 1 ] && "$DOCKER" version >/dev/null 2>&1; then
    timeout 120 "${COMPOSE[@]}" "${COMPOSE_ARGS[@]}" down --volumes --remove-orphans --timeout 5 >>"$LOGS/compose.log" 2>&1 || true
    # Keep the layer cache for the next run, but not dangling images.
    timeout 60 "$DOCKER" image prune --force >/dev/null 2>&1 || true
  fi
  if [ -n "$dockerd_pid" ] && kill -0 "$dockerd_pid" 2>/dev/null; then
    kill -TERM "$dockerd_pid" 2>/dev/null || true
    local i
    for i in $(seq 1 300); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$dockerd_pid" 2>/dev/null && { say "dockerd did not stop in 30 s: SIGKILL"; kill -KILL "$dockerd_pid" 2>/dev/null || true; sleep 0.5; }
  fi
  # Anything still running from our engine's folders (containerd, shims): by pid, never by name.
  local pid
  for pid in $(pgrep -f -- "$RUN_DIR" || true); do kill -KILL "$pid" 2>/dev/null || true; done
  # Mounts under the engine's folders, deepest first (overlays, shm, the nsfs of the default netns).
  awk -v r="$RUN_DIR" -v d="$DATA_DIR" 'index($5, r) == 1 || index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r | while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done
  rm -rf "$RUN_DIR"
  # Links docker made that were not there before.
  local link
  for link in $(host_state | awk '$1 == "link" { print $2 }'); do
    grep -qx "link $link" "$BEFORE" || ip link delete "$link" 2>/dev/null || true
  done
  remove_docker_chains
  restore_policies
  remove_new_nft_tables
  # sysctls back to their values before the run.
  local key value
  while read -r key value; do
    case "$key" in
      ipv4.ip_forward) [ "$(cat /proc/sys/net/ipv4/ip_forward)" = "$value" ] || echo "$value" >/proc/sys/net/ipv4/ip_forward ;;
      ipv6.forwarding) [ "$value" = - ] || [ "$(cat /proc/sys/net/ipv6/conf/all/forwarding)" = "$value" ] || echo "$value" >/proc/sys/net/ipv6/conf/all/forwarding ;;
      bridge-nf-call-*) [ "$(cat "/proc/sys/net/bridge/$key")" = "$value" ] || echo "$value" >"/proc/sys/net/bridge/$key" ;;
    esac
  done < <(grep -E '^(ipv4|ipv6|bridge-nf)' "$BEFORE")
  # cgroup folders of our containers (and docker's default parent if it was not there before).
  local c
  for c in /sys/fs/cgroup/*/"$CGROUP_PARENT" /sys/fs/cgroup/"$CGROUP_PARENT" /sys/fs/cgroup/*/docker; do
    [ -d "$c" ] || continue
    grep -qx "cgroup $c" "$BEFORE" && continue
    find "$c" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
  record "teardown" "$t"
}

finish() {
  final_rc=$?
  set +e
  trap - EXIT INT TERM HUP
  if [ "$engine" = own ]; then
    teardown_engine
    host_state >"$AFTER"
    if ! diff -u "$BEFORE" "$AFTER" >"$LOGS/host-diff.txt"; then
      echo "regress: the machine is NOT as before the run:" >&2
      cat "$LOGS/host-diff.txt" >&2
      final_rc=2
    else
      say "machine restored: no dockerd, no docker bridges or chains, ip_forward $(awk '$1 == "ipv4.ip_forward" { print $2 }' "$AFTER") as before"
      rm -f "$LOGS/host-diff.txt"
    fi
  elif [ "$engine_started" = 1 ]; then
    local t; t=$(mark)
    timeout 120 "${COMPOSE[@]}" "${COMPOSE_ARGS[@]}" down --volumes --remove-orphans --timeout 5 >>"$LOGS/compose.log" 2>&1 || true
    record "teardown" "$t"
  fi
  record "total" "$T0"
  printf '%s\n' "${TIMINGS[@]}" | tee "$LOGS/timings.txt" >&2
  say "evidence: $out (exit $final_rc)"
  exit "$final_rc"
}

# --- the engine ----------------------------------------------------------------------------------------
lock=/run/lock/iacs-probe-regress.lock
[ -d /run/lock ] && [ -w /run/lock ] || lock=/tmp/iacs-probe-regress.lock
exec 9>"$lock"
flock -n 9 || { echo "regress: another docker/regress.sh is running" >&2; exit 2; }

if [ "$engine" = own ]; then
  # A dockerd left over from a run that was killed (SIGKILL leaves no trap) would share the data root.
  stale=$(pgrep -f -- "--data-root $DATA_DIR( |$)" || true)
  if [ -n "$stale" ]; then
    echo "regress: a dockerd on $DATA_DIR is still running (pid $(echo $stale | tr '\n' ' ')), probably from a killed run;" >&2
    echo "         stop it (kill <pid>), then remove what it left (see docs/docker.md, the trap's list)" >&2
    exit 2
  fi
  host_state >"$BEFORE"
  if grep -q '^dockerd running' "$BEFORE"; then
    say "note: another dockerd is running on this machine; it is left alone"
  fi
fi
# Long steps run in the background with `wait`, so that a signal to this script alone (a CI job being
# cancelled) is handled at once: the step is stopped, then the EXIT trap tears everything down.
# step OUT ERR COMMAND...: runs COMMAND with stdout to OUT and stderr appended to ERR (both appended when
# they are the same file). Not a redirection on the call: that would also redirect the trap's messages
# when a signal arrives during the wait.
child=""
step() {
  # (Names of their own: the trap may run while these locals are in scope.)
  local step_out=$1 step_err=$2 step_rc=0
  shift 2
  if [ "$step_out" = "$step_err" ]; then "$@" >>"$step_out" 2>&1 & else "$@" >"$step_out" 2>>"$step_err" & fi
  child=$!
  wait "$child" || step_rc=$?
  child=""
  return "$step_rc"
}
on_signal() { say "interrupted ($1): tearing down"; [ -z "$child" ] || kill -TERM "$child" 2>/dev/null || true; exit 2; }
trap finish EXIT
trap 'on_signal INT' INT
trap 'on_signal TERM' TERM
trap 'on_signal HUP' HUP

if [ "$engine" = own ]; then
  t=$(mark)
  if [ "$fresh" = 1 ] && [ -d "$DATA_DIR" ]; then
    if awk -v d="$DATA_DIR" 'index($5, d) == 1 { found = 1 } END { exit !found }' /proc/self/mountinfo; then
      echo "regress: something is mounted under $DATA_DIR; not wiping it" >&2; exit 2
    fi
    rm -rf "$DATA_DIR"
  fi
  mkdir -p "$RUN_DIR" "$DATA_DIR"
  echo '{}' >"$RUN_DIR/daemon.json"
  iptables_flags=(--iptables=false --ip-forward=false --ip-masq=false)
  [ "$dockerd_iptables" = 1 ] && iptables_flags=(--iptables=true)
  # No default bridge (builds use the host network), no iptables, no forwarding, containers under a
  # cgroup parent of their own; our own config file, so the machine's daemon.json cannot interfere.
  dockerd --host "unix://$RUN_DIR/docker.sock" --data-root "$DATA_DIR" --exec-root "$RUN_DIR/exec" \
    --pidfile "$RUN_DIR/docker.pid" --config-file "$RUN_DIR/daemon.json" --bridge=none "${iptables_flags[@]}" \
    --cgroup-parent="/$CGROUP_PARENT" --log-level=warn >"$LOGS/dockerd.log" 2>&1 9>&- &
  dockerd_pid=$!
  engine_started=1
  export DOCKER_HOST="unix://$RUN_DIR/docker.sock"
  for _ in $(seq 1 300); do
    "$DOCKER" version >/dev/null 2>&1 && break
    kill -0 "$dockerd_pid" 2>/dev/null || { tail -n 20 "$LOGS/dockerd.log" >&2; echo "regress: dockerd exited" >&2; exit 2; }
    sleep 0.1
  done
  "$DOCKER" version >/dev/null 2>&1 || { echo "regress: dockerd did not answer in 30 s" >&2; exit 2; }
  record "start dockerd" "$t"
else
  "$DOCKER" version >/dev/null 2>&1 || { echo "regress: no Docker engine answers (DOCKER_HOST=${DOCKER_HOST:-default})" >&2; exit 2; }
  engine_started=1
fi

# Leftovers of an interrupted run would clash with this one.
compose down --volumes --remove-orphans --timeout 5 >>"$LOGS/compose.log" 2>&1 || true

# --- images --------------------------------------------------------------------------------------------
t=$(mark)
if [ -z "$base_image" ]; then
  step "$LOGS/base-tag.txt" "$LOGS/base.log" "$ROOT/docker/base/make-base.sh" && base_image=$(cat "$LOGS/base-tag.txt") || { tail -n 20 "$LOGS/base.log" >&2; echo "regress: base image failed" >&2; exit 2; }
fi
export IACS_BASE_IMAGE="$base_image"
record "base image ($base_image)" "$t"

t=$(mark)
say "building images FROM $IACS_BASE_IMAGE (log: $LOGS/build.log)"
step "$LOGS/build.log" "$LOGS/build.log" compose build || { tail -n 40 "$LOGS/build.log" >&2; echo "regress: image build failed" >&2; exit 2; }
record "build images" "$t"
# Bases of earlier inputs (another Node, another script) are of no further use once the images are rebuilt.
for old in $("$DOCKER" images --format '{{.Repository}}:{{.Tag}}' iacs-probe-base 2>/dev/null); do
  [ "$old" = "$IACS_BASE_IMAGE" ] || "$DOCKER" rmi "$old" >/dev/null 2>&1 || true
done
"$DOCKER" images --format '{{.Repository}}:{{.Tag}} {{.Size}}' 2>/dev/null | grep -E '^iacs-probe' >"$LOGS/images.txt" || true

# --- the run -------------------------------------------------------------------------------------------
export IACS_REGRESS_UPDATE_BASELINE=$update_baseline IACS_REGRESS_ALLOW_IMPROVEMENTS=$allow_improvements
case "$break_target" in
  eplc-hardened) export IACS_POSTURE_EPLC_HARDENED=weak; say "--break: eplc-hardened runs the weak posture" ;;
  openssh-hardened) export IACS_POSTURE_OPENSSH_HARDENED=weak; say "--break: openssh-hardened runs the weak sshd config" ;;
esac
t=$(mark)
say "docker-compose up (targets, then the harness once they are healthy)"
set +e
step "$LOGS/compose.log" "$LOGS/compose.log" compose up --no-build --no-color --exit-code-from harness
compose_rc=$?
set -e
compose logs --no-color >"$LOGS/containers.log" 2>&1 || true
record "compose up + assessment" "$t"
# The evidence, out of the harness container (its `evidence` volume) into $out.
harness_id=$(compose ps -a -q harness 2>/dev/null || true)
[ -z "$harness_id" ] || "$DOCKER" cp "$harness_id:/evidence/." "$out/" 2>>"$LOGS/compose.log" || say "could not copy the evidence out of the harness container"

if [ ! -f "$out/summary.json" ]; then
  tail -n 30 "$LOGS/compose.log" >&2
  echo "regress: the harness left no summary (compose exit $compose_rc)" >&2
  final_rc=2
  exit 2
fi
cat "$out/summary.txt"
harness_rc=$(sed -n 's/^  "exit": \([0-9]*\),$/\1/p' "$out/summary.json")
harness_rc=${harness_rc:-2}
[ "$harness_rc" = "$compose_rc" ] || say "note: compose exited $compose_rc, the harness summary says $harness_rc (the summary counts)"
final_rc=$harness_rc

if [ "$update_baseline" = 1 ]; then
  if [ "$final_rc" = 0 ] && [ -d "$out/baselines" ]; then
    for dir in "$out"/baselines/*/; do
      name=$(basename "$dir")
      mkdir -p "$ROOT/docker/baselines/$name"
      cp "$dir/report.json" "$ROOT/docker/baselines/$name/report.json"
    done
    say "baselines written to docker/baselines/ ($(ls "$out/baselines" | tr '\n' ' '))"
  else
    say "baselines NOT updated: the run did not meet the expectations (exit $final_rc)"
  fi
fi
exit "$final_rc"
