#!/usr/bin/env bash
# Rolling update and rollback on one host with real runc containers: 6 replicas updated 2 at a
# time with a delay reach every container's environment (UpdateStatus completed); an update to
# a command that exits 1 with failure action rollback rolls back by itself (rollback_completed,
# containers back on the old spec); `service rollback` after a good update returns to the
# previous spec.
. "$(dirname "$0")/lib.sh"
it_init "${1:?usage: services_update.sh BIN_DIR}"
command -v runc >/dev/null || { echo "SKIP: runc not installed"; exit 77; }
command -v jq >/dev/null || { echo "SKIP: jq not installed"; exit 77; }
it_hosts 1
it_start 1
it_shoal 1 swarm init --advertise-addr "$(it_ip 1)" >/dev/null

runc_root=$IT_WORK/h1/run/runtime
srcdir=$(cd "$(dirname "$0")/../.." && pwd)

running_pids() { runc --root "$runc_root" list -f json 2>/dev/null | jq -r '.[]? | select(.status=="running") | .pid'; }
running_count() { running_pids | wc -l; }
# How many running containers have `$1` (K=V) in the environment of their process 1.
env_count() {
  local n=0 pid
  for pid in $(running_pids); do
    nsenter -t "$pid" -m cat /proc/1/environ 2>/dev/null | tr '\0' '\n' | grep -qx "$1" && n=$((n + 1))
  done
  echo "$n"
}
ustate() { it_shoal 1 service inspect web | jq -r '.[0].UpdateStatus.State // ""'; }
state_is() { [ "$(ustate)" = "$1" ]; }
replicas_are() { [ "$(it_shoal 1 service ls --format '{{.Replicas}}' -f name=web)" = "$1" ]; }
all_have() { [ "$(running_count)" -eq 6 ] && [ "$(env_count "$1")" -eq 6 ]; }

it_log "image load + service create --replicas 6"
"$srcdir/deploy/mkimage-demo.sh" "$IT_WORK/demo.tar" >/dev/null
it_shoal 1 image load -i "$IT_WORK/demo.tar" >/dev/null
it_shoal 1 service create -d --name web --replicas 6 --stop-grace-period 1s \
  --restart-delay 1s shoal-demo:latest sleep 100000 >/dev/null
it_wait 60 "6/6 replicas running" replicas_are 6/6

it_log "service update --env-add K=V --update-parallelism 2 --update-delay 1s"
start=$(date +%s)
out=$(it_shoal 1 service update --env-add K=V --update-parallelism 2 --update-delay 1s web) ||
  it_fail "service update failed: $out"
grep -q "overall progress: 6 out of 6 tasks" <<<"$out" || it_fail "no progress in: $out"
grep -q "verify: Service .* converged" <<<"$out" || it_fail "no verify line in: $out"
it_wait 20 "UpdateStatus completed" state_is completed
[ "$(it_shoal 1 service inspect web | jq -r '.[0].UpdateStatus.Message')" = "update completed" ] ||
  it_fail "wrong message: $(it_shoal 1 service inspect web | jq -c '.[0].UpdateStatus')"
it_wait 20 "every container has K=V" all_have K=V
# 3 batches with a 1 s delay after each: not all at once.
[ $(( $(date +%s) - start )) -ge 3 ] || it_fail "the update did not wait between batches"

it_log "an update to a failing command rolls back by itself"
it_shoal 1 service update -d --args "false" --update-failure-action rollback \
  --update-monitor 2s --update-parallelism 2 web >/dev/null
it_wait 60 "UpdateStatus rollback_completed" state_is rollback_completed
msg=$(it_shoal 1 service inspect web | jq -r '.[0].UpdateStatus.Message')
[ "$msg" = "rollback completed" ] || it_fail "rollback message: $msg"
[ "$(it_shoal 1 service inspect web | jq -c '.[0].Spec.TaskTemplate.ContainerSpec.Args')" = '["sleep","100000"]' ] ||
  it_fail "spec not restored: $(it_shoal 1 service inspect web | jq -c '.[0].Spec.TaskTemplate.ContainerSpec')"
it_wait 30 "6 containers back on the old spec" all_have K=V

it_log "service rollback after a good update"
it_shoal 1 service update -d --env-add K2=V2 web >/dev/null
it_wait 60 "UpdateStatus completed" state_is completed
it_wait 20 "every container has K2=V2" all_have K2=V2
out=$(it_shoal 1 service rollback web) || it_fail "service rollback failed: $out"
grep -q "rollback: manually requested rollback" <<<"$out" || it_fail "no rollback line in: $out"
it_wait 30 "UpdateStatus rollback_completed" state_is rollback_completed
it_wait 20 "K=V everywhere" all_have K=V
[ "$(env_count K2=V2)" -eq 0 ] || it_fail "K2=V2 still in $(env_count K2=V2) containers"

it_shoal 1 service rm web >/dev/null
it_log "OK"
