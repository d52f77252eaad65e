# shellcheck shell=bash
# The private Docker engine of the Docker kit (docs/docker.md), shared by docker/regress.sh and
# docker/swarm-shards.sh: install the packages, take the kit's lock, record the machine's state, start a
# dockerd of our own (its own socket, exec root, data root and cgroup parent; no default bridge, no
# iptables, no forwarding), stop it and remove everything it made, and prove the machine is as before.
#
# Sourced, not run. The caller defines `say` (its messages) and sets before sourcing:
#   LOGS               folder for apt.log, dockerd.log, host-before.txt, host-after.txt, host-diff.txt
#   dockerd_iptables   1: let dockerd manage iptables (the teardown removes what it adds either way)
#   fresh              1: start with an empty image store (the cached base file system is kept)
# It sets DOCKER (Debian's client when present), DOCKER_HOST (exported, once the engine runs),
# dockerd_pid, engine_started, and uses the state folder $IACS_DOCKER_STATE (/var/cache/iacs-probe/docker).

CGROUP_PARENT=iacs-probe-regress   # containers' cgroups: /sys/fs/cgroup/<controller>/iacs-probe-regress/<id>
STATE_DIR=${IACS_DOCKER_STATE:-/var/cache/iacs-probe/docker}
RUN_DIR=/run/iacs-probe-docker.$$
DATA_DIR="$STATE_DIR/data"
BEFORE="$LOGS/host-before.txt"
AFTER="$LOGS/host-after.txt"
DOCKER=$( [ -x /usr/bin/docker ] && echo /usr/bin/docker || command -v docker || true )
dockerd_pid=""
engine_started=0

# --- timing -------------------------------------------------------------------------------------------
mark() { date +%s%N; }
declare -a TIMINGS=()
# record LABEL START: appends "LABEL  12.3 s" (elapsed since START, from mark) to the timings.
record() { local ms=$(( ($(mark) - $2) / 1000000 )); TIMINGS+=("$(printf '%-44s %5d.%01d s' "$1" $((ms / 1000)) $((ms % 1000 / 100)))"); }

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

# --- the machine's state, before and after ----------------------------------------------------------
host_state() {
  echo "ipv4.ip_forward $(cat /proc/sys/net/ipv4/ip_forward)"
  echo "ipv6.forwarding $(cat /proc/sys/net/ipv6/conf/all/forwarding 2>/dev/null || echo -)"
  local f
  for f in /proc/sys/net/bridge/bridge-nf-call-iptables /proc/sys/net/bridge/bridge-nf-call-ip6tables; do
    [ -e "$f" ] && echo "${f##*/} $(cat "$f")"
  done
  # Docker's links: its bridges (swarm's docker_gwbridge too) and the host ends of container veths.
  ip -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | grep -E '^(docker[0-9]+|docker_gwbridge|br-[0-9a-f]{12}|veth[0-9a-f]{7})$' | sed 's/^/link /' || true
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
  # A swarm the engine is still part of would come back with the next engine on this data root.
  [ -n "$(ls -A "$DATA_DIR/swarm" 2>/dev/null)" ] && echo "swarm state in $DATA_DIR/swarm"
  true
}

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

restore_sysctls() {
  # ip_forward (swarm and dockerd with iptables set it to 1), IPv6 forwarding, bridge-nf: as BEFORE recorded.
  local key value
  while read -r key value; do
    case "$key" in
      ipv4.ip_forward) [ "$(cat /proc/sys/net/ipv4/ip_forward)" = "$value" ] || echo "$value" >/proc/sys/net/ipv4/ip_forward ;;
      ipv6.forwarding) [ "$value" = - ] || [ "$(cat /proc/sys/net/ipv6/conf/all/forwarding)" = "$value" ] || echo "$value" >/proc/sys/net/ipv6/conf/all/forwarding ;;
      bridge-nf-call-*) [ "$(cat "/proc/sys/net/bridge/$key")" = "$value" ] || echo "$value" >"/proc/sys/net/bridge/$key" ;;
    esac
  done < <(grep -E '^(ipv4|ipv6|bridge-nf)' "$BEFORE")
}

# --- the engine ----------------------------------------------------------------------------------------
# engine_lock WAIT_SECONDS: one user of the kit's data root at a time (regress.sh, swarm-shards.sh); 0 = fail
# at once when another holds it. The lock is file descriptor 9, held until the script exits.
engine_lock() {
  local lock=/run/lock/iacs-probe-regress.lock
  [ -d /run/lock ] && [ -w /run/lock ] || lock=/tmp/iacs-probe-regress.lock
  exec 9>"$lock"
  if [ "${1:-0}" = 0 ]; then flock -n 9; else flock -w "$1" 9; fi
}

