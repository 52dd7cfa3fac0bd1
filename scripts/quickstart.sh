#!/bin/bash
# quickstart.sh: the main job on a fresh Debian 12 machine, as root. Installs
# the build dependencies, builds kping, creates a throw-away state dir and
# shows the node's identity. Safe to run twice.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh --no-npm
if [ ! -f build/build.ninja ]; then
        meson setup build >/dev/null
fi
meson compile -C build >/dev/null

state=$(mktemp -d /tmp/kpingd-state.XXXXXX)
trap 'rm -rf "$state"' EXIT
echo "state dir: $state"
echo "Server Peer ID: $(build/daemon/kpingd --state-dir "$state" --print-peer-id)"
