#!/bin/bash
# bench-hostile.sh BUILD_DIR ATTACK...: the round trips of a legitimate
# `kpingctl ping -c 200 -i 0.05` session under each attack of
# tests/integration/test-hostile-load.sh on its own, to see which one costs
# most (docs/BENCHMARKS.md, "Hostile networks"). ATTACK: none, stalls,
# garbage, window, kad, bigframe, all. One kpingd for every attack; each
# session starts 2 s into a 16 s attack. PRIO (default "nice -n -10") runs
# kpingd and kpingctl, e.g. PRIO="chrt -f 10" (root) so that other jobs on a
# shared machine do not delay them; KPINGD_BIN replaces the daemon, to
# compare builds. Prints the session's summary and, at the end, the CPU
# ticks the daemon used.
set -u
B=$1
shift
SRC=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
KPINGD=${KPINGD_BIN:-$B/daemon/kpingd}
KPINGCTL=$B/ctl/kpingctl
HP=$B/tests/integration/hostile-peer
HC="python3 $SRC/tests/integration/hostile-client.py"
PRIO=${PRIO:-nice -n -10}
S=16
printf '[Limits]\nHandshakeTimeoutMs=1000\n' >"$T/conf"
$PRIO "$KPINGD" --config "$T/conf" --state-dir "$T/state" --listen /ip4/127.0.0.1/tcp/0 \
        --addrs-file "$T/addrs" 2>"$T/log" &
d=$!
for _ in $(seq 100); do
        [ -s "$T/addrs" ] && break
        sleep 0.1
done
addr=$(head -1 "$T/addrs")
port=$(echo "$addr" | sed -n 's|^/ip4/127.0.0.1/tcp/\([0-9]*\)/p2p/.*|\1|p')
timeout 30 "$KPINGCTL" ping -c 5 -i 0 -q "$addr" >/dev/null 2>&1
summary() { sed -n 's/.*"type":"summary".*"received":\([0-9]*\).*"rtt_us":{\([^}]*\)}.*/received=\1 \2/p' "$1" | tr -d '"'; }
stalls() { nice -n 19 $HC load "$port" --seconds $S --stalls "$1" --garbage "$2" \
        --stall-sources 127.0.0.10-127.0.0.29 --garbage-sources 127.0.0.30-127.0.0.39; }
peers() { for _ in 1 2; do nice -n 19 "$HP" --bind 127.0.0.40 --seconds $S "$@" "$port" & done; wait; }
bigframe() { for _ in $(seq 10); do nice -n 19 "$HP" --bind 127.0.0.40 --seconds 5 bigframe "$port"; sleep 1; done; }
for a in "$@"; do
        attack=""
        case $a in
        none) ;;
        stalls) stalls 500 0 >/dev/null 2>&1 & ;;
        garbage) stalls 0 100 >/dev/null 2>&1 & ;;
        window) peers --streams 64 window >/dev/null 2>&1 & ;;
        kad) peers --requests 2000 kad >/dev/null 2>&1 & ;;
        bigframe) bigframe >/dev/null 2>&1 & ;;
        all) { stalls 500 100 & peers --streams 64 window & peers --requests 2000 kad & bigframe & wait; } >/dev/null 2>&1 & ;;
        *) echo "unknown attack $a" >&2; continue ;;
        esac
        [ "$a" != none ] && attack=$!
        [ "$a" != none ] && sleep 2
        timeout 60 $PRIO "$KPINGCTL" ping -c 200 -i 0.05 -W 5 --json "$addr" >"$T/session" 2>&1
        echo "$a: $(summary "$T/session")"
        [ -n "$attack" ] && wait "$attack"
        sleep 1.5
done
echo "daemon CPU ticks: $(awk '{print $14 + $15}' "/proc/$d/stat")"
kill "$d"
wait "$d"