# engine_prepare: refuses a dockerd left on our data root by a killed run, then records the machine's state.
engine_prepare() {
  # A dockerd left over from a run that was killed (SIGKILL leaves no trap) would share the data root.
  local stale
  stale=$(pgrep -f -- "--data-root $DATA_DIR( |$)" || true)
  if [ -n "$stale" ]; then
    say "a dockerd on $DATA_DIR is still running (pid $(echo $stale | tr '\n' ' ')), probably from a killed run;"
    say "  stop it (kill <pid>), then remove what it left (see docs/docker.md, the trap's list)"
    return 2
  fi
  host_state >"$BEFORE"
  if grep -q '^dockerd running' "$BEFORE"; then
    say "note: another dockerd is running on this machine; it is left alone"
  fi
}

# engine_start: the private dockerd; exports DOCKER_HOST once it answers.
engine_start() {
  if [ "$fresh" = 1 ] && [ -d "$DATA_DIR" ]; then
    if awk -v d="$DATA_DIR" 'index($5, d) == 1 { found = 1 } END { exit !found }' /proc/self/mountinfo; then
      say "something is mounted under $DATA_DIR; not wiping it"; return 2
    fi
    rm -rf "$DATA_DIR"
  fi
  mkdir -p "$RUN_DIR" "$DATA_DIR"
  echo '{}' >"$RUN_DIR/daemon.json"
  local iptables_flags=(--iptables=false --ip-forward=false --ip-masq=false)
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
    kill -0 "$dockerd_pid" 2>/dev/null || { tail -n 20 "$LOGS/dockerd.log" >&2; say "dockerd exited"; return 2; }
    sleep 0.1
  done
  "$DOCKER" version >/dev/null 2>&1 || { say "dockerd did not answer in 30 s"; return 2; }
}

# engine_stop: stops our dockerd and removes everything it made (the caller removed its containers first).
engine_stop() {
  if [ "$engine_started" = 1 ] && "$DOCKER" version >/dev/null 2>&1; then
    # A swarm (docker/swarm-shards.sh) is left before the engine stops: its state would otherwise come back
    # with the next engine on this data root, and so would docker_gwbridge, which the engine keeps in its
    # network store.
    if [ "$("$DOCKER" info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null)" != inactive ]; then
      timeout 60 "$DOCKER" swarm leave --force >/dev/null 2>&1 || true
    fi
    if "$DOCKER" network inspect docker_gwbridge >/dev/null 2>&1; then
      timeout 30 "$DOCKER" network rm docker_gwbridge >/dev/null 2>&1 || true
    fi
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
  # Mounts under the engine's folders, deepest first (overlays, shm, the network namespaces of the
  # default netns and of swarm's ingress and overlay networks, all under the exec root).
  awk -v r="$RUN_DIR" -v d="$DATA_DIR" 'index($5, r) == 1 || index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r | while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done
  rm -rf "$RUN_DIR"
  # A swarm that could not be left: its state must not outlive this run (the engine is stopped now).
  [ -d "$DATA_DIR/swarm" ] && find "$DATA_DIR/swarm" -mindepth 1 -delete 2>/dev/null
  # Links docker made that were not there before.
  local link
  for link in $(host_state | awk '$1 == "link" { print $2 }'); do
    grep -qx "link $link" "$BEFORE" || ip link delete "$link" 2>/dev/null || true
  done
  remove_docker_chains
  restore_policies
  remove_new_nft_tables
  restore_sysctls
  # cgroup folders of our containers (and docker's default parent if it was not there before).
  local c
  for c in /sys/fs/cgroup/*/"$CGROUP_PARENT" /sys/fs/cgroup/"$CGROUP_PARENT" /sys/fs/cgroup/*/docker; do
    [ -d "$c" ] || continue
    grep -qx "cgroup $c" "$BEFORE" && continue
    find "$c" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
}

# engine_check_machine: the state after must equal the state before; prints the difference and returns 2 if not.
engine_check_machine() {
  host_state >"$AFTER"
  if ! diff -u "$BEFORE" "$AFTER" >"$LOGS/host-diff.txt"; then
    say "the machine is NOT as before the run:"
    cat "$LOGS/host-diff.txt" >&2
    return 2
  fi
  say "machine restored: no dockerd, no docker bridges or chains, ip_forward $(awk '$1 == "ipv4.ip_forward" { print $2 }' "$AFTER") as before"
  rm -f "$LOGS/host-diff.txt"
}

# --- steps that a signal can stop ----------------------------------------------------------------------
# Long steps run in the background with `wait`, so that a signal to the script alone (a CI job being
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
