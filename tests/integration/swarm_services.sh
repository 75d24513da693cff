#!/usr/bin/env bash
# Issue 6's check on three hosts (host1 manager, host2 and host3 workers; heartbeat 1 s):
# six replicas spread two per host, a global service on all three, drain moving work off a
# host, a killed and cut-off host's tasks running elsewhere with the host shown Down, scale to
# nine, a rolling --env-add update reaching every task, the lost host returning and its stale
# containers stopped, the docker CLI listing, creating and removing services and secrets, and
# service rm leaving no container behind.
. "$(dirname "$0")/lib.sh"
it_init "${1:?usage: swarm_services.sh BIN_DIR}"
it_workers_cluster 3

rt() { echo "$IT_WORK/h$1/run/runtime"; }
running_ids() { runc --root "$(rt "$1")" list 2>/dev/null | awk 'NR>1 && $3=="running" {print $1}' | sort; }
count_on() { running_ids "$1" | grep -c . || true; }
none_on() { [ "$(count_on "$1")" -eq 0 ]; }
node_is() { it_shoal 1 node ls --format '{{.Hostname}} {{.Status}}' | grep -qx "$1 $2"; }
replicas() { [ "$(it_shoal 1 service ls --format '{{.Replicas}}' -f "name=$1")" = "$2" ]; }
# Running tasks of `web` per host, as "n1 n2 n3".
spread() {
  local i out=""
  for i in 1 2 3; do
    out+="$(it_shoal 1 service ps web -f desired-state=running --format '{{.Node}} {{.CurrentState}}' |
      grep -c "^host$i Running" || true) "
  done
  echo "${out% }"
}

it_log "six replicas, two per host; a global service on all three"
it_shoal 1 service create -d --name web --replicas 6 shoal-demo:latest \
  sh -c 'echo "web $(hostname) K=$K"; exec sleep 3600' >/dev/null
it_shoal 1 service create -d --name agent --mode global shoal-demo:latest sleep 3600 >/dev/null
it_wait 60 "web 6/6" replicas web 6/6
it_wait 60 "agent 3/3" replicas agent 3/3
[ "$(spread)" = "2 2 2" ] || it_fail "six replicas not spread two per host: $(spread)"
for i in 1 2 3; do [ "$(count_on "$i")" -eq 3 ] || it_fail "host$i runs $(count_on "$i") containers, not 3"; done

it_log "drain host3"
it_shoal 1 node update --availability drain host3 >/dev/null
it_wait 30 "host3 empty" none_on 3
it_wait 30 "web 6/6 on two hosts" replicas web 6/6
[ "$(spread)" = "3 3 0" ] || it_fail "after drain: $(spread)"
it_shoal 1 node update --availability active host3 >/dev/null
it_wait 30 "agent back on host3" replicas agent 3/3

it_log "kill host2's shoald and cut its link"
stale=$(running_ids 2)
[ -n "$stale" ] || it_fail "host2 runs nothing before the kill"
t0=$(date +%s.%N)
it_stop 2 KILL
ip link set "${IT_TAG}v2" down
it_wait 20 "host2 Down" node_is host2 Down
t1=$(date +%s.%N)
it_wait 30 "web 6/6 without host2" replicas web 6/6
t2=$(date +%s.%N)
it_log "host2 Down after $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}') s; its replicas running elsewhere after $(awk -v a="$t0" -v b="$t2" 'BEGIN{printf "%.1f", b-a}') s"
[ "$(spread | cut -d' ' -f2)" = 0 ] || it_fail "tasks still counted on host2: $(spread)"

it_log "scale to nine"
it_shoal 1 service scale -d web=9 >/dev/null
it_wait 60 "web 9/9" replicas web 9/9

it_log "rolling --env-add update"
it_shoal 1 service update -d --env-add K=rolled --update-parallelism 3 web >/dev/null
rolled() {
  local i id pid n=0
  for i in 1 3; do
    for id in $(running_ids "$i"); do
      pid=$(runc --root "$(rt "$i")" state "$id" | jq -r .pid)
      tr '\0' '\n' <"/proc/$pid/environ" | grep -qx K=rolled && n=$((n + 1))
    done
  done
  [ "$n" -eq 9 ]
}
it_wait 90 "every web task has K=rolled" rolled
it_wait 30 "update completed" bash -c "[ \"\$($IT_BIN/shoal -H unix://$(it_sock 1) service inspect web --format '{{.UpdateStatus.State}}')\" = completed ]"

it_log "host2 returns: its stale containers are stopped"
ip link set "${IT_TAG}v2" up
it_start 2
it_wait 30 "host2 Ready" node_is host2 Ready
stale_gone() {
  local id
  for id in $stale; do running_ids 2 | grep -qx "$id" && return 1; done
  return 0
}
it_wait 30 "stale containers stopped on host2" stale_gone
it_wait 30 "agent 3/3" replicas agent 3/3

if command -v docker >/dev/null; then
  it_log "docker CLI: list, create and remove services and secrets"
  export DOCKER_HOST=unix://$(it_sock 1)
  docker service ls --format '{{.Name}} {{.Replicas}}' | grep -qx 'web 9/9' || it_fail "docker service ls: $(docker service ls)"
  printf 'pw' | docker secret create dpw - >/dev/null
  docker service create -d --name dsvc --secret dpw --replicas 2 shoal-demo:latest sleep 3600 >/dev/null
  it_wait 30 "dsvc 2/2" replicas dsvc 2/2
  docker service rm dsvc >/dev/null
  it_wait 30 "dsvc gone" bash -c "[ -z \"\$(docker service ls -q -f name=dsvc)\" ]"
  docker secret rm dpw >/dev/null || it_fail "docker secret rm"
  unset DOCKER_HOST
else
  it_log "SKIP docker CLI part: docker is not installed"
fi

it_log "service rm leaves no container"
it_shoal 1 service rm web agent >/dev/null
for i in 1 2 3; do
  it_wait 40 "no containers on host$i" bash -c "[ -z \"\$(runc --root $(rt "$i") list -q 2>/dev/null)\" ]"
done
it_stop_all
it_check_sanitizers
it_log PASS
