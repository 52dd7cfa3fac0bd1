#!/bin/bash
# bench-session.sh [BUILD_DIR]: the ping session's figures against the raw TCP
# echo baseline, measured in one run on loopback (see docs/BENCHMARKS.md):
#   - warm actor round trip: kpingctl ping -c COUNT -i 0 --json against a
#     warmed-up kpingd, p50/p99 from its summary; target p50 <= 1.3 x raw TCP;
#   - pipelined: kpingctl ping -c PIPE_COUNT -i 0 -l 64, pongs per second
#     (wall clock of the whole process); target >= 1/4 of the raw TCP
#     pipelined message rate;
#   - cold: kpingctl ping -c 1 as a whole process, start to exit, connect,
#     handshake and DHT resolution included, median of COLD_RUNS runs;
#     target < 5 ms.
#
# The raw TCP baseline is bench/tcp-echo-server and bench/tcp-echo-client of
# the transport benchmark (bench-transport.sh). Without them (or with
# TCP_ECHO_SERVER / TCP_ECHO_CLIENT pointing elsewhere) the kping figures are
# still printed, without the ratios.
#
# As bench-transport.sh, each layout pins the servers and the client with
# taskset: on a small VM where they run decides the figures.
#
# Environment (all optional):
#   LAYOUTS="same cross"  same: servers and client on CPU 0; cross: servers on
#                  CPU 0, client on CPU 1; free: no pinning
#   COUNT=2000 WARMUP=200 PRELOAD=64 PIPE_COUNT=20000 COLD_RUNS=20 ROUNDS=3
#   (ROUNDS alternating raw/kping round-trip measurements; the median is
#   reported.)
# Exit status: 0 when the first layout meets every target that could be
# measured, 1 when one is missed (the figures print either way), 2 on error.
set -u
build=$(cd "${1:-build}" && pwd) || exit 2
LAYOUTS=${LAYOUTS:-same cross}
COUNT=${COUNT:-2000}
WARMUP=${WARMUP:-200}
PRELOAD=${PRELOAD:-64}
PIPE_COUNT=${PIPE_COUNT:-20000}
COLD_RUNS=${COLD_RUNS:-20}
ROUNDS=${ROUNDS:-3}
TARGET_P50_RATIO=1.3
TARGET_PIPE_FRACTION=0.25
TARGET_COLD_MS=5

kpingd=$build/daemon/kpingd
kpingctl=$build/ctl/kpingctl
server=${TCP_ECHO_SERVER:-$build/bench/tcp-echo-server}
client=${TCP_ECHO_CLIENT:-$build/bench/tcp-echo-client}
for p in "$kpingd" "$kpingctl"; do
        [ -x "$p" ] || { echo "bench-session: $p is not built (ninja -C $build)" >&2; exit 2; }
done
have_raw=1
if [ ! -x "$server" ] || [ ! -x "$client" ]; then
        have_raw=0
        echo "bench-session: no raw TCP baseline ($server, $client): kping figures only" >&2
fi
command -v python3 >/dev/null || { echo "bench-session: needs python3" >&2; exit 2; }

bench=bench-session
. "$(dirname "$0")/bench-lib.sh"

status=0
first=1
# verdict OK? TEXT: one target's line; a miss in the first layout fails the run.
verdict() {
        if [ "$1" = True ]; then
                echo "    ok:   $2"
        else
                echo "    MISS: $2"
                [ $first = 1 ] && status=1
        fi
}

