#!/usr/bin/env bash
# Time from `service create --replicas 30` to 30 running containers on one host, beside the
# floor measured in the same run: 30 bare `runc run -d` of the same image, one after the other,
# each with its own overlay root filesystem over the same unpacked layer (what any container
# engine has to do at least). Then per-task shim memory, and shoald's RSS with 100 running
# tasks. Targets (issue 5): within 1.2x of the floor; shim RSS < 1 MiB; (Docker Swarm 20.10
# took 14-27 s for 30 replicas on this kind of machine.)
#
#   sudo bench/services.sh [BIN_DIR]          # BIN_DIR default build/bin (Release build)
#
# Environment: REPLICAS (30), MANY (100), ROUNDS (3: the create is timed ROUNDS times, the
# floor too, alternating; medians are reported).
. "$(dirname "$0")/lib.sh"
BIN=$(bn_bin_dir "${1:-}")
REPLICAS=${REPLICAS:-30}
MANY=${MANY:-100}
ROUNDS=${ROUNDS:-3}
[ -x "$BIN/shoald" ] && [ -x "$BIN/shoal" ] && [ -x "$BIN/shoal-shim" ] ||
  { echo "shoald/shoal/shoal-shim missing in $BIN" >&2; exit 1; }
command -v runc >/dev/null || { echo "runc missing" >&2; exit 1; }
bn_init
bn_hosts 1
src=$(cd "$(dirname "$0")/.." && pwd)
sock=$BN_WORK/h1/shoal.sock
runc_root=$BN_WORK/h1/run/runtime
cli() { "$BIN/shoal" -H "unix://$sock" "$@"; }
running() { runc --root "$runc_root" list 2>/dev/null | awk 'NR>1 && $3=="running"' | wc -l; }
kib() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

# Containers outlive shoald by design: the cleanup removes them and their mounts.
bench_cleanup_containers() {
  # shoald first, or its restart supervisor replaces what we delete.
  if [ -n "${SHOALD:-}" ]; then
    kill "$SHOALD" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$SHOALD" 2>/dev/null || break; sleep 0.1; done
  fi
  for root in "$runc_root" "$BN_WORK/floor/runc"; do
    for id in $(runc --root "$root" list -q 2>/dev/null); do
      runc --root "$root" delete -f "$id" >/dev/null 2>&1 || true
    done
  done
  { grep -F " $BN_WORK/" /proc/self/mountinfo || true; } | awk '{print $5}' | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null || true; done
}
trap 'bench_cleanup_containers; bn_cleanup' EXIT

bn_spawn 1 "$BN_WORK/h1/shoald.log" "$BIN/shoald" --data-root "$BN_WORK/h1/data" \
  --exec-root "$BN_WORK/h1/run" -H "unix://$sock" --hostname bench1 --log-level warn
SHOALD=$BN_LAST_PID
bn_wait 10 "shoald API" cli version
cli swarm init --advertise-addr "$(bn_ip 1)" >/dev/null
"$src/deploy/mkimage-demo.sh" "$BN_WORK/demo.tar" bench:latest >/dev/null
cli image load -i "$BN_WORK/demo.tar" >/dev/null

