#!/bin/bash
# quickstart.sh: the main job on a fresh Debian 12 machine, as root. Installs
# the build dependencies, builds kping, starts kpingd on loopback with a
# throw-away state dir, pings it with kpingctl, and stops it. Safe to run twice.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh --no-npm
if [ ! -f build/build.ninja ]; then
        meson setup build >/dev/null
fi
meson compile -C build >/dev/null

state=$(mktemp -d /tmp/kpingd-state.XXXXXX)
daemon=
cleanup() {
        [ -n "$daemon" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
        rm -rf "$state"
}
trap cleanup EXIT

build/daemon/kpingd --state-dir "$state" --listen /ip4/127.0.0.1/tcp/0 \
        --addrs-file "$state/addrs" &
daemon=$!
for _ in $(seq 100); do
        [ -s "$state/addrs" ] && break
        kill -0 "$daemon" 2>/dev/null || { echo "kpingd exited early" >&2; exit 1; }
        sleep 0.1
done
[ -s "$state/addrs" ] || { echo "kpingd did not become ready within 10 s" >&2; exit 1; }
addr=$(head -n 1 "$state/addrs")

build/ctl/kpingctl ping -c 5 -i 0.2 "$addr"