measure() {
        local layout=$1 dir=$tmp/$1 port addr
        local raw50=() raw99=() kp50=() kp99=() raw_rate= kp_rate s e i cold
        local cold_wall cold_cpu cold_connect cold_resolve cold_first cold_floor
        pin_layout "$layout"
        if [ $have_raw = 1 ]; then
                start_echo "$dir"
                port=$echo_port
        fi
        start_kpingd "$dir"
        addr=$kp_addr
        "${on_client[@]}" "$kpingctl" ping -c "$WARMUP" -i 0 -q "$addr" >/dev/null || exit 2

        for i in $(seq "$ROUNDS"); do
                if [ $have_raw = 1 ]; then
                        "${on_client[@]}" "$client" -c "$COUNT" -w "$WARMUP" --json 127.0.0.1 "$port" >"$dir/raw$i" || exit 2
                        raw50+=("$(summary "$dir/raw$i" rtt_us.p50)")
                        raw99+=("$(summary "$dir/raw$i" rtt_us.p99)")
                fi
                "${on_client[@]}" "$kpingctl" ping -c "$COUNT" -i 0 --json "$addr" >"$dir/kp$i" || exit 2
                kp50+=("$(summary "$dir/kp$i" rtt_us.p50)")
                kp99+=("$(summary "$dir/kp$i" rtt_us.p99)")
        done
        local m_kp50 m_kp99
        m_kp50=$(py "statistics.median(map(float, sys.argv[1:]))" "${kp50[@]}")
        m_kp99=$(py "statistics.median(map(float, sys.argv[1:]))" "${kp99[@]}")

        if [ "$PRELOAD" -gt 0 ]; then
                if [ $have_raw = 1 ]; then
                        "${on_client[@]}" "$client" -c "$PIPE_COUNT" -l "$PRELOAD" --json 127.0.0.1 "$port" >"$dir/rawpipe" || exit 2
                        raw_rate=$(summary "$dir/rawpipe" rate_per_s)
                fi
                s=$EPOCHREALTIME
                "${on_client[@]}" "$kpingctl" ping -c "$PIPE_COUNT" -i 0 -l "$PRELOAD" --json "$addr" >"$dir/kppipe" || exit 2
                e=$EPOCHREALTIME
                kp_rate=$(py "round(float(sys.argv[1]) / (float(sys.argv[3]) - float(sys.argv[2])))" \
                        "$(summary "$dir/kppipe" received)" "$s" "$e")
        fi

        # Each run: wall clock from spawn to reaped, and the CPU time the
        # process used (user + sys, from wait4), which a busy machine
        # disturbs less; with kpingctl's own connect/resolve/first-pong.
        cold=$(cold_median "$COLD_RUNS" "$kpingctl" ping -c 1 --json "$addr") || exit 2
        cold_floor=$(cold_median "$COLD_RUNS" "$kpingctl" --version) || exit 2
        cold_floor=${cold_floor%% *}
        read -r cold_wall cold_cpu cold_connect cold_resolve cold_first <<<"$cold"

        echo "== layout $layout (load average $(cut -d' ' -f1-3 /proc/loadavg))"
        if [ $have_raw = 1 ]; then
                local m_raw50 m_raw99 ratio
                m_raw50=$(py "statistics.median(map(float, sys.argv[1:]))" "${raw50[@]}")
                m_raw99=$(py "statistics.median(map(float, sys.argv[1:]))" "${raw99[@]}")
                ratio=$(py "round(float(sys.argv[1]) / float(sys.argv[2]), 2)" "$m_kp50" "$m_raw50")
                echo "  round trip, median of $ROUNDS x $COUNT: raw TCP p50 $m_raw50 us p99 $m_raw99 us; actor p50 $m_kp50 us p99 $m_kp99 us"
                verdict "$(py "$ratio <= $TARGET_P50_RATIO")" "actor p50 / raw p50 = $ratio (target <= $TARGET_P50_RATIO)"
        else
                echo "  round trip, median of $ROUNDS x $COUNT: actor p50 $m_kp50 us p99 $m_kp99 us"
        fi
        if [ "$PRELOAD" -gt 0 ]; then
                if [ $have_raw = 1 ]; then
                        local frac
                        frac=$(py "round(float(sys.argv[1]) / float(sys.argv[2]), 3)" "$kp_rate" "$raw_rate")
                        echo "  pipelined -l $PRELOAD: raw TCP $raw_rate msg/s; actor $kp_rate pongs/s"
                        verdict "$(py "$frac >= $TARGET_PIPE_FRACTION")" "actor / raw = $frac (target >= $TARGET_PIPE_FRACTION)"
                else
                        echo "  pipelined -l $PRELOAD: actor $kp_rate pongs/s"
                fi
        fi
        echo "  cold kpingctl ping -c 1, medians of $COLD_RUNS runs: whole process $cold_wall ms" \
                "(CPU $cold_cpu ms); connect $cold_connect ms, resolve $cold_resolve ms," \
                "first pong $cold_first ms after process start; kpingctl --version alone $cold_floor ms"
        verdict "$(py "$cold_wall < $TARGET_COLD_MS")" "cold median $cold_wall ms (target < $TARGET_COLD_MS)"
        first=0
}

for layout in $LAYOUTS; do
        measure "$layout"
        stop_servers
done
exit $status
