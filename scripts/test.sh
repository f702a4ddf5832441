#!/usr/bin/env bash
# Installs the packages, then builds and runs the whole test suite in release mode.
# `swift test -c release` builds katechon-dist too, which the tests launch under real
# mpirun; running as root needs OMPI_ALLOW_RUN_AS_ROOT, set here.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --packages-only
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
[ -x /opt/swift/usr/bin/swift ] && export PATH=/opt/swift/usr/bin:$PATH

log=$(mktemp)
status=0
swift test -c release "$@" 2>&1 | tee "$log" || status=$?

# XCTest's summary is followed by Swift Testing's, which counts only its own (zero)
# tests; end with one plain line that counts the XCTest cases.
summary=$(grep -E "^[[:space:]]*Executed [0-9]+ tests?, with [0-9]+ failures?" "$log" | tail -n 1 || true)
rm -f "$log"
if [ -n "$summary" ]; then
    total=$(echo "$summary" | sed -E 's/.*Executed ([0-9]+) tests?.*/\1/')
    failed=$(echo "$summary" | sed -E 's/.*with ([0-9]+) failures?.*/\1/')
    echo "$((total - failed)) passed, $failed failed"
fi
exit "$status"
