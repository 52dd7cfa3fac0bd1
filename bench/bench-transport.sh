#!/bin/bash
# bench-transport.sh [BUILD_DIR]: kping's /ipfs/ping/1.0.0 round trip against a
# raw TCP echo of the same 32-byte payload, measured side by side in one run
# on loopback, with the floor of any GLib client and server: the same echo
# through a GLib main loop on each side (glib-echo-client, glib-echo-server).
# See docs/BENCHMARKS.md.
#
# Each layout starts its own servers (tcp-echo-server and kpingd) pinned with
# taskset, because on a small VM where the client and the server run decides
# the figures more than anything else: on one core a wakeup is a context
# switch, across cores an inter-processor interrupt (slow under a hypervisor).
#
# Environment (all optional):
#   LAYOUTS="same cross"  same: server and client on CPU 0; cross: server on
#                  CPU 0, client on CPU 1; free: no pinning
#   COUNT=2000     round trips per measurement (after a warm-up)
#   WARMUP=200     unmeasured round trips first (raw TCP: on the measured
#                  connection; kping: a separate kpingctl run against the daemon)
#   ROUNDS=3       alternating raw/kping measurements; the median round is reported
#   PRELOAD=64     pings in flight for the pipelined rate (0: skip it)
#   PIPE_COUNT=20000  pongs per pipelined measurement
#   TARGET_RATIO=1.2  p50 ratio of the first layout that the exit status
#                  checks (1 when missed; the figures print either way)
set -u
build=$(cd "${1:-build}" && pwd) || exit 2
LAYOUTS=${LAYOUTS:-same cross}
COUNT=${COUNT:-2000}
WARMUP=${WARMUP:-200}
ROUNDS=${ROUNDS:-3}
PRELOAD=${PRELOAD:-64}
PIPE_COUNT=${PIPE_COUNT:-20000}
TARGET_RATIO=${TARGET_RATIO:-1.2}

kpingd=$build/daemon/kpingd
kpingctl=$build/ctl/kpingctl
server=$build/bench/tcp-echo-server
client=$build/bench/tcp-echo-client
glib_server=$build/bench/glib-echo-server
glib_client=$build/bench/glib-echo-client
for p in "$kpingd" "$kpingctl" "$server" "$client" "$glib_server" "$glib_client"; do
        [ -x "$p" ] || { echo "bench-transport: $p is not built (ninja -C $build)" >&2; exit 2; }
done

bench=bench-transport
. "$(dirname "$0")/bench-lib.sh"

first_ratio=

