#!/usr/bin/env bash
# Node lifecycle with services across three hosts (one manager, two workers), heartbeat 1 s:
# a global service runs one container per host; 6 replicas spread 2 per host; draining host3
# moves its replicas to the others and stops its containers (global task included); after
# host2's shoald is killed and its link cut, host2 is Down within a few seconds and its
# replicas run on the other hosts (the measured failover time is printed); when host2 comes
# back its stale containers are stopped and the global service runs on it again; service rm
# leaves no container anywhere.
. "$(dirname "$0")/lib.sh"
it_init "${1:?usage: services_nodes.sh BIN_DIR}"
it_workers_cluster 3

# Running containers on host i (ids, one a line).
running_on() { runc --root "$IT_WORK/h$1/run/runtime" list 2>/dev/null | awk 'NR>1 && $3=="running" {print $1}'; }
count_on() { running_on "$1" | wc -l; }
replicas_are() { [ "$(it_shoal 1 service ls --format '{{.Replicas}}' -f "name=$1")" = "$2" ]; }
# Tasks of service $1 meant to run on node $2.
tasks_on() { it_shoal 1 service ps "$1" --no-trunc -f desired-state=running --format '{{.Node}} {{.ID}}' | awk -v n="$2" '$1==n {print $2}'; }

it_log "a global service: one container per host"
it_shoal 1 service create -d --name mon --mode global shoal-demo:latest sleep 3600 >/dev/null
it_wait 30 "mon 3/3" replicas_are mon 3/3
it_log "6 replicas: 2 per host"
it_shoal 1 service create -d --name web --replicas 6 shoal-demo:latest sleep 3600 >/dev/null
it_wait 40 "web 6/6" replicas_are web 6/6
for i in 1 2 3; do
  n=$(tasks_on web "host$i" | wc -l)
  [ "$n" -eq 2 ] || it_fail "host$i has $n web tasks, not 2: $(it_shoal 1 service ps web)"
  [ "$(count_on "$i")" -eq 3 ] || it_fail "host$i runs $(count_on "$i") containers, not 3"
done

it_log "drain host3: its replicas move, its containers stop"
it_shoal 1 node update --availability drain host3 >/dev/null
h3_empty() { [ "$(count_on 3)" -eq 0 ]; }
it_wait 30 "host3 has no running container" h3_empty
it_wait 30 "web 6/6 after the drain" replicas_are web 6/6
it_wait 10 "mon 2/2 after the drain" replicas_are mon 2/2
[ -z "$(tasks_on web host3)" ] || it_fail "web tasks still meant for host3"
[ "$(( $(tasks_on web host1 | wc -l) + $(tasks_on web host2 | wc -l) ))" -eq 6 ] ||
  it_fail "replicas not on host1+host2: $(it_shoal 1 service ps web)"
it_shoal 1 node update --availability active host3 >/dev/null
it_wait 30 "mon 3/3 with host3 active again" replicas_are mon 3/3
h3_mon() { [ "$(count_on 3)" -eq 1 ]; }
it_wait 30 "host3 runs the global task again" h3_mon

it_log "host2 vanishes: shoald killed, link cut"
old2=$( { tasks_on web host2; tasks_on mon host2; } | tr '\n' ' ')
[ -n "$old2" ] || it_fail "nothing runs on host2"
for id in $old2; do # containers are named after their tasks
  running_on 2 | grep -q "^${id:0:12}" || it_fail "task $id has no running container on host2"
done
t0=$(date +%s.%N)
it_stop 2 KILL
ip link set "${IT_TAG}v2" down
h2_down() { it_shoal 1 node ls --format '{{.Hostname}} {{.Status}}' | grep -q '^host2 Down'; }
it_wait 20 "host2 Down" h2_down
t_down=$(date +%s.%N)
moved() {
  replicas_are web 6/6 && [ -z "$(tasks_on web host2)" ] &&
    [ "$(( $(tasks_on web host1 | wc -l) + $(tasks_on web host3 | wc -l) ))" -eq 6 ]
}
it_wait 20 "web 6/6 on host1 and host3" moved
t_moved=$(date +%s.%N)
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
it_log "host2 Down after $(secs "$t0" "$t_down") s; replicas running elsewhere after $(secs "$t0" "$t_moved") s (heartbeat 1 s)"

it_log "host2 returns: its stale containers stop, the global service runs there again"
ip link set "${IT_TAG}v2" up
it_start 2
it_wait 30 "three Ready nodes again" it_ready_nodes 3
stale_gone() {
  local run id
  run=$(running_on 2)
  for id in $old2; do
    if echo "$run" | grep -q "^${id:0:12}"; then return 1; fi
  done
}
it_wait 30 "host2's old tasks stopped" stale_gone
it_wait 30 "mon 3/3 with host2 back" replicas_are mon 3/3
h2_mon() { [ -n "$(tasks_on mon host2)" ] && [ "$(count_on 2)" -eq 1 ]; }
it_wait 30 "host2 runs one container: the new global task" h2_mon

it_log "service rm leaves no container on any host"
it_shoal 1 service rm web mon >/dev/null
for i in 1 2 3; do
  it_wait 30 "host $i has no containers" bash -c "[ -z \"\$(runc --root $IT_WORK/h$i/run/runtime list -q)\" ]"
done
it_stop_all
it_check_sanitizers
it_log PASS
