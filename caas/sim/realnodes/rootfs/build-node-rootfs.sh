#!/usr/bin/env bash
# Builds the base root filesystem of the simulated cloud's real nodes
# (caas.sim.realnodes): Debian bookworm minbase with docker.io, cloud-init
# and what a node's bootstrap calls, shared read-only by every node under
# its own overlay. Idempotent and atomic: a finished tree carries a stamp
# file and is never rebuilt; a build happens in a temporary directory next
# to the destination and is renamed into place only when it is complete.
#
#   build-node-rootfs.sh [DEST]     (root; default below)
#   build-node-rootfs.sh --path     print the default DEST
#
# Shipped inside the caas package (caas/sim/realnodes/rootfs/, beside the
# systemctl stand-in it installs) so that an installed caas-all
# --real-nodes can build the base; tools/build-node-rootfs.sh runs it from a
# checkout. Needs Linux, root, debootstrap and a Debian mirror
# (CAAS_DEBIAN_MIRROR, else the first one apt uses, else deb.debian.org).
# Downloaded packages are kept in $CAAS_NODE_CACHE/debs for the next build.
# With CAAS_BUILD_PROGRESS=1 the output of debootstrap and apt's status
# lines go to stderr as they come (caas.sim.realnodes.base draws a
# progress display from them); otherwise only the steps are logged.
set -euo pipefail

# Bump when the contents change: nodes use node-rootfs-<VERSION>.
VERSION=1
SUITE=bookworm
PACKAGES=(docker.io containerd runc tini iptables cloud-init iproute2
          ca-certificates curl openssl procps iputils-ping busybox-static)
CACHE=${CAAS_NODE_CACHE:-/var/cache/caas-ci}
STAMP=.caas-node-rootfs
HERE=$(cd "$(dirname "$0")" && pwd)

if [ "${1:-}" = --path ]; then
    echo "$CACHE/node-rootfs-$VERSION"
    exit 0
fi
DEST=${1:-$CACHE/node-rootfs-$VERSION}

log() {
    printf '%s build-node-rootfs: %s\n' "$(date -u +%T)" "$*" >&2
}

if [ -f "$DEST/$STAMP" ]; then
    log "cached: $DEST"
    echo "$DEST"
    exit 0
fi
if [ "$(uname -s)" != Linux ] || [ "$(id -u)" != 0 ]; then
    log "real nodes need Linux and root (debootstrap, chroot, namespaces)"
    exit 2
fi
if ! command -v debootstrap >/dev/null; then
    log "debootstrap is missing: apt-get install debootstrap"
    exit 2
fi

mirror() {
    if [ -n "${CAAS_DEBIAN_MIRROR:-}" ]; then
        echo "$CAAS_DEBIAN_MIRROR"
        return
    fi
    local uri
    uri=$(grep -hs -m1 -E '^(URIs:|deb) ' /etc/apt/sources.list.d/*.sources \
        /etc/apt/sources.list | grep -v security | head -n 1 \
        | sed -E 's/^URIs: *//; s/^deb +(\[[^]]*\] +)?//; s/ .*//') || true
    echo "${uri:-http://deb.debian.org/debian}"
}

parent=$(dirname "$DEST")
mkdir -p "$parent" "$CACHE/debs"
tmp=$(mktemp -d "$parent/.node-rootfs-$VERSION.XXXXXX")
chmod 0755 "$tmp"
cleanup() {
    rm -rf --one-file-system "$tmp" "$tmp.log"
}
trap cleanup EXIT
MIRROR=$(mirror)

PROGRESS=${CAAS_BUILD_PROGRESS:-}
log "step 1/3: debootstrap $SUITE minbase from $MIRROR into $tmp"
if [ -n "$PROGRESS" ]; then
    debootstrap --variant=minbase --cache-dir="$CACHE/debs" "$SUITE" "$tmp" \
        "$MIRROR" 2>&1 | tee "$tmp.log" >&2 || exit 1
else
    debootstrap --variant=minbase --cache-dir="$CACHE/debs" "$SUITE" "$tmp" \
        "$MIRROR" >"$tmp.log" 2>&1 || { tail -n 30 "$tmp.log" >&2; exit 1; }
fi
rm -f "$tmp.log"

# Nothing may start in the chroot while packages install.
printf '#!/bin/sh\nexit 101\n' > "$tmp/usr/sbin/policy-rc.d"
chmod 0755 "$tmp/usr/sbin/policy-rc.d"
cp /etc/resolv.conf "$tmp/etc/resolv.conf"

log "step 2/3: installing ${PACKAGES[*]}"
# apt's machine-readable status (dlstatus/pmstatus lines) on stderr.
STATUS=''
if [ -n "$PROGRESS" ]; then
    STATUS='-o APT::Status-Fd=2'
fi
export STATUS
# A private mount namespace: /proc and the package cache are mounted for
# the install only, and vanish with it even if it fails.
# shellcheck disable=SC2016
unshare --mount --propagation private -- /bin/sh -euc '
    mount -t proc proc "$1/proc"
    mount --bind "$2" "$1/var/cache/apt/archives"
    shift 2
    chroot "$0" /usr/bin/env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends $STATUS "$@" >/dev/null
' "$tmp" "$tmp" "$CACHE/debs" "${PACKAGES[@]}"

log "step 3/3: configuring the node image"
install -m 0755 "$HERE/systemctl" "$tmp/usr/local/bin/systemctl"
mkdir -p "$tmp/etc/caas-node"
# NoCloud only (the seed the node backend writes); the node's network is
# configured from outside and its root is an overlay that cannot grow.
cat > "$tmp/etc/cloud/cloud.cfg.d/90-caas-node.cfg" <<'CFG'
datasource_list: [NoCloud, None]
network: {config: disabled}
growpart: {mode: "off"}
resize_rootfs: false
locale: false
manage_etc_hosts: false
CFG
# A node has no DNS: name look-ups fail at once instead of timing out.
echo 'nameserver 127.0.0.1' > "$tmp/etc/resolv.conf"
rm -rf "$tmp"/var/lib/apt/lists/* "$tmp"/var/cache/apt/*.bin
printf 'version=%s suite=%s built=%s mirror=%s\n' "$VERSION" "$SUITE" \
    "$(date -u +%FT%TZ)" "$MIRROR" > "$tmp/$STAMP"

if [ -e "$DEST" ]; then
    # An unstamped leftover (an interrupted older layout): replace it.
    rm -rf --one-file-system "$DEST"
fi
mv -T "$tmp" "$DEST"
trap - EXIT
log "built $DEST ($(du -sh "$DEST" | cut -f1))"
echo "$DEST"
