#!/usr/bin/env bash
# Installs the Debian packages that are missing, and only those.
#   board/install-deps.sh build   — libraries the firmware links against
#   board/install-deps.sh test    — those, plus the real peers the tests run against
set -euo pipefail

build=(libsodium-dev nettle-dev libsqlite3-dev libnl-3-dev libnl-genl-3-dev libusb-1.0-0-dev libwpa-client-dev pkg-config)
peers=(hostapd wpasupplicant iproute2 procps gpsd gpsd-clients libxml2-utils)

case "${1:-build}" in
    build) wanted=("${build[@]}") ;;
    test) wanted=("${build[@]}" "${peers[@]}") ;;
    *) echo "usage: $0 build|test" >&2; exit 64 ;;
esac

missing=()
for package in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
