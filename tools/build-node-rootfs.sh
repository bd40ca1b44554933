#!/usr/bin/env bash
# Builds the real nodes' base root filesystem from a checkout: the script
# itself ships inside the caas package (caas-all --real-nodes runs it when
# the base is missing). See caas/sim/realnodes/rootfs/build-node-rootfs.sh.
exec "$(cd "$(dirname "$0")/.." && pwd)/caas/sim/realnodes/rootfs/build-node-rootfs.sh" "$@"
