#!/usr/bin/env bash
# The stock docker CLI against shoal: swarm init/join-token/join/leave and
# node ls/inspect/update/rm, through each host's shoal socket.
. "$(dirname "$0")/lib.sh"
if ! command -v docker >/dev/null; then echo "SKIP: docker CLI not installed"; exit 77; fi
it_init "${1:?usage: docker_cli.sh BIN_DIR}"
it_hosts 2
it_start 1
it_start 2
d1() { DOCKER_HOST="unix://$(it_sock 1)" docker "$@"; }
d2() { DOCKER_HOST="unix://$(it_sock 2)" docker "$@"; }

out=$(d1 swarm init --advertise-addr "$(it_ip 1)" --dispatcher-heartbeat 1s)
echo "$out" | grep -q "Swarm initialized: current node" || it_fail "docker swarm init: $out"
token=$(d1 swarm join-token -q worker)
d2 swarm join --token "$token" "$(it_ip 1):2377" | grep -q "This node joined a swarm as a worker." \
  || it_fail "docker swarm join"
it_wait 15 "2 nodes Ready" bash -c "[ \$(DOCKER_HOST=unix://$(it_sock 1) docker node ls | grep -c Ready) -eq 2 ]"
it_wait 10 "docker node ls shows the leader" bash -c "DOCKER_HOST=unix://$(it_sock 1) docker node ls --format '{{.Hostname}} {{.ManagerStatus}}' | grep -q 'host1 Leader'"
id2=$(d1 node ls -q --filter role=worker)
[ -n "$id2" ] || it_fail "docker node ls --filter role=worker found nothing"
d1 node update --label-add tier=web "$id2" >/dev/null
d1 node inspect --format '{{.Spec.Labels.tier}}' "$id2" | grep -qx web || it_fail "docker node inspect"
d1 node inspect --pretty "$id2" | grep -q "Hostname:.*host2" || it_fail "docker node inspect --pretty"
out=$(d2 node ls 2>&1 || true)
echo "$out" | grep -q "Worker nodes can't be used" || it_fail "worker answered manager commands: $out"
it_log "secrets and configs"
printf 's3cr3t' | d1 secret create db_pass - >/dev/null || it_fail "docker secret create"
d1 secret ls --format '{{.Name}}' | grep -qx db_pass || it_fail "docker secret ls"
[ "$(d1 secret inspect db_pass --format '{{len .Spec.Data}}')" = 0 ] || it_fail "secret data returned by the API"
out=$(printf 'x' | d1 secret create db_pass - 2>&1 || true)
echo "$out" | grep -q "already exists" || it_fail "duplicate secret: $out"
printf 'listen 80' | d1 config create web.conf - >/dev/null || it_fail "docker config create"
d1 config inspect web.conf --format '{{printf "%s" .Spec.Data}}' | grep -qx 'listen 80' || it_fail "config data"
it_log "shoal secret and config"
printf 'pw' | it_shoal 1 secret create -l env=test sh_pass - >/dev/null || it_fail "shoal secret create"
[ "$(it_shoal 1 secret ls -q | wc -l)" -eq 2 ] || it_fail "shoal secret ls -q: $(it_shoal 1 secret ls)"
it_shoal 1 secret ls | grep -q "^ID  *NAME  *DRIVER  *CREATED  *UPDATED$" || it_fail "shoal secret ls header"
it_shoal 1 secret ls --format '{{.Name}} {{.Labels}}' | grep -qx 'sh_pass env=test' || it_fail "shoal secret ls --format"
d1 secret inspect sh_pass --format '{{.Spec.Labels.env}}' | grep -qx test || it_fail "docker sees shoal's secret labels"
it_shoal 1 secret inspect --pretty db_pass | grep -q "^Name: *db_pass$" || it_fail "shoal secret inspect --pretty"
out=$(printf 'x' | it_shoal 1 secret create sh_pass - 2>&1 || true)
echo "$out" | grep -q "^Error response from daemon: .*already exists" || it_fail "shoal duplicate secret: $out"
printf 'listen 81' >"$IT_WORK/sh.conf"
it_shoal 1 config create sh.conf "$IT_WORK/sh.conf" >/dev/null || it_fail "shoal config create"
d1 config inspect sh.conf --format '{{printf "%s" .Spec.Data}}' | grep -qx 'listen 81' || it_fail "shoal config data via docker"
it_shoal 1 config inspect --pretty web.conf | grep -qx 'listen 80' || it_fail "shoal config inspect --pretty"
it_shoal 1 config ls --format '{{.Name}}' | sort | tr '\n' ' ' | grep -qx 'sh.conf web.conf ' || it_fail "shoal config ls"
rc=0; out=$(it_shoal 1 secret rm sh_pass nope 2>&1) || rc=$?
[ "$rc" -eq 1 ] && echo "$out" | grep -qx sh_pass && echo "$out" | grep -q "^Error response from daemon: " \
  || it_fail "shoal secret rm sh_pass nope (rc $rc): $out"
