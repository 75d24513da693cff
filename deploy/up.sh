#!/usr/bin/env bash
# Quickstart on a fresh Debian 12 machine, as root:
#
#   ./deploy/up.sh            install what is missing, build, start shoald, swarm init, load the
#                             demo image (built here from busybox-static) and run a demo web service
#   ./deploy/up.sh --nodes N  the same as an N-host cluster on this machine: one network namespace
#                             per host on a private bridge (host 1 the manager, the rest workers)
#   ./deploy/up.sh --down     stop the demo, every shoald and its containers; remove the state
#
# State lives under /var/lib/shoal-up/hI (data roots) and /run/shoal-up/hI (exec roots); host 1's
# API socket is the default /run/shoal/shoal.sock, so `build/bin/shoal` and `docker` find it
# without flags (other hosts: /run/shoal-up/hI/shoal.sock).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
data=/var/lib/shoal-up
exec_root=/run/shoal-up
sock=/run/shoal/shoal.sock
logdir=/var/log/shoal-up
shoal="$root/build/bin/shoal"
bridge=shoalup0
netpfx=shoalup-h

die() { echo "up.sh: $*" >&2; exit 1; }
host_sock() { if [ "$1" -eq 1 ]; then echo "$sock"; else echo "$exec_root/h$1/shoal.sock"; fi; }
sh_on() { local i=$1; shift; "$shoal" -H "unix://$(host_sock "$i")" "$@"; }

down() {
  local pidf pid id i m
  if [ -x "$shoal" ] && [ -S "$sock" ]; then
    sh_on 1 service rm demo >/dev/null 2>&1 || true
    sleep 1
  fi
  for pidf in "$exec_root"/h*/shoald.pid; do
    [ -f "$pidf" ] || continue
    pid=$(cat "$pidf")
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid"
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    fi
    rm -f "$pidf"
  done
  # Containers outlive shoald by design: remove the ones the quickstart started.
  if command -v runc >/dev/null; then
    for i in "$exec_root"/h*/runtime; do
      [ -d "$i" ] || continue
      for id in $(runc --root "$i" list -q 2>/dev/null || true); do
        runc --root "$i" delete -f "$id" >/dev/null 2>&1 || true
      done
    done
  fi
  { grep -F " $exec_root/" /proc/self/mountinfo || true; } | awk '{print $5}' | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null || true; done
  for i in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$netpfx" || true); do
    ip netns del "$i" 2>/dev/null || true
  done
  ip link del "$bridge" 2>/dev/null || true
  rm -rf "$data" "$exec_root"
  [ -S "$sock" ] && rm -f "$sock"
  echo "up.sh: stopped and cleaned up"
}

# A /24 for the namespaces that overlaps no route or address of this machine.
pick_net() {
  local c
  for c in $(seq 218 250); do
    if ! ip -4 route show | grep -q "^10\.$c\." && ! ip -4 addr show | grep -q "inet 10\.$c\."; then
      echo "10.$c.0"
      return 0
    fi
  done
  die "no free 10.x.0.0/24 subnet for the namespaces"
}

nodes=1
case "${1:-}" in
  --down) down; exit 0 ;;
  --nodes)
    nodes=${2:-}
    [[ "$nodes" =~ ^[0-9]+$ ]] && [ "$nodes" -ge 1 ] && [ "$nodes" -le 9 ] ||
      die "--nodes wants a number of hosts from 1 to 9, got '${2:-}'" ;;
  "") ;;
  -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
  *) die "unknown option $1 (try --help)" ;;
esac

[ "$(id -u)" -eq 0 ] || die "run as root (shoald manages mounts, namespaces and runc)"
./deploy/install-deps.sh

echo "up.sh: building into build/"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DSHOAL_SANITIZE=OFF >/dev/null
cmake --build build -j"$(nproc)" >/dev/null

