#!/usr/bin/env bash
# Builds shoal's demo image, offline, from Debian's busybox-static.
#
#   deploy/mkimage-demo.sh OUT.tar [NAME:TAG]      (default shoal-demo:latest)
#
# OUT.tar is a classic `docker save` archive (manifest.json, repositories, <id>.json config,
# <layer>/layer.tar), loadable with `shoal image load -i OUT.tar` or `docker load`. The image
# holds busybox and its applets, and a web root /srv/www served by
#   httpd -f -p 80 -h /srv/www
# whose /cgi-bin/whoami answers with the container's hostname (the task that answered) and
# whose index page says which image it is. The layer is reproducible: same input, same digest.
set -euo pipefail
out=${1:?usage: mkimage-demo.sh OUT.tar [NAME:TAG]}
ref=${2:-shoal-demo:latest}
name=${ref%:*}
tag=${ref##*:}
[ "$name" != "$ref" ] || tag=latest

bb=/bin/busybox
# Debian's busybox-static installs a static /bin/busybox; the dynamic `busybox` package has
# the same path, so check that it really is static before copying it into an image.
if ! [ -x "$bb" ] || ldd "$bb" >/dev/null 2>&1; then
  if command -v apt-get >/dev/null && [ "$(id -u)" -eq 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null
  fi
fi
if ! [ -x "$bb" ] || ldd "$bb" >/dev/null 2>&1; then
  echo "mkimage-demo: need a static $bb (Debian package busybox-static)" >&2
  exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rootfs=$tmp/rootfs
install -d "$rootfs/bin" "$rootfs/etc" "$rootfs/srv/www/cgi-bin" "$rootfs/proc" "$rootfs/sys" \
  "$rootfs/dev" "$rootfs/run" "$rootfs/var/log"
install -d -m 1777 "$rootfs/tmp"
install -m 0755 "$bb" "$rootfs/bin/busybox"
"$bb" --list | while read -r applet; do
  [ "$applet" = busybox ] && continue
  ln -sf busybox "$rootfs/bin/$applet"
done
cat > "$rootfs/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
www:x:33:33:www:/srv/www:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat > "$rootfs/etc/group" <<'EOF'
root:x:0:
www:x:33:
nobody:x:65534:
EOF
cat > "$rootfs/srv/www/index.html" <<EOF
<!doctype html>
<title>shoal demo</title>
<p>Hello from <b>$ref</b>, a shoal service. <a href="/cgi-bin/whoami">Which task answered?</a>
EOF
cat > "$rootfs/srv/www/cgi-bin/whoami" <<'EOF'
#!/bin/sh
printf 'Content-Type: text/plain\r\n\r\n'
hostname
EOF
chmod 0755 "$rootfs/srv/www/cgi-bin/whoami"

# One layer, fixed ordering, owners and times so the digest only depends on the content.
tar --sort=name --numeric-owner --owner=0 --group=0 --mtime=@0 --format=posix \
  --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
  -C "$rootfs" -cf "$tmp/layer.tar" .
diff_id=$(sha256sum "$tmp/layer.tar" | cut -d' ' -f1)

cat > "$tmp/config.json" <<EOF
{"architecture":"amd64","os":"linux","created":"1970-01-01T00:00:00Z","config":{"Env":["PATH=/bin"],"Cmd":["httpd","-f","-p","80","-h","/srv/www"],"WorkingDir":"/srv/www","ExposedPorts":{"80/tcp":{}},"Labels":{"org.opencontainers.image.title":"shoal demo"}},"rootfs":{"type":"layers","diff_ids":["sha256:$diff_id"]},"history":[{"created":"1970-01-01T00:00:00Z","created_by":"deploy/mkimage-demo.sh"}]}
EOF
config_id=$(sha256sum "$tmp/config.json" | cut -d' ' -f1)

# docker save's classic layout: a directory per layer, named by a layer id.
arch=$tmp/archive
install -d "$arch/$diff_id"
mv "$tmp/layer.tar" "$arch/$diff_id/layer.tar"
printf '1.0' > "$arch/$diff_id/VERSION"
printf '{"id":"%s","created":"1970-01-01T00:00:00Z","os":"linux"}' "$diff_id" > "$arch/$diff_id/json"
mv "$tmp/config.json" "$arch/$config_id.json"
printf '[{"Config":"%s.json","RepoTags":["%s:%s"],"Layers":["%s/layer.tar"]}]\n' \
  "$config_id" "$name" "$tag" "$diff_id" > "$arch/manifest.json"
printf '{"%s":{"%s":"%s"}}\n' "$name" "$tag" "$diff_id" > "$arch/repositories"
tar --sort=name --numeric-owner --owner=0 --group=0 --mtime=@0 -C "$arch" -cf "$out" .
echo "$out: $name:$tag sha256:$config_id"
