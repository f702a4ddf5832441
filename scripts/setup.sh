#!/usr/bin/env bash
# Installs the Debian packages Katechon links against, then builds it in release mode.
# Run as root (or with sudo available) on Debian 12 with Swift 6.3 on PATH.
# With --packages-only it installs the packages and skips the build.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(libopenmpi-dev openmpi-bin libopenblas-dev libzstd-dev libturbojpeg0-dev
          libpng-dev libhdf5-dev pkg-config)
missing=()
for package in "${packages[@]}"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
    sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q "${missing[@]}"
fi

[ "${1:-}" = "--packages-only" ] && exit 0

if ! command -v swift >/dev/null 2>&1; then
    [ -x /opt/swift/usr/bin/swift ] && export PATH=/opt/swift/usr/bin:$PATH
fi
swift build -c release