# The floor's root filesystem: the same single layer, unpacked once, shared read-only.
floor=$BN_WORK/floor
mkdir -p "$floor/layer" "$floor/runc"
tar -xf "$BN_WORK/demo.tar" -C "$floor" --wildcards '*/layer.tar'
tar -xf "$floor"/*/layer.tar -C "$floor/layer"
floor_run() {
  local i dir
  for i in $(seq 1 "$REPLICAS"); do
    dir=$floor/c$i
    mkdir -p "$dir/rootfs" "$dir/upper" "$dir/work"
    mount -t overlay overlay -o "lowerdir=$floor/layer,upperdir=$dir/upper,workdir=$dir/work" "$dir/rootfs"
    (cd "$dir" && runc spec && sed -i 's/"terminal": true/"terminal": false/; s/"sh"/"sleep", "3600"/' config.json)
    runc --root "$floor/runc" run -d --bundle "$dir" "floor$i" >/dev/null 2>&1 </dev/null
  done
}
floor_clean() {
  local i
  for i in $(seq 1 "$REPLICAS"); do
    runc --root "$floor/runc" delete -f "floor$i" >/dev/null 2>&1 || true
    umount "$floor/c$i/rootfs" 2>/dev/null || true
    rm -rf "$floor/c$i"
  done
}

T_SHOAL=()
T_FLOOR=()
for r in $(seq 1 "$ROUNDS"); do
  t0=$(bn_now_ms)
  floor_run
  t1=$(bn_now_ms)
  [ "$(runc --root "$floor/runc" list | awk 'NR>1 && $3=="running"' | wc -l)" -eq "$REPLICAS" ] ||
    bn_fail "floor: not all $REPLICAS bare containers run"
  T_FLOOR+=($((t1 - t0)))
  floor_clean

  t0=$(bn_now_ms)
  cli service create -d --name "b$r" --replicas "$REPLICAS" bench:latest sleep 3600 >/dev/null
  until [ "$(running)" -ge "$REPLICAS" ]; do
    [ $(( $(bn_now_ms) - t0 )) -gt 120000 ] && bn_fail "round $r: $(running)/$REPLICAS running after 120 s"
    sleep 0.02
  done
  t1=$(bn_now_ms)
  T_SHOAL+=($((t1 - t0)))
  bn_log "round $r: floor ${T_FLOOR[-1]} ms, shoal ${T_SHOAL[-1]} ms"
  if [ "$r" -lt "$ROUNDS" ]; then
    cli service rm "b$r" >/dev/null
    until [ "$(running)" -eq 0 ]; do sleep 0.05; done
    sleep 1
  fi
done
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
MF=$(median "${T_FLOOR[@]}")
MS=$(median "${T_SHOAL[@]}")

# Shims of the running tasks.
SHIMS=$(pgrep -f "shoal-shim .*$BN_WORK/" || true)
n_shims=$(echo "$SHIMS" | grep -c . || true)
shim_sum=0
shim_max=0
for p in $SHIMS; do
  v=$(kib "$p" VmRSS 2>/dev/null || true)
  [ -n "$v" ] || continue
  shim_sum=$((shim_sum + v))
  [ "$v" -gt "$shim_max" ] && shim_max=$v
done
RSS_30=$(kib "$SHOALD" VmRSS)

# shoald with MANY running tasks.
cli service scale -d "b$ROUNDS=$MANY" >/dev/null
t0=$(bn_now_ms)
until [ "$(running)" -ge "$MANY" ]; do
  [ $(( $(bn_now_ms) - t0 )) -gt 300000 ] && bn_fail "$(running)/$MANY running after 300 s"
  sleep 0.1
done
sleep 2
RSS_MANY=$(kib "$SHOALD" VmRSS)

echo
echo "bench/services: one host, $(nproc) cores, $(grep -q 'CMAKE_BUILD_TYPE:STRING=Release' "$BIN/../CMakeCache.txt" 2>/dev/null && echo 'Release build' || echo 'build type unknown: measure Release'), medians of $ROUNDS rounds"
printf "%-58s %10s\n" "what" "value"
printf "%-58s %10s\n" "floor: $REPLICAS x runc run -d (overlay rootfs each), ms" "$MF"
printf "%-58s %10s\n" "shoal: service create --replicas $REPLICAS -> all running, ms" "$MS"
printf "%-58s %10s\n" "ratio shoal / floor (target <= 1.2)" "$(awk -v a="$MS" -v b="$MF" 'BEGIN { printf "%.2f", a / b }')"
printf "%-58s %10s\n" "shim VmRSS per task, KiB (avg of $n_shims; target < 1024)" "$(( n_shims ? shim_sum / n_shims : 0 ))"
printf "%-58s %10s\n" "shim VmRSS max, KiB" "$shim_max"
printf "%-58s %10s\n" "shoald VmRSS with $REPLICAS running tasks, KiB" "$RSS_30"
printf "%-58s %10s\n" "shoald VmRSS with $MANY running tasks, KiB" "$RSS_MANY"
