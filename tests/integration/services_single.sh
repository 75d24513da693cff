#!/usr/bin/env bash
# Services on one host with real runc containers: image load, a secret, three replicas each in
# its own namespaces with the secret on tmpfs at /run/secrets and nowhere on disk, their output
# in `service logs`, the same containers still running after shoald restarts, a killed
# container replaced, scale down removing the highest slots, `service rm` removing them all.
. "$(dirname "$0")/lib.sh"
it_init "${1:?usage: services_single.sh BIN_DIR}"
command -v runc >/dev/null || { echo "SKIP: runc not installed"; exit 77; }
it_hosts 1
it_start 1
it_shoal 1 swarm init --advertise-addr "$(it_ip 1)" >/dev/null

data=$IT_WORK/h1/data
runc_root=$IT_WORK/h1/run/runtime
srcdir=$(cd "$(dirname "$0")/../.." && pwd)

# Running containers (task ids) as runc sees them.
containers() { runc --root "$runc_root" list -q 2>/dev/null | sort; }
running_count() { runc --root "$runc_root" list 2>/dev/null | awk 'NR>1 && $3=="running"' | wc -l; }
pid_of() { runc --root "$runc_root" state "$1" | jq -r .pid; }
replicas_are() { [ "$(it_shoal 1 service ls --format '{{.Replicas}}' -f name=web)" = "$1" ]; }

it_log "image load"
"$srcdir/deploy/mkimage-demo.sh" "$IT_WORK/demo.tar" >/dev/null
it_shoal 1 image load -i "$IT_WORK/demo.tar" | grep -q "Loaded image: shoal-demo:latest" ||
  it_fail "image load did not report the image"
it_shoal 1 image ls | grep -q shoal-demo || it_fail "image ls misses the loaded image"

it_log "secret + service create --replicas 3"
secret="s3cr3t-$RANDOM-$RANDOM"
printf '%s' "$secret" | it_shoal 1 secret create pw - >/dev/null
it_shoal 1 service create -d --name web --replicas 3 --secret pw shoal-demo:latest \
  sh -c 'echo "hello from $(hostname)"; exec httpd -f -p 80 -h /srv/www' >/dev/null
it_wait 60 "3/3 replicas running" replicas_are 3/3
[ "$(running_count)" -eq 3 ] || it_fail "runc shows $(running_count) running containers, not 3: $(runc --root "$runc_root" list 2>&1)"

host_mnt=$(readlink /proc/self/ns/mnt)
for id in $(containers); do
  pid=$(pid_of "$id")
  [ "$(readlink "/proc/$pid/ns/mnt")" != "$host_mnt" ] || it_fail "container $id shares the host's mount namespace"
  [ "$(nsenter -t "$pid" -m cat /run/secrets/pw)" = "$secret" ] || it_fail "secret not readable in $id"
  grep -q ' /run/secrets/pw .* - tmpfs ' "/proc/$pid/mountinfo" || it_fail "/run/secrets/pw is not on tmpfs in $id"
  nsenter -t "$pid" -n wget -qO- http://127.0.0.1/cgi-bin/whoami >/dev/null || it_fail "httpd in $id does not answer"
done
if grep -rqF "$secret" "$data" 2>/dev/null; then it_fail "the secret is on disk under the data root"; fi

it_log "logs"
it_wait 20 "service logs show the tasks' output" bash -c \
  "[ \$($IT_BIN/shoal -H unix://$(it_sock 1) service logs web 2>&1 | grep -c 'hello from') -ge 3 ]"

it_log "restart shoald: containers untouched"
before=$(for id in $(containers); do echo "$id $(pid_of "$id")"; done)
it_stop 1
[ "$(running_count)" -eq 3 ] || it_fail "containers died with shoald"
it_start 1
it_wait 30 "manager back" it_shoal 1 node ls
sleep 2
after=$(for id in $(containers); do echo "$id $(pid_of "$id")"; done)
[ "$before" = "$after" ] || it_fail "containers changed across a restart: before=[$before] after=[$after]"
it_wait 20 "3/3 after restart" replicas_are 3/3
[ "$(it_shoal 1 service ps web -q | wc -l)" -eq 3 ] || it_fail "restart created new tasks: $(it_shoal 1 service ps web)"

it_log "a killed container is replaced"
victim=$(containers | head -1)
kill -9 "$(pid_of "$victim")"
it_wait 30 "a failed task in history" bash -c "$IT_BIN/shoal -H unix://$(it_sock 1) service ps web | grep -q -i failed"
it_wait 30 "3/3 again" replicas_are 3/3
it_wait 10 "3 running containers" bash -c "[ \$(runc --root $runc_root list | awk 'NR>1 && \$3==\"running\"' | wc -l) -eq 3 ]"

it_log "an unhealthy task is failed and replaced"
it_shoal 1 service create -d --name sick --health-cmd false --health-interval 300ms \
  --health-retries 1 --restart-delay 100ms shoal-demo:latest sleep 3600 >/dev/null
it_wait 30 "the unhealthy task failed" bash -c \
  "$IT_BIN/shoal -H unix://$(it_sock 1) service ps sick --no-trunc | grep -q 'unhealthy container'"
it_wait 30 "a replacement task" bash -c "[ \$($IT_BIN/shoal -H unix://$(it_sock 1) service ps sick -q | wc -l) -ge 2 ]"
it_shoal 1 service rm sick >/dev/null

if command -v docker >/dev/null; then
  it_log "docker CLI: service ps and logs"
  export DOCKER_HOST=unix://$(it_sock 1)
  out=$(docker service ps web)
  echo "$out" | grep -q "web.1" || it_fail "docker service ps misses web.1: $out"
  out=$(docker service logs web 2>&1)
  echo "$out" | grep -q "web\.[0-9]\.[a-z0-9]*@host1 *| hello from" ||
    it_fail "docker service logs: $out"
  unset DOCKER_HOST
else
  it_log "SKIP docker CLI checks: docker is not installed"
fi

it_log "scale down to 1"
it_shoal 1 service scale -d web=1 >/dev/null
it_wait 30 "1/1" replicas_are 1/1
it_wait 30 "one container" bash -c "[ \$(runc --root $runc_root list | awk 'NR>1 && \$3==\"running\"' | wc -l) -eq 1 ]"

it_log "service rm removes everything"
it_shoal 1 service rm web >/dev/null
it_wait 30 "no containers left" bash -c "[ -z \"\$(runc --root $runc_root list -q)\" ]"
it_wait 10 "no mounts left" bash -c "! grep -qF ' $IT_WORK/h1/' /proc/self/mountinfo"
it_shoal 1 secret rm pw >/dev/null

it_stop_all
it_check_sanitizers
it_log PASS
