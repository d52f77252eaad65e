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
#                         eplc-hardened (runs the weak posture), openssh-hardened (runs the weak sshd config) or
#                         samba-hardened (runs the weak smb.conf)
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
BREAKABLE=(eplc-hardened openssh-hardened samba-hardened)

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

say() { echo "regress: $*" >&2; }
# The private engine, the machine's state before and after, steps a signal can stop (shared with
# docker/swarm-shards.sh).
# shellcheck source=lib/private-engine.sh
source "$ROOT/docker/lib/private-engine.sh"
T0=$(mark)

if [ "$engine" = own ]; then
  t=$(mark); ensure_packages || { echo "regress: package installation failed (see $LOGS/apt.log)" >&2; exit 2; }; record "install packages (if missing)" "$t"
fi
[ -n "$DOCKER" ] || { echo "regress: no docker client" >&2; exit 2; }
if command -v docker-compose >/dev/null; then COMPOSE=(docker-compose); else COMPOSE=("$DOCKER" compose); fi
export DOCKER
COMPOSE_ARGS=(-p "$PROJECT" -f "$COMPOSE_FILE" "${overrides[@]}")
compose() { "${COMPOSE[@]}" "${COMPOSE_ARGS[@]}" "$@"; }

final_rc=2

teardown_engine() {
  local t; t=$(mark)
  if [ "$engine_started" = 1 ] && "$DOCKER" version >/dev/null 2>&1; then
    timeout 120 "${COMPOSE[@]}" "${COMPOSE_ARGS[@]}" down --volumes --remove-orphans --timeout 5 >>"$LOGS/compose.log" 2>&1 || true
    # Keep the layer cache for the next run, but not dangling images.
    timeout 60 "$DOCKER" image prune --force >/dev/null 2>&1 || true
  fi
  engine_stop
  record "teardown" "$t"
}

finish() {
  final_rc=$?
  set +e
  trap - EXIT INT TERM HUP
  if [ "$engine" = own ]; then
    teardown_engine
    engine_check_machine || final_rc=2
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
engine_lock 0 || { echo "regress: another docker/regress.sh (or docker/swarm-shards.sh) is running" >&2; exit 2; }
if [ "$engine" = own ]; then
  engine_prepare || { echo "regress: not started" >&2; exit 2; }
fi
trap finish EXIT
trap 'on_signal INT' INT
trap 'on_signal TERM' TERM
trap 'on_signal HUP' HUP

if [ "$engine" = own ]; then
  t=$(mark)
  engine_start || { echo "regress: the private engine did not start" >&2; exit 2; }
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
  samba-hardened) export IACS_POSTURE_SAMBA_HARDENED=weak; say "--break: samba-hardened runs the weak smb.conf" ;;
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
