#!/bin/bash
# Build a tiny busybox-based Incus container image (unified tarball: metadata.yaml + rootfs/)
# and import it as alias $IMAGE_ALIAS. Needs: busybox-static (Debian), a running incusd.
# The container's init is busybox init; /etc/init.d/rcS brings up lo and runs udhcpc on eth0.
set -euo pipefail
IMAGE_ALIAS=${IMAGE_ALIAS:-coi-busybox}
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
: > "$R/etc/resolv.conf"

cat > "$WORK/metadata.yaml" <<EOF
architecture: $(uname -m)
creation_date: $(date +%s)
properties:
  architecture: $(uname -m)
  description: busybox $("$BUSYBOX" | head -1 | awk '{print $2}') lab image for coi-tui
  os: busybox
  release: static
templates: {}
EOF

tar -C "$WORK" --numeric-owner -czf "$WORK/image.tar.gz" metadata.yaml rootfs
incus image delete "$IMAGE_ALIAS" >/dev/null 2>&1 || true
incus image import "$WORK/image.tar.gz" --alias "$IMAGE_ALIAS"
incus image list "$IMAGE_ALIAS" -f csv -c lfsd
