#!/usr/bin/env bash
# The main job on the simulated board: hal-sim stands up the board's interfaces,
# qlinkd runs against them, and qlinkctl top shows the subscribers moving bytes.
#   board/sim/demo.sh BIN_DIR [SECONDS]   (SECONDS: how long top runs when not a terminal; default 20)
set -euo pipefail
bin=$(cd "${1:?usage: demo.sh BIN_DIR}" && pwd)
seconds=${2:-20}
root=$(mktemp -d /tmp/qlink-demo-XXXXXX)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    echo "demo files kept in $root (hal-sim.log, qlinkd.log)"
}
trap cleanup EXIT INT TERM

"$bin/hal-sim" --root "$root" --scenario busy-day --speed 10 --subscribers 12 >"$root/hal-sim.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -e "$root/ready" ] && break; sleep 0.1; done
[ -e "$root/ready" ] || { echo "hal-sim did not come up; see $root/hal-sim.log" >&2; exit 1; }

"$bin/qlinkd" --config "$root/qlinkd.conf" >"$root/qlinkd.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do "$bin/qlinkctl" --config "$root/qlinkd.conf" ping >/dev/null 2>&1 && break; sleep 0.1; done

"$bin/qlinkctl" --config "$root/qlinkd.conf" status
echo
if [ -t 1 ]; then
    echo "qlinkctl top — press Ctrl-C to stop"
    sleep 1
    "$bin/qlinkctl" --config "$root/qlinkd.conf" top || true
else
    "$bin/qlinkctl" --config "$root/qlinkd.conf" top --interval 2 --count $((seconds / 2))
fi
