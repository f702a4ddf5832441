#!/usr/bin/env bash
# Installs the packages, then builds and runs the whole test suite in release mode.
# `swift test -c release` builds katechon-dist too, which the tests launch under real
# mpirun; running as root needs OMPI_ALLOW_RUN_AS_ROOT, set here.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --packages-only
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
[ -x /opt/swift/usr/bin/swift ] && export PATH=/opt/swift/usr/bin:$PATH
swift test -c release "$@"
