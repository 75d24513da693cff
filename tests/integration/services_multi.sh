#!/usr/bin/env bash
# Services across three hosts (leader, second manager, worker): replicas spread one per node,
# each node runs its own containers, and `service logs` gathers every task's output from
# every node, asked on the leader and on the other manager (relayed through the leader).
. "$(dirname "$0")/lib.sh"
it_init "${1:?usage: services_multi.sh BIN_DIR}"
command -v runc >/dev/null || { echo "SKIP: runc not installed"; exit 77; }
it_hosts 3
for i in 1 2 3; do it_start "$i"; done
it_shoal 1 swarm init --advertise-addr "$(it_ip 1)" --dispatcher-heartbeat 1s >/dev/null
it_shoal 2 swarm join --token "$(it_shoal 1 swarm join-token -q manager)" \
  --advertise-addr "$(it_ip 2)" "$(it_ip 1):2377" >/dev/null
it_shoal 3 swarm join --token "$(it_shoal 1 swarm join-token -q worker)" \
  --advertise-addr "$(it_ip 3)" "$(it_ip 1):2377" >/dev/null
ready3() { [ "$(it_shoal 1 node ls --format '{{.Status}}' | grep -c Ready)" -eq 3 ]; }
it_wait 30 "three Ready nodes" ready3

srcdir=$(cd "$(dirname "$0")/../.." && pwd)
"$srcdir/deploy/mkimage-demo.sh" "$IT_WORK/demo.tar" >/dev/null
for i in 1 2 3; do it_shoal "$i" image load -i "$IT_WORK/demo.tar" >/dev/null; done

it_log "service create --replicas 3: one task per node"
it_shoal 1 service create -d --name web --replicas 3 shoal-demo:latest \
  sh -c 'echo "hello from $(hostname) on the node"; exec sleep 3600' >/dev/null
replicas_are() { [ "$(it_shoal 1 service ls --format '{{.Replicas}}' -f name=web)" = "$1" ]; }
it_wait 60 "3/3 running" replicas_are 3/3
nodes=$(it_shoal 1 service ps web --format '{{.Node}}' -f desired-state=running | sort -u | wc -l)
[ "$nodes" -eq 3 ] || it_fail "tasks not spread over the 3 nodes: $(it_shoal 1 service ps web)"
for i in 1 2 3; do
  n=$(runc --root "$IT_WORK/h$i/run/runtime" list | awk 'NR>1 && $3=="running"' | wc -l)
  [ "$n" -eq 1 ] || it_fail "host $i runs $n containers, not 1"
done

it_log "service logs from every node, on the leader and on a follower"
count_logs() { [ "$(it_shoal "$1" service logs web 2>&1 | grep -c 'hello from')" -eq 3 ]; }
it_wait 20 "3 tasks' output via the leader" count_logs 1
it_wait 20 "3 tasks' output via the other manager" count_logs 2
out=$(it_shoal 2 service logs web 2>&1)
echo "$out" | grep -q "web\.[123]\.[a-z0-9]*@host3" || it_fail "no line attributed to host3's task: $out"

it_log "service rm removes the containers on every node"
it_shoal 1 service rm web >/dev/null
for i in 1 2 3; do
  it_wait 30 "host $i has no containers" bash -c "[ -z \"\$(runc --root $IT_WORK/h$i/run/runtime list -q)\" ]"
done
it_stop_all
it_check_sanitizers
it_log PASS
