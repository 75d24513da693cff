#!/usr/bin/env bash
# Placement on three hosts: constraints, placement preferences, max replicas per node, resource
# reservations (a task that fits nowhere stays pending with Docker's explanation, then runs as
# soon as a node fits), through the real binaries.
. "$(dirname "$0")/lib.sh"
it_init "${1:?usage: services_placement.sh BIN_DIR}"
it_workers_cluster 3
it_shoal 1 node update --label-add zone=a host1 >/dev/null
it_shoal 1 node update --label-add zone=a host2 >/dev/null
it_shoal 1 node update --label-add zone=b host3 >/dev/null

# "n1 n2 n3": running tasks of service $1 per host.
per_host() {
  local i out=""
  for i in 1 2 3; do
    out+="$(it_shoal 1 service ps "$1" -f desired-state=running --format '{{.Node}} {{.CurrentState}}' |
      grep -c "^host$i Running" || true) "
  done
  echo "${out% }"
}
replicas() { [ "$(it_shoal 1 service ls --format "{{.Replicas}}" -f "name=$1" | cut -d" " -f1)" = "$2" ]; }

it_log "placement preference: spread over zones first"
it_shoal 1 service create -d --name pref --replicas 4 --placement-pref spread=node.labels.zone \
  --stop-grace-period 1s shoal-demo:latest sleep 3600 >/dev/null
it_wait 30 "pref 4/4" replicas pref 4/4
[ "$(per_host pref)" = "1 1 2" ] || it_fail "zones a and b should get 2 each (host3 alone in b): $(per_host pref)"

it_log "constraint: zone a only"
it_shoal 1 service create -d --name cons --replicas 4 --constraint node.labels.zone==a \
  --stop-grace-period 1s shoal-demo:latest sleep 3600 >/dev/null
it_wait 30 "cons 4/4" replicas cons 4/4
[ "$(per_host cons | cut -d' ' -f3)" = 0 ] || it_fail "a task of cons runs outside zone a: $(per_host cons)"

it_log "max replicas per node: the fourth task stays pending"
it_shoal 1 service create -d --name maxr --replicas 4 --replicas-max-per-node 1 \
  --stop-grace-period 1s shoal-demo:latest sleep 3600 >/dev/null
it_wait 30 "maxr 3/4" replicas maxr 3/4
pending_err() { it_shoal 1 service ps "$1" --no-trunc --format '{{.CurrentState}} {{.Error}}' | grep -i pending | grep -q "$2"; }
it_wait 10 "the pending task explains itself" pending_err maxr "max replicas per node limit exceed"

it_log "reservations: too big for any node, then fits when lowered"
it_shoal 1 service create -d --name big --reserve-memory 100000G --stop-grace-period 1s \
  shoal-demo:latest sleep 3600 >/dev/null
it_wait 10 "big pending with insufficient resources" pending_err big "insufficient resources on 3 nodes"
it_shoal 1 service update -d --reserve-memory 8M big >/dev/null
it_wait 30 "big runs once it fits" replicas big 1/1

it_shoal 1 service rm pref cons maxr big >/dev/null
for i in 1 2 3; do
  it_wait 40 "no containers on host$i" bash -c "[ -z \"\$(runc --root $IT_WORK/h$i/run/runtime list -q 2>/dev/null)\" ]"
done
it_stop_all
it_check_sanitizers
it_log PASS
