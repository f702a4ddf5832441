#!/usr/bin/env bash
# Sets up (packages and release build), then runs the whole test suite in release mode.
# Multi-rank tests launch real mpirun; running as root needs OMPI_ALLOW_RUN_AS_ROOT.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
[ -x /opt/swift/usr/bin/swift ] && export PATH=/opt/swift/usr/bin:$PATH
swift test -c release "$@"
