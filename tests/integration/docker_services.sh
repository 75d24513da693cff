#!/usr/bin/env bash
# The stock docker CLI driving real services on two hosts (a manager and a worker): docker load,
# service create with its progress display (no --detach), ls/ps/inspect --pretty/logs, scale with
# progress, update --env-add reaching every task, rollback, a global service, node drain, and
# service rm leaving no container behind.
. "$(dirname "$0")/lib.sh"
if ! command -v docker >/dev/null; then echo "SKIP: docker CLI not installed"; exit 77; fi
it_init "${1:?usage: docker_services.sh BIN_DIR}"
command -v runc >/dev/null || { echo "SKIP: runc not installed"; exit 77; }
it_hosts 2
it_start 1
it_start 2
d1() { DOCKER_HOST="unix://$(it_sock 1)" docker "$@"; }
d2() { DOCKER_HOST="unix://$(it_sock 2)" docker "$@"; }
running_on() { runc --root "$IT_WORK/h$1/run/runtime" list 2>/dev/null | awk 'NR>1 && $3=="running"' | wc -l; }

d1 swarm init --advertise-addr "$(it_ip 1)" --dispatcher-heartbeat 1s >/dev/null
d2 swarm join --token "$(d1 swarm join-token -q worker)" "$(it_ip 1):2377" >/dev/null
it_wait 15 "2 nodes Ready" bash -c "[ \$(DOCKER_HOST=unix://$(it_sock 1) docker node ls | grep -c Ready) -eq 2 ]"
srcdir=$(cd "$(dirname "$0")/../.." && pwd)
"$srcdir/deploy/mkimage-demo.sh" "$IT_WORK/demo.tar" >/dev/null
for d in d1 d2; do
  out=$($d load -i "$IT_WORK/demo.tar")
  echo "$out" | grep -q "Loaded image: shoal-demo:latest" || it_fail "docker load: $out"
done
d1 image ls --format '{{.Repository}}:{{.Tag}}' | grep -qx shoal-demo:latest || it_fail "docker image ls"

it_log "docker service create with progress"
out=$(d1 service create --name web --replicas 2 --update-monitor 1s --stop-grace-period 1s \
  --update-parallelism 2 shoal-demo:latest \
  sh -c 'echo "hi from $(hostname) K=$K"; exec sleep 3600' 2>&1) || it_fail "docker service create: $out"
echo "$out" | grep -q "verify: Service .* converged" || it_fail "no convergence shown: $out"
d1 service ls --format '{{.Name}} {{.Replicas}}' | grep -qx 'web 2/2' || it_fail "service ls: $(d1 service ls)"
[ "$(running_on 1)" -eq 1 ] && [ "$(running_on 2)" -eq 1 ] || it_fail "not one container per host"
d1 service inspect --pretty web | grep -q "^Name:[[:space:]]*web" || it_fail "inspect --pretty"
[ "$(d1 service ps web -q -f desired-state=running | wc -l)" -eq 2 ] || it_fail "service ps: $(d1 service ps web)"
it_wait 20 "logs of both tasks" bash -c \
  "[ \$(DOCKER_HOST=unix://$(it_sock 1) docker service logs web 2>&1 | grep -c 'hi from') -eq 2 ]"

it_log "docker service scale with progress"
out=$(d1 service scale web=4 2>&1) || it_fail "docker service scale: $out"
echo "$out" | grep -q "converged" || it_fail "scale did not converge: $out"
[ "$(($(running_on 1) + $(running_on 2)))" -eq 4 ] || it_fail "not 4 containers after scale"

it_log "docker service update --env-add and rollback, with progress"
out=$(d1 service update --env-add K=v2 web 2>&1) || it_fail "docker service update: $out"
echo "$out" | grep -q "converged" || it_fail "update did not converge: $out"
[ "$(d1 service inspect web --format '{{.UpdateStatus.State}}')" = completed ] || it_fail "UpdateStatus: $(d1 service inspect web --format '{{json .UpdateStatus}}')"
it_wait 20 "logs show K=v2 from 4 tasks" bash -c \
  "[ \$(DOCKER_HOST=unix://$(it_sock 1) docker service logs web 2>&1 | grep -c 'K=v2') -eq 4 ]"
out=$(d1 service rollback web 2>&1) || it_fail "docker service rollback: $out"
echo "$out" | grep -q "rollback" || it_fail "rollback progress: $out"
d1 service inspect web --format '{{range .Spec.TaskTemplate.ContainerSpec.Env}}{{.}} {{end}}' | grep -q K=v2 &&
  it_fail "rollback kept the new env"

it_log "global service"
d1 service create -d --name agent --mode global shoal-demo:latest sleep 3600 >/dev/null
it_wait 30 "global 2/2" bash -c "DOCKER_HOST=unix://$(it_sock 1) docker service ls --format '{{.Name}} {{.Replicas}}' | grep -qx 'agent 2/2'"

it_log "drain the worker"
id2=$(d1 node ls -q -f role=worker)
d1 node update --availability drain "$id2" >/dev/null
it_wait 30 "nothing left on host2" bash -c "[ \$(runc --root $IT_WORK/h2/run/runtime list | awk 'NR>1 && \$3==\"running\"' | wc -l) -eq 0 ]"
it_wait 30 "web 4/4 on host1" bash -c "DOCKER_HOST=unix://$(it_sock 1) docker service ls --format '{{.Name}} {{.Replicas}}' | grep -qx 'web 4/4'"
d1 node update --availability active "$id2" >/dev/null

it_log "docker service rm"
d1 service rm web agent >/dev/null
for i in 1 2; do
  it_wait 30 "no containers on host $i" bash -c "[ -z \"\$(runc --root $IT_WORK/h$i/run/runtime list -q)\" ]"
done
it_stop_all
it_check_sanitizers
it_log PASS
