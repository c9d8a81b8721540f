#!/bin/bash
# Build a tiny busybox-based Incus container image (unified tarball: metadata.yaml + rootfs/)
# and import it as alias $IMAGE_ALIAS. Needs: busybox-static (Debian), musl-tools, a running incusd.
# The container's init is busybox init; /etc/init.d/rcS brings up lo and runs udhcpc on eth0.
# /usr/bin/hget (hget.c, static musl) fetches http:// URLs by name with a timeout that works
# (busybox wget -T segfaults); musl's getaddrinfo reads /etc/hosts, then resolv.conf.
# The image property lab_version (= $IMAGE_VERSION, set by scripts/lab) tells `up` whether the
# image is outdated; Incus copies it to each container as image.lab_version.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
IMAGE_ALIAS=${IMAGE_ALIAS:-coi-busybox}
IMAGE_VERSION=${IMAGE_VERSION:?set by scripts/lab}
WORK=${WORK:-/var/tmp/coi-image}
BUSYBOX=${BUSYBOX:-/bin/busybox}

# must be static: the container has no libc. `ldd` exits non-zero on a static binary.
if [ ! -x "$BUSYBOX" ] || ldd "$BUSYBOX" >/dev/null 2>&1; then
  echo "need a static busybox at $BUSYBOX (apt-get install busybox-static)" >&2; exit 1
fi

rm -rf "$WORK"; mkdir -p "$WORK/rootfs"
R=$WORK/rootfs
mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,etc/init.d,proc,sys,dev,tmp,run,root,var/run,usr/share/udhcpc}
chmod 1777 "$R/tmp"
cp "$BUSYBOX" "$R/bin/busybox"
# one symlink per applet (busybox --list-full gives e.g. "usr/bin/wget")
for app in $("$BUSYBOX" --list-full); do
  [ -e "$R/$app" ] || ln -s /bin/busybox "$R/$app"
done
command -v musl-gcc >/dev/null || { echo "need musl-gcc (apt-get install musl-tools)" >&2; exit 1; }
musl-gcc -static -Os -Wall -o "$R/usr/bin/hget" "$HERE/hget.c"
strip "$R/usr/bin/hget"
if ldd "$R/usr/bin/hget" >/dev/null 2>&1; then echo "hget is not static" >&2; exit 1; fi

cat > "$R/etc/inittab" <<'EOF'
::sysinit:/etc/init.d/rcS
::shutdown:/bin/umount -a -r
EOF
# busybox init halts on SIGPWR (what `incus stop` sends) / SIGUSR1 / SIGUSR2.

cat > "$R/etc/init.d/rcS" <<'EOF'
#!/bin/sh
ip link set lo up
# -b: go to background if no lease yet, keeps renewing; -S: log to syslog (none) -> quiet
udhcpc -i eth0 -s /usr/share/udhcpc/default.script -b -t 20 -T 1 -x hostname:$(hostname) >/dev/null 2>&1
EOF
chmod +x "$R/etc/init.d/rcS"

cat > "$R/usr/share/udhcpc/default.script" <<'EOF'
#!/bin/sh
case "$1" in
  deconfig)
    ip -4 addr flush dev "$interface"
    ip link set "$interface" up
    ;;
  bound|renew)
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    if [ -n "$router" ]; then
      ip route replace default via "${router%% *}" dev "$interface"
    fi
    : > /etc/resolv.conf
    for d in $dns; do echo "nameserver $d" >> /etc/resolv.conf; done
    ;;
esac
exit 0
EOF
chmod +x "$R/usr/share/udhcpc/default.script"

printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$R/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$R/etc/group"
echo busybox > "$R/etc/hostname"
# what a distro image has; COI's allowlist mode appends its block (the containers' only resolver)
printf '127.0.0.1\tlocalhost\n' > "$R/etc/hosts"
: > "$R/etc/resolv.conf"

cat > "$WORK/metadata.yaml" <<EOF
architecture: $(uname -m)
creation_date: $(date +%s)
properties:
  architecture: $(uname -m)
  description: busybox $("$BUSYBOX" | head -1 | awk '{print $2}') + hget lab image for coi-tui (lab_version $IMAGE_VERSION)
  os: busybox
  release: static
  lab_version: "$IMAGE_VERSION"
templates: {}
EOF

tar -C "$WORK" --numeric-owner -czf "$WORK/image.tar.gz" metadata.yaml rootfs
# import first, then move the alias: a launch running meanwhile finds the old or the new image,
# never none. A unified tarball's fingerprint is its sha256.
new=$(sha256sum "$WORK/image.tar.gz" | cut -d' ' -f1)
old=$(incus query "/1.0/images/aliases/$IMAGE_ALIAS" 2>/dev/null | sed -n 's/.*"target": "\([0-9a-f]*\)".*/\1/p')
incus image import "$WORK/image.tar.gz"
if [ -n "$old" ]; then incus image alias delete "$IMAGE_ALIAS"; fi
incus image alias create "$IMAGE_ALIAS" "$new"
if [ -n "$old" ] && [ "$old" != "$new" ]; then incus image delete "$old"; fi
incus image list "$IMAGE_ALIAS" -f csv -c lfsd
