# Shared helpers for integration tests: N test hosts as network namespaces on
# a private bridge, a shoald in each, cleanup on any exit.
#
# Usage in a test:
#   . "$(dirname "$0")/lib.sh"
#   it_init "$BIN_DIR"            # build/bin with shoald and shoal
#   it_hosts 3                    # namespaces h1..h3 on 10.214.N.0/24
#   it_start 1                    # shoald on host 1
#   it_shoal 1 swarm init --advertise-addr "$(it_ip 1)"
#
# Hosts get no default route and the bridge has no address on the host side:
# nothing leaves the test's own namespaces. Daemons run under
# `nsenter --net` (not `ip netns exec`, which hides the cgroup mounts).

set -euo pipefail

IT_TAG="sh$$"
IT_NET="10.214.$(( $$ % 200 + 20 ))"
IT_WORK=""
IT_BIN=""
IT_PIDS=()
IT_HOSTS=0

it_log() { echo "[$(date +%T.%3N)] $*" >&2; }

it_fail() {
  it_log "FAIL: $*"
  it_dump_logs
  exit 1
}

it_dump_logs() {
  local f
  for f in "$IT_WORK"/h*/shoald.log; do
    [ -f "$f" ] || continue
    echo "----- $f (last 40 lines)" >&2
    tail -n 40 "$f" >&2 || true
    if grep -q "ERROR: AddressSanitizer\|runtime error" "$f"; then
      echo "----- $f sanitizer report" >&2
      grep -A 30 "ERROR: AddressSanitizer\|runtime error" "$f" | head -60 >&2
    fi
  done
}

# Fails if any daemon printed a sanitizer report (stopped daemons run the
# leak check at exit). Call before declaring PASS, after stopping daemons.
it_check_sanitizers() {
  local f
  for f in "$IT_WORK"/h*/shoald.log; do
    [ -f "$f" ] || continue
    if grep -q "ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:" "$f"; then
      it_fail "sanitizer report in $f"
    fi
  done
}

# Stops every daemon with SIGTERM (clean shutdown: leaks get checked).
it_stop_all() {
  local i
  for i in $(seq 1 "$IT_HOSTS"); do it_stop "$i"; done
}

it_cleanup() {
  local pid i
  for pid in "${IT_PIDS[@]:-}"; do
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  done
  for pid in "${IT_PIDS[@]:-}"; do
    [ -n "$pid" ] || continue
    for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  # Containers outlive shoald by design: delete the ones each host started
  # (their shims exit with them), then whatever is still mounted below.
  if [ -n "$IT_WORK" ] && command -v runc >/dev/null; then
    for i in $(seq 1 "$IT_HOSTS"); do
      for id in $(runc --root "$IT_WORK/h$i/run/runtime" list -q 2>/dev/null || true); do
        runc --root "$IT_WORK/h$i/run/runtime" delete -f "$id" >/dev/null 2>&1 || true
      done
    done
  fi
  if [ -n "$IT_WORK" ]; then
    { grep -F " $IT_WORK/" /proc/self/mountinfo || true; } | awk '{print $5}' | sort -r |
      while read -r m; do umount -l "$m" 2>/dev/null || true; done
  fi
  for i in $(seq 1 "$IT_HOSTS"); do ip netns del "${IT_TAG}h$i" 2>/dev/null || true; done
  ip link del "${IT_TAG}br" 2>/dev/null || true
  if [ -n "$IT_WORK" ] && [ -z "${IT_KEEP:-}" ]; then rm -rf "$IT_WORK"; fi
}

it_init() {
  IT_BIN=$1
  if [ "$(id -u)" -ne 0 ]; then echo "SKIP: needs root for network namespaces"; exit 77; fi
  [ -x "$IT_BIN/shoald" ] && [ -x "$IT_BIN/shoal" ] || it_fail "binaries missing in $IT_BIN"
  IT_WORK=$(mktemp -d /tmp/shoal-it.XXXXXX)
  trap it_cleanup EXIT
  trap 'exit 130' INT TERM
  set -E
  trap 'it_log "FAIL: command failed (line $LINENO): $BASH_COMMAND"; it_dump_logs' ERR
}