it_shoal 1 config rm sh.conf | grep -qx sh.conf || it_fail "shoal config rm"
it_log "services and tasks"
printf 'pw' | d1 secret create web_pw - >/dev/null || it_fail "docker secret create web_pw"
d1 service create --detach --name web --replicas 2 --secret web_pw busybox sleep 1000 >/dev/null \
  || it_fail "docker service create"
d1 service ls --format '{{.Name}} {{.Mode}} {{.Replicas}} {{.Image}}' | grep -qx 'web replicated 0/2 busybox:latest' \
  || it_fail "docker service ls: $(d1 service ls)"
[ "$(d1 service inspect web --format '{{.Spec.Mode.Replicated.Replicas}} {{.Spec.TaskTemplate.RestartPolicy.Condition}} {{.Spec.UpdateConfig.Parallelism}}')" = "2 any 1" ] \
  || it_fail "docker service inspect: $(d1 service inspect web)"
out=$(d1 service create --detach --name web busybox 2>&1 || true)
echo "$out" | grep -q "name conflicts with an existing object" || it_fail "duplicate service name: $out"
out=$(d1 secret rm web_pw 2>&1 || true)
echo "$out" | grep -q "secret 'web_pw' is in use by the following service: web" || it_fail "used secret removed: $out"
d1 service update --detach --replicas 3 web >/dev/null || it_fail "docker service update --replicas 3"
d1 service inspect web --format '{{.Spec.Mode.Replicated.Replicas}} {{.PreviousSpec.Mode.Replicated.Replicas}}' | grep -qx '3 2' \
  || it_fail "replicas after update: $(d1 service inspect web --format '{{json .Spec.Mode}}')"
d1 service scale --detach web=4 | grep -q "web scaled to 4" || it_fail "docker service scale"
d1 service ls --format '{{.Replicas}}' | grep -qx '0/4' || it_fail "service ls after scale: $(d1 service ls)"
# inspect round trip: post the spec docker read back unchanged (a new version, same spec).
v=$(d1 service inspect web --format '{{.Version.Index}}')
d1 service update --detach web >/dev/null || it_fail "docker service update (no change)"
[ "$(d1 service inspect web --format '{{.Version.Index}}')" -gt "$v" ] || it_fail "no-op update not applied"
d1 service inspect web --format '{{.Spec.Mode.Replicated.Replicas}}' | grep -qx 4 || it_fail "no-op update changed the spec"
d1 service ps web >/dev/null || it_fail "docker service ps"
d1 service rm web | grep -qx web || it_fail "docker service rm"
[ -z "$(d1 service ls -q)" ] || it_fail "service left after rm"
d1 secret rm web_pw >/dev/null || it_fail "secret still in use after service rm"
d1 secret rm db_pass | grep -qx db_pass || it_fail "docker secret rm"
d1 config rm web.conf >/dev/null || it_fail "docker config rm"
[ -z "$(d1 secret ls -q)" ] || it_fail "secret left after rm"

d2 swarm leave | grep -q "Node left the swarm." || it_fail "docker swarm leave"
it_wait 15 "host2 Down" bash -c "DOCKER_HOST=unix://$(it_sock 1) docker node ls | grep host2 | grep -q Down"
d1 node rm "$id2" | grep -q "$id2" || it_fail "docker node rm"
out=$(d1 swarm leave 2>&1 || true)
echo "$out" | grep -q 'Use `--force`' || it_fail "manager leave without --force not refused: $out"
d1 swarm leave --force | grep -q "Node left the swarm." || it_fail "docker swarm leave --force"
d1 info --format '{{.Swarm.LocalNodeState}}' | grep -qx inactive || it_fail "still in a swarm after leave"
it_stop_all
it_check_sanitizers
it_log PASS
