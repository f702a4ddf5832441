#!/usr/bin/env bash
# Runs katechon-dist under mpirun as if its ranks were on separate hosts, on one machine:
# the shared-memory transport is disabled so every message crosses TCP on the loopback
# interface, as it would cross the network between nodes.
#
# Usage: cluster/emulate-multihost.sh RANKS katechon-dist-arguments...
# Example: cluster/emulate-multihost.sh 2 train --metadata demo/train-metadata.csv \
#          --images demo/train-image.hdf5 --out runs/tcp --steps 20 --image-size 64
set -euo pipefail
ranks=${1:?number of ranks}
shift
here=$(cd "$(dirname "$0")/.." && pwd)
binary=${KATECHON_BIN:-$here/.build/release/katechon-dist}

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
exec mpirun --oversubscribe -np "$ranks" \
    --mca btl tcp,self --mca btl_tcp_if_include lo \
    --mca oob_tcp_if_include lo \
    "$binary" "$@"