# measure LAYOUT: starts both servers pinned as LAYOUT says, measures, prints.
measure() {
        local layout=$1 dir=$tmp/$1 port addr r
        local raw50 raw99 kp50 kp99 kprecv connect ratio50 ratio99 gport gl50 gl99
        pin_layout "$layout"
        start_echo "$dir"
        port=$echo_port
        start_echo "$dir/glib" "$glib_server"
        gport=$echo_port
        start_kpingd "$dir"
        addr=$kp_addr

        "${on_client[@]}" "$kpingctl" ping --libp2p -c "$WARMUP" -i 0 -q "$addr" >/dev/null || {
                echo "bench-transport: kpingctl warm-up failed" >&2
                cat "$dir/kpingd.log" >&2
                exit 2
        }
        echo
        echo "=== layout $layout: server ${on_server[*]:-unpinned}, client ${on_client[*]:-unpinned} ==="
        : >"$dir/rounds"
        for r in $(seq "$ROUNDS"); do
                "${on_client[@]}" "$client" -c "$COUNT" -w "$WARMUP" --json 127.0.0.1 "$port" \
                        >"$dir/raw.json" || exit 2
                "${on_client[@]}" "$glib_client" -c "$COUNT" -w "$WARMUP" --json 127.0.0.1 "$gport" \
                        >"$dir/glib.json" || exit 2
                "${on_client[@]}" "$kpingctl" ping --libp2p -c "$COUNT" -i 0 --json "$addr" \
                        >"$dir/kp.json" || exit 2
                raw50=$(summary "$dir/raw.json" rtt_us.p50)
                raw99=$(summary "$dir/raw.json" rtt_us.p99)
                kp50=$(summary "$dir/kp.json" rtt_us.p50)
                kp99=$(summary "$dir/kp.json" rtt_us.p99)
                kprecv=$(summary "$dir/kp.json" received)
                connect=$(summary "$dir/kp.json" connect_us)
                [ "$kprecv" = "$COUNT" ] || {
                        echo "bench-transport: kpingctl got $kprecv of $COUNT pongs" >&2
                        exit 2
                }
                gl50=$(summary "$dir/glib.json" rtt_us.p50)
                gl99=$(summary "$dir/glib.json" rtt_us.p99)
                echo "$raw50 $raw99 $kp50 $kp99 $connect $gl50 $gl99" >>"$dir/rounds"
                printf 'round %d: raw tcp p50 %s us p99 %s us | glib echo p50 %s us p99 %s us | kping p50 %s us p99 %s us (connect %s us)\n' \
                        "$r" "$raw50" "$raw99" "$gl50" "$gl99" "$kp50" "$kp99" "$connect"
        done

        # The round with the median kping/raw p50 ratio stands for the layout.
        read -r raw50 raw99 kp50 kp99 connect gl50 gl99 < <(python3 -c '
import sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
rows.sort(key=lambda r: r[2] / r[0])
print(*rows[len(rows) // 2])' "$dir/rounds")
        ratio50=$(ratio "$kp50" "$raw50")
        ratio99=$(ratio "$kp99" "$raw99")
        [ -n "$first_ratio" ] || first_ratio=$ratio50

        echo "-- round trip, sequential, 32-byte payload, $COUNT round trips (median of $ROUNDS rounds)"
        printf '%-28s %10s %10s\n' "" "p50 (us)" "p99 (us)"
        printf '%-28s %10.1f %10.1f\n' "raw TCP echo" "$raw50" "$raw99"
        printf '%-28s %10.1f %10.1f\n' "GLib echo (floor)" "$gl50" "$gl99"
        printf '%-28s %10.1f %10.1f\n' "kping /ipfs/ping/1.0.0" "$kp50" "$kp99"
        printf '%-28s %10s %10s\n' "ratio kping / raw" "$ratio50" "$ratio99"
        printf '%-28s %10s %10s\n' "ratio GLib echo / raw" "$(ratio "$gl50" "$raw50")" \
                "$(ratio "$gl99" "$raw99")"
        printf 'kpingctl connect (TCP + noise + yamux): %s us\n' "${connect%.*}"

        if [ "$PRELOAD" -gt 0 ]; then
                local raw_rate kp_ms kp_rate
                "${on_client[@]}" "$client" -c "$PIPE_COUNT" -w "$WARMUP" -l "$PRELOAD" --json \
                        127.0.0.1 "$port" >"$dir/raw-pipe.json" || exit 2
                "${on_client[@]}" "$kpingctl" ping --libp2p -c "$PIPE_COUNT" -i 0 -l "$PRELOAD" -q \
                        "$addr" >"$dir/kp-pipe.txt" || exit 2
                raw_rate=$(summary "$dir/raw-pipe.json" rate_per_s)
                # kpingctl's "time" runs from its start (dial included) to the
                # last pong, in whole milliseconds.
                kp_ms=$(sed -n 's/.* received, .*time \([0-9]*\)ms$/\1/p' "$dir/kp-pipe.txt")
                kp_rate=$(python3 -c "print(round($PIPE_COUNT / (max($kp_ms, 1) / 1000.0)))")
                echo "-- pipelined, $PRELOAD in flight, $PIPE_COUNT round trips"
                printf '%-28s %10s\n' "" "per second"
                printf '%-28s %10.0f\n' "raw TCP echo" "$raw_rate"
                printf '%-28s %10.0f\n' "kping /ipfs/ping/1.0.0" "$kp_rate"
                printf '%-28s %10s\n' "ratio kping / raw" "$(ratio "$kp_rate" "$raw_rate")"
        fi
        if grep -q . "$dir/kpingd.log"; then
                echo "# kpingd warnings:"
                sed 's/^/#   /' "$dir/kpingd.log"
        fi
        stop_servers
}

echo "# machine: $(nproc) cores, $(uname -sr), loopback; COUNT=$COUNT WARMUP=$WARMUP ROUNDS=$ROUNDS"
for layout in $LAYOUTS; do
        measure "$layout"
done

echo
if python3 -c "import sys; sys.exit(0 if $first_ratio <= $TARGET_RATIO else 1)"; then
        echo "target: p50 ratio at most $TARGET_RATIO (layout ${LAYOUTS%% *}): met ($first_ratio)"
else
        echo "target: p50 ratio at most $TARGET_RATIO (layout ${LAYOUTS%% *}): missed ($first_ratio)"
        exit 1
fi