if [ -f "$exec_root/h1/shoald.pid" ] && kill -0 "$(cat "$exec_root/h1/shoald.pid")" 2>/dev/null; then
  die "a quickstart is already running; ./deploy/up.sh --down first"
fi
[ -S "$sock" ] && "$shoal" version >/dev/null 2>&1 && die "another daemon answers on $sock; stop it first"
rm -f "$sock"
mkdir -p "$logdir" "$(dirname "$sock")"

net=""
if [ "$nodes" -gt 1 ]; then
  net=$(pick_net)
  ip link add "$bridge" type bridge
  ip link set "$bridge" up
fi
addr_of() { if [ -n "$net" ]; then echo "$net.$(( $1 + 10 ))"; else echo 127.0.0.1; fi; }

for i in $(seq 1 "$nodes"); do
  mkdir -p "$exec_root/h$i" "$data/h$i"
  run=()
  if [ -n "$net" ]; then
    # No default route and no address on the bridge: nothing leaves these namespaces.
    ip netns add "$netpfx$i"
    ip link add "shoalup$i" type veth peer name eth0 netns "$netpfx$i"
    ip link set "shoalup$i" master "$bridge" up
    ip -n "$netpfx$i" addr add "$(addr_of "$i")/24" dev eth0
    ip -n "$netpfx$i" link set lo up
    ip -n "$netpfx$i" link set eth0 up
    run=(nsenter "--net=/run/netns/$netpfx$i")
  fi
  setsid "${run[@]}" "$root/build/bin/shoald" --data-root "$data/h$i" --exec-root "$exec_root/h$i" \
    -H "unix://$(host_sock "$i")" --hostname "$(hostname)-$i" >"$logdir/h$i.log" 2>&1 </dev/null &
  echo $! >"$exec_root/h$i/shoald.pid"
done
for i in $(seq 1 "$nodes"); do
  for _ in $(seq 100); do [ -S "$(host_sock "$i")" ] && break; sleep 0.1; done
  [ -S "$(host_sock "$i")" ] || die "shoald $i did not start; see $logdir/h$i.log"
done
echo "up.sh: $nodes shoald running (logs in $logdir)"

sh_on 1 swarm init --advertise-addr "$(addr_of 1)" >/dev/null
for i in $(seq 2 "$nodes"); do
  sh_on "$i" swarm join --token "$(sh_on 1 swarm join-token -q worker)" \
    --advertise-addr "$(addr_of "$i")" "$(addr_of 1):2377" >/dev/null
done
echo "up.sh: swarm of $nodes node(s) initialised"

img=$(mktemp --suffix=.tar)
trap 'rm -f "$img"' EXIT
./deploy/mkimage-demo.sh "$img" shoal-demo:latest >/dev/null
for i in $(seq 1 "$nodes"); do sh_on "$i" image load -i "$img" >/dev/null; done
echo "up.sh: demo image shoal-demo:latest loaded on every node"

sh_on 1 service create --name demo --replicas 3 shoal-demo:latest
"$shoal" node ls
echo
"$shoal" service ps demo
cat <<EOF

The demo service runs three busybox httpd containers. Publishing ports (-p 8080:80) arrives
with the overlay issue; until then each container has its own network namespace with loopback
only, and you reach one through its process:

  pid=\$(runc --root $exec_root/h1/runtime state \$(runc --root $exec_root/h1/runtime list -q | head -1) | sed -n 's/.*"pid": \\([0-9]*\\).*/\\1/p')
  nsenter -t \$pid -n wget -qO- http://127.0.0.1/cgi-bin/whoami

Next, try:
  $shoal service scale demo=6
  $shoal service logs demo
  $shoal service update --env-add GREETING=hi demo
  $shoal secret create greeting - <<< hello
  $shoal service create --name greeter --secret greeting shoal-demo:latest sh -c 'cat /run/secrets/greeting; sleep 3600'
  $shoal node ls
  DOCKER_HOST=unix://$sock docker service ls
  ./deploy/up.sh --down
EOF
