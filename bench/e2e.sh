#!/usr/bin/env bash
# End to end with Raft: 3 shoald managers (one network namespace each) and
# bench_nodesim in a 4th namespace playing NODES worker nodes that accept
# tasks and report them running without starting containers.
#
#   sudo bench/e2e.sh [BIN_DIR]               # BIN_DIR default build/bin
#
# Environment: NODES (1000), REPLICAS (100000), BASELINE (10000: the same
# flow with fewer replicas, the in-run context; 0 skips it), KILL (10 nodes
# lost), DRAIN (10 nodes drained), HEARTBEAT (the dispatcher's heartbeat
# period, default 5s as Docker's: a node is Down after 3 silent periods),
# RESTART_DELAY (unset: Docker's default 5 s, which the replacement of a
# lost node's tasks waits out), TIMEOUT (600 s per phase), PERF (1, or
# dwarf for DWARF call graphs: `perf record` on the leader during the main
# create, report in $BN_WORK/perf.txt; BN_KEEP=1 keeps it).
#
# Figures:
#   create -> running  `service create -d --replicas REPLICAS` until
#                      `service ls` says REPLICAS/REPLICAS (RunningTasks
#                      counts tasks whose reported state is RUNNING, as
#                      committed through Raft); tasks/s = REPLICAS / time
#   node loss          the simulator drops KILL nodes' sessions; time until
#                      they are Down, and until REPLICAS/REPLICAS again with
#                      no task desired running on them
#   drain              `node update --availability drain` on DRAIN nodes;
#                      time until none of their tasks is desired running
#                      and REPLICAS/REPLICAS again
# The managers are drained first, so every task goes to a simulated node.
. "$(dirname "$0")/lib.sh"
BIN=$(bn_bin_dir "${1:-}")
NODES=${NODES:-1000}
REPLICAS=${REPLICAS:-100000}
BASELINE=${BASELINE:-10000}
KILL=${KILL:-10}
DRAIN=${DRAIN:-10}
HEARTBEAT=${HEARTBEAT:-5s}
TIMEOUT=${TIMEOUT:-600}
PERF=${PERF:-0}
for b in shoald shoal bench_nodesim; do
  [ -x "$BIN/$b" ] || { echo "$b missing in $BIN" >&2; exit 1; }
done
bn_init
bn_hosts 4
ulimit -n "$(ulimit -Hn)" # the leader holds a session per simulated node
PIDS=()

sock() { echo "$BN_WORK/h$1/shoal.sock"; }
cli() { local i=$1; shift; "$BIN/shoal" -H "unix://$(sock "$i")" "$@"; }
api() { curl -sf --unix-socket "$(sock "$1")" "http://shoal$2"; }

start_shoald() {
  local i=$1
  bn_spawn "$i" "$BN_WORK/h$i/shoald.log" "$BIN/shoald" --data-root "$BN_WORK/h$i/data" \
    --exec-root "$BN_WORK/h$i/run" -H "unix://$(sock "$i")" --hostname "host$i" --log-level warn
  PIDS[$i]=$BN_LAST_PID
  bn_wait 10 "shoald $i API" cli "$i" version
}

