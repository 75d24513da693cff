#!/usr/bin/env bash
# Installs the Debian packages shoal needs to build and test, only those missing.
# Idempotent and quiet when nothing is missing. Must run as root on Debian 12.
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config
  libuv1-dev libprotobuf-c-dev protobuf-c-compiler libsodium-dev
  libraft-dev libcriterion-dev libjansson-dev libhttp-parser-dev
  libarchive-dev libcurl4-openssl-dev runc busybox-static docker-registry skopeo apache2-utils
  iproute2 util-linux procps
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]} (run as root to install them)" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/shoal-apt.log 2>&1; then
  apt-get update -q >>/tmp/shoal-apt.log 2>&1 || true
  if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >>/tmp/shoal-apt.log 2>&1; then
    echo "install-deps: apt-get failed; see /tmp/shoal-apt.log" >&2
    tail -n 20 /tmp/shoal-apt.log >&2
    exit 1
  fi
fi