it_ip() { echo "$IT_NET.$(( $1 + 10 ))"; }

it_hosts() {
  local n=$1 i ns
  ip link add "${IT_TAG}br" type bridge
  ip link set "${IT_TAG}br" up
  for i in $(seq 1 "$n"); do
    ns="${IT_TAG}h$i"
    ip netns add "$ns"
    IT_HOSTS=$i
    ip link add "${IT_TAG}v$i" type veth peer name eth0 netns "$ns"
    ip link set "${IT_TAG}v$i" master "${IT_TAG}br" up
    ip -n "$ns" addr add "$(it_ip "$i")/24" dev eth0
    ip -n "$ns" link set lo up
    ip -n "$ns" link set eth0 up
    mkdir -p "$IT_WORK/h$i"
  done
}

it_sock() { echo "$IT_WORK/h$1/shoal.sock"; }

# Starts shoald on host i (extra flags appended).
it_start() {
  local i=$1; shift
  nsenter --net="/run/netns/${IT_TAG}h$i" "$IT_BIN/shoald" \
    --data-root "$IT_WORK/h$i/data" --exec-root "$IT_WORK/h$i/run" \
    -H "unix://$(it_sock "$i")" --hostname "host$i" --log-level debug "$@" \
    >>"$IT_WORK/h$i/shoald.log" 2>&1 &
  IT_PIDS[$i]=$!
  it_wait 10 "shoald $i API" "$IT_BIN/shoal" -H "unix://$(it_sock "$i")" version >/dev/null
}

# Stops shoald on host i with SIGTERM (or the given signal).
it_stop() {
  local i=$1 sig=${2:-TERM} pid=${IT_PIDS[$1]:-} n
  [ -n "$pid" ] || return 0
  kill "-$sig" "$pid" 2>/dev/null || true
  for n in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && it_fail "shoald $i did not stop on SIG$sig"
  wait "$pid" 2>/dev/null || true
  IT_PIDS[$i]=""
}

it_shoal() {
  local i=$1; shift
  "$IT_BIN/shoal" -H "unix://$(it_sock "$i")" "$@"
}

# it_wait SECONDS WHAT CMD...: retries CMD until it succeeds.
it_wait() {
  local secs=$1 what=$2 end; shift 2
  end=$(( $(date +%s) + secs ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -ge "$end" ] && it_fail "timed out after ${secs}s waiting for $what"
    sleep 0.1
  done
}

# it_expect_fail PATTERN CMD...: CMD must fail and print PATTERN.
it_expect_fail() {
  local pat=$1 out; shift
  if out=$("$@" 2>&1); then it_fail "expected failure from: $* (got: $out)"; fi
  echo "$out" | grep -q -- "$pat" || it_fail "expected '$pat' from: $* (got: $out)"
}

# it_workers_cluster N: N hosts with shoald, host 1 the manager (swarm init, heartbeat 1 s),
# the others workers; waits for N Ready nodes and loads the demo image
# (deploy/mkimage-demo.sh) on every host.
it_workers_cluster() {
  local n=$1 i tok src
  command -v runc >/dev/null || { echo "SKIP: runc not installed"; exit 77; }
  it_hosts "$n"
  for i in $(seq 1 "$n"); do it_start "$i"; done
  it_shoal 1 swarm init --advertise-addr "$(it_ip 1)" --dispatcher-heartbeat 1s >/dev/null
  tok=$(it_shoal 1 swarm join-token -q worker)
  for i in $(seq 2 "$n"); do
    it_shoal "$i" swarm join --token "$tok" --advertise-addr "$(it_ip "$i")" "$(it_ip 1):2377" >/dev/null
  done
  it_wait 30 "$n Ready nodes" it_ready_nodes "$n"
  src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  "$src/deploy/mkimage-demo.sh" "$IT_WORK/demo.tar" >/dev/null
  for i in $(seq 1 "$n"); do it_shoal "$i" image load -i "$IT_WORK/demo.tar" >/dev/null; done
}

it_ready_nodes() { [ "$(it_shoal 1 node ls --format '{{.Status}}' | grep -c Ready)" -eq "$1" ]; }
