#!/usr/bin/env bash
# Registry pull end to end: Debian's docker-registry on 127.0.0.1 with
# htpasswd basic auth, the mkimage-busybox image pushed with skopeo, a real
# shoald (outside any swarm), and `shoal image pull/ls/rm` with and without
# the right credentials. Everything listens on loopback only; every process
# started here is stopped by pid on exit.
set -euo pipefail
BIN=${1:?usage: image_registry.sh BIN_DIR}
MKIMAGE=${MKIMAGE:-/work/shared/tools/mkimage-busybox.sh}
[ -f "$MKIMAGE" ] || MKIMAGE="$(dirname "$0")/../../../shared/tools/mkimage-busybox.sh"
for t in docker-registry skopeo htpasswd; do
  command -v "$t" >/dev/null || { echo "SKIP: $t not installed (deploy/install-deps.sh)"; exit 77; }
done
[ -f "$MKIMAGE" ] || { echo "SKIP: mkimage-busybox.sh not found"; exit 77; }

W=$(mktemp -d /tmp/shoal-it-image-XXXXXX)
REG_PID=""
D_PID=""
log() { echo "[$(date +%T.%3N)] $*" >&2; }
cleanup() {
  local p
  for p in $D_PID $REG_PID; do kill "$p" 2>/dev/null || true; done
  for p in $D_PID $REG_PID; do
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  done
  [ -n "${IT_KEEP:-}" ] || rm -rf "$W"
}
trap cleanup EXIT
fail() {
  log "FAIL: $*"
  tail -n 30 "$W/shoald.log" >&2 2>/dev/null || true
  tail -n 10 "$W/registry.log" >&2 2>/dev/null || true
  exit 1
}

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
REG=127.0.0.1:$PORT
htpasswd -nbB u p > "$W/htpasswd"
cat > "$W/registry.yml" <<YML
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $W/registry
http:
  addr: $REG
auth:
  htpasswd:
    realm: shoal-test
    path: $W/htpasswd
YML
docker-registry serve "$W/registry.yml" > "$W/registry.log" 2>&1 &
REG_PID=$!
for _ in $(seq 1 50); do
  curl -s -o /dev/null "http://$REG/v2/" && break
  sleep 0.1
done
"$MKIMAGE" "$W/busybox.tar" >/dev/null
skopeo copy -q --dest-creds u:p --dest-tls-verify=false "oci-archive:$W/busybox.tar" \
  "docker://$REG/busybox:latest" >/dev/null || fail "skopeo push"
log "registry up at $REG with busybox:latest"

"$BIN/shoald" --data-root "$W/data" --exec-root "$W/exec" -H "unix://$W/shoal.sock" \
  > "$W/shoald.log" 2>&1 &
D_PID=$!
shoal() { "$BIN/shoal" -H "unix://$W/shoal.sock" "$@"; }
for _ in $(seq 1 50); do shoal version >/dev/null 2>&1 && break; sleep 0.1; done

out=$(shoal image pull "$REG/busybox:latest" 2>&1) && fail "pull without credentials succeeded: $out"
echo "$out" | grep -q "unauthorized" || fail "pull without credentials: $out"
out=$(shoal image pull --user u --password wrong "$REG/busybox:latest" 2>&1) && fail "wrong password accepted"
echo "$out" | grep -q "incorrect username or password" || fail "wrong password: $out"
[ -z "$(shoal image ls -q)" ] || fail "a failed pull left an image"

out=$(shoal image pull --user u --password p "$REG/busybox:latest") || fail "pull: $out"
echo "$out" | grep -q "Status: Downloaded newer image for $REG/busybox:latest" || fail "pull status: $out"
echo "$out" | tail -1 | grep -qx "$REG/busybox:latest" || fail "pull last line: $out"
shoal image ls | grep -q "^$REG/busybox  *latest  *[0-9a-f]\{12\} " || fail "image ls: $(shoal image ls)"
digest=$(shoal image inspect "$REG/busybox") || fail "inspect"
echo "$digest" | grep -q "\"$REG/busybox@sha256:[0-9a-f]\{64\}\"" || fail "RepoDigests: $digest"

out=$(SHOAL_REGISTRY_USER=u SHOAL_REGISTRY_PASSWORD=p shoal image pull "$REG/busybox") || fail "re-pull: $out"
echo "$out" | grep -q "Image is up to date" || fail "re-pull: $out"

shoal image rm "$REG/busybox:latest" | grep -q "^Deleted: sha256:" || fail "image rm"
[ -z "$(shoal image ls -q)" ] || fail "image still listed after rm"

kill "$D_PID"; wait "$D_PID" 2>/dev/null || true; D_PID=""
if grep -q "ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:" "$W/shoald.log"; then
  fail "sanitizer report in shoald.log"
fi
log "PASS"