leader_of() {
  cli "$1" node ls --format '{{.Hostname}} {{.ManagerStatus}}' 2>/dev/null |
    awk '$2 == "Leader" { sub("host", "", $1); print $1 }'
}
healthy() {
  local out
  out=$(cli "$1" node ls --format '{{.ManagerStatus}}' 2>/dev/null) || return 1
  [ "$(grep -c '^Leader$' <<<"$out")" -eq 1 ] && [ "$(grep -c '^Reachable$' <<<"$out")" -eq 2 ]
}
sims_ready() {
  [ "$(cli "$Q" node ls --format '{{.Hostname}} {{.Status}}' | awk '/^sim/ && $2 == "Ready"' | wc -l)" -ge "$1" ]
}
# REPLICAS column of service $1 as host $Q sees it: "running/desired".
replicas() { { cli "$Q" service ls --filter "name=$1" --format '{{.Replicas}}' 2>/dev/null || true; } | head -1; }
# Number of tasks of node id $1 whose desired state is running.
desired_on() {
  local f
  f=$(jq -cn --arg n "$1" '{node: [$n], "desired-state": ["running"]}')
  api "$Q" "/tasks?filters=$(jq -rn --arg f "$f" '$f|@uri')" | jq length
}
nodes_down() {
  local h st
  for h in "$@"; do
    st=$(cli "$Q" node inspect "$h" --format '{{.Status.State}}' 2>/dev/null) || return 1
    [ "$st" = down ] || return 1
  done
}
none_desired_on() {
  local id
  for id in "$@"; do [ "$(desired_on "$id")" = 0 ] || return 1; done
}
# wait_replicas NAME WANT SINCE_MS [CHECK...]: waits until NAME is WANT/WANT
# (and CHECK succeeds), printing progress every 5 s; echoes the ms since
# SINCE_MS at which that was first seen.
wait_replicas() {
  local name=$1 want=$2 since=$3 r last=0 now; shift 3
  while :; do
    r=$(replicas "$name")
    now=$(bn_now_ms)
    if [ "$r" = "$want/$want" ] && { [ $# -eq 0 ] || "$@"; }; then
      echo $((now - since)); return 0
    fi
    if [ $((now - last)) -ge 5000 ]; then
      bn_log "  $name: ${r:-?} after $(((now - since) / 1000)) s"; last=$now
    fi
    [ $((now - since)) -gt $((TIMEOUT * 1000)) ] && bn_fail "$name did not reach $want/$want within ${TIMEOUT}s (last: $r)"
    sleep 0.2
  done
}
rate() { awk -v n="$1" -v ms="$2" 'BEGIN { printf "%.0f", (ms > 0 ? n * 1000 / ms : 0) }'; }

# ----------------------------------------------------------- cluster ----
bn_log "3 shoald managers, $NODES simulated nodes"
for i in 1 2 3; do start_shoald "$i"; done
cli 1 swarm init --advertise-addr "$(bn_ip 1)" --dispatcher-heartbeat "$HEARTBEAT" >/dev/null
MTOKEN=$(cli 1 swarm join-token -q manager)
WTOKEN=$(cli 1 swarm join-token -q worker)
voters_added() { [ "$(grep -c 'manager joined raft as voter' "$BN_WORK/h1/shoald.log")" -ge "$1" ]; }
for i in 2 3; do
  cli "$i" swarm join --token "$MTOKEN" --advertise-addr "$(bn_ip "$i")" "$(bn_ip 1):2377" >/dev/null
done
bn_wait 60 "3 healthy managers" healthy 1
LEADER=$(leader_of 1)
Q=$(( LEADER % 3 + 1 )) # queries go to a follower, off the leader's CPU
for i in 1 2 3; do cli 1 node update --availability drain "host$i" >/dev/null; done

SIMLOG="$BN_WORK/h4/nodesim.log"
bn_spawn 4 "$SIMLOG" "$BIN/bench_nodesim" --managers "$(bn_ip 1):2377,$(bn_ip 2):2377,$(bn_ip 3):2377" \
  --token "$WTOKEN" -n "$NODES" --kill "$KILL" --stats
SIM=$BN_LAST_PID
t0=$(bn_now_ms)
bn_wait 300 "$NODES simulated nodes Ready" sims_ready "$NODES"
JOIN_MS=$(( $(bn_now_ms) - t0 ))
bn_log "$NODES nodes Ready after $JOIN_MS ms (join + register)"

# create_run NAME N: creates the service, waits for N/N; echoes ms.
create_run() {
  local t ms
  t=$(bn_now_ms)
  cli 1 service create -d --no-resolve-image --name "$1" --replicas "$2" \
    ${RESTART_DELAY:+--restart-delay "$RESTART_DELAY"} nodesim/none >/dev/null
  ms=$(wait_replicas "$1" "$2" "$t") || exit 1
  echo "$ms"
}
# remove_run NAME: removes it and waits until the simulator holds no task.
sim_empty() { tail -n 50 "$SIMLOG" | grep '^stats' | tail -1 | grep -q ' tasks=0 '; }
remove_run() {
  cli 1 service rm "$1" >/dev/null
  bn_wait "$TIMEOUT" "the tasks of $1 gone from the nodes" sim_empty
}

# ---------------------------------------------------------- baseline ----
BASE_MS=""
if [ "$BASELINE" -gt 0 ]; then
  bn_log "baseline: $BASELINE replicas"
  BASE_MS=$(create_run base "$BASELINE") || bn_fail "baseline: create did not complete"
  bn_log "baseline: $BASELINE running after $BASE_MS ms"
  t=$(bn_now_ms)
  remove_run base
  BASE_RM_MS=$(( $(bn_now_ms) - t ))
fi

# -------------------------------------------------------------- main ----
bn_log "main: $REPLICAS replicas"
LEADER=$(leader_of "$Q")
[ -n "$LEADER" ] || bn_fail "no leader before the main run"
if [ "$PERF" != 0 ] && command -v perf >/dev/null; then
  if [ "$PERF" = dwarf ]; then
    perf record --call-graph dwarf,16384 -F 49 -p "${PIDS[$LEADER]}" -o "$BN_WORK/perf.data" >/dev/null 2>&1 &
  else
    perf record -g -F 499 -p "${PIDS[$LEADER]}" -o "$BN_WORK/perf.data" >/dev/null 2>&1 &
  fi
  PERFPID=$!
fi
MAIN_MS=$(create_run main "$REPLICAS") || bn_fail "main: create did not complete"
if [ -n "${PERFPID:-}" ]; then
  kill -INT "$PERFPID"; wait "$PERFPID" 2>/dev/null || true
  perf report -i "$BN_WORK/perf.data" --children --percent-limit 2 --stdio -g none >"$BN_WORK/perf.txt" 2>/dev/null || true
  bn_log "perf profile of the leader: $BN_WORK/perf.txt"
fi
bn_log "main: $REPLICAS running after $MAIN_MS ms"

# --------------------------------------------------------- node loss ----
bn_log "node loss: the simulator drops $KILL nodes"
t=$(bn_now_ms)
kill -USR1 "$SIM"
bn_wait 10 "the simulator to report killed nodes" grep -q '^killed' "$SIMLOG"
read -r -a LOST <<<"$(grep '^killed' "$SIMLOG" | tail -1 | cut -d' ' -f2-)"
declare -A ID_OF
while read -r id host; do ID_OF[$host]=$id; done < <(cli "$Q" node ls --format '{{.ID}} {{.Hostname}}')
LOST_IDS=()
for h in "${LOST[@]}"; do LOST_IDS+=("${ID_OF[$h]}"); done
bn_wait "$TIMEOUT" "${#LOST[@]} lost nodes Down" nodes_down "${LOST[@]}"
DOWN_MS=$(( $(bn_now_ms) - t ))
LOSS_MS=$(wait_replicas main "$REPLICAS" "$t" none_desired_on "${LOST_IDS[@]}") || bn_fail "node loss: tasks not replaced"
bn_log "node loss: Down after $DOWN_MS ms, replaced after $LOSS_MS ms"

# ------------------------------------------------------------- drain ----
DRAINED=()
DRAINED_IDS=()
for i in $(seq 1 "$NODES"); do
  h="sim$i"
  [[ " ${LOST[*]} " == *" $h "* ]] && continue
  DRAINED+=("$h"); DRAINED_IDS+=("${ID_OF[$h]}")
  [ "${#DRAINED[@]}" -ge "$DRAIN" ] && break
done
MOVED=0
for id in "${DRAINED_IDS[@]}"; do MOVED=$((MOVED + $(desired_on "$id"))); done
bn_log "drain: ${#DRAINED[@]} nodes holding $MOVED tasks"
t=$(bn_now_ms)
UPD=()
for h in "${DRAINED[@]}"; do cli 1 node update --availability drain "$h" >/dev/null & UPD+=($!); done
for p in "${UPD[@]}"; do wait "$p"; done
DRAIN_MS=$(wait_replicas main "$REPLICAS" "$t" none_desired_on "${DRAINED_IDS[@]}") || bn_fail "drain: tasks not moved"
bn_log "drain: tasks moved after $DRAIN_MS ms"

for i in 1 2 3; do
  if grep -qiE "sanitizer|segfault|abort|assert" "$BN_WORK/h$i/shoald.log"; then
    bn_log "host$i log shows a crash:"; grep -iE "sanitizer|segfault|abort|assert" "$BN_WORK/h$i/shoald.log" | head -5 >&2
  fi
done
LEADER_RSS=$(awk '/VmRSS/ {print $2}' "/proc/${PIDS[$LEADER]}/status" 2>/dev/null || echo -)
SIM_RSS=$(awk '/VmRSS/ {print $2}' "/proc/$SIM/status" 2>/dev/null || echo -)
bn_stop "$SIM" TERM
for i in 1 2 3; do bn_stop "${PIDS[$i]}" TERM; done

# ------------------------------------------------------------ report ----
echo
echo "bench/e2e: 3 managers + $NODES simulated nodes (bench_nodesim), 4 network namespaces"
printf "%-44s %10s %10s\n" "" ms tasks/s
printf "%-44s %10s %10s\n" "$NODES nodes join + register (Ready)" "$JOIN_MS" -
if [ -n "$BASE_MS" ]; then
  printf "%-44s %10s %10s\n" "baseline: create $BASELINE replicas -> running" "$BASE_MS" "$(rate "$BASELINE" "$BASE_MS")"
  printf "%-44s %10s %10s\n" "baseline: rm $BASELINE -> gone from nodes" "$BASE_RM_MS" "$(rate "$BASELINE" "$BASE_RM_MS")"
fi
printf "%-44s %10s %10s\n" "create $REPLICAS replicas -> running" "$MAIN_MS" "$(rate "$REPLICAS" "$MAIN_MS")"
printf "%-44s %10s %10s\n" "node loss ($KILL nodes): Down" "$DOWN_MS" -
printf "%-44s %10s %10s\n" "node loss: tasks running elsewhere" "$LOSS_MS" -
printf "%-44s %10s %10s\n" "drain ($DRAIN nodes, $MOVED tasks): moved" "$DRAIN_MS" "$(rate "$MOVED" "$DRAIN_MS")"
echo "heartbeat period $HEARTBEAT (Down after 3 missed); leader VmRSS ${LEADER_RSS} kB, simulator VmRSS ${SIM_RSS} kB"
tps=$(rate "$REPLICAS" "$MAIN_MS")
if [ "$tps" -ge 10000 ]; then
  echo "target >= 10000 tasks/s (Nomad C1M: 3750/s): met ($tps/s)"
else
  echo "target >= 10000 tasks/s (Nomad C1M: 3750/s): MISSED ($tps/s)"
fi
