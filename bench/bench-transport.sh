#!/bin/bash
# bench-transport.sh [BUILD_DIR]: kping's /ipfs/ping/1.0.0 round trip against a
# raw TCP echo of the same 32-byte payload, measured side by side in one run
# on loopback. See docs/BENCHMARKS.md.
#
# Environment (all optional):
#   COUNT=2000     round trips per measurement (after a warm-up)
#   WARMUP=200     unmeasured round trips first (raw TCP: on the measured
#                  connection; kping: a separate kpingctl run against the daemon)
#   ROUNDS=3       alternating raw/kping measurements; the median round is reported
#   PRELOAD=64     pings in flight for the pipelined rate (0: skip it)
#   PIPE_COUNT=20000  pongs per pipelined measurement
#   TARGET_RATIO=1.2  p50 ratio the exit status checks (exit 1 when missed,
#                  so a CI job can track it; the figures print either way)
set -u
build=$(cd "${1:-build}" && pwd) || exit 2
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
for p in "$kpingd" "$kpingctl" "$server" "$client"; do
        [ -x "$p" ] || { echo "bench-transport: $p is not built (ninja -C $build)" >&2; exit 2; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kping-bench.XXXXXX")
pids=()
cleanup() {
        for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
        wait 2>/dev/null
        rm -rf "$tmp"
}
trap cleanup EXIT

# wait_file FILE: until FILE exists and is not empty (at most 10 s).
wait_file() {
        for _ in $(seq 100); do
                [ -s "$1" ] && return 0
                sleep 0.1
        done
        echo "bench-transport: $1 did not appear" >&2
        exit 2
}

"$server" --port-file "$tmp/port" >/dev/null &
pids+=($!)
"$kpingd" --state-dir "$tmp/state" --listen /ip4/127.0.0.1/tcp/0 --addrs-file "$tmp/addrs" \
        --log-level warning 2>"$tmp/kpingd.log" &
pids+=($!)
wait_file "$tmp/port"
wait_file "$tmp/addrs"
port=$(cat "$tmp/port")
addr=$(head -n 1 "$tmp/addrs")

# json_get FILE EXPR: EXPR evaluated on the last JSON line of FILE (as "s").
json_get() {
        python3 -c 'import json,sys; s=json.loads(open(sys.argv[1]).read().splitlines()[-1]); print(eval(sys.argv[2]))' "$1" "$2"
}

echo "# machine: $(nproc) cores, $(uname -sr), loopback; COUNT=$COUNT WARMUP=$WARMUP ROUNDS=$ROUNDS"
"$kpingctl" ping --libp2p -c "$WARMUP" -i 0 -q "$addr" >/dev/null || {
        echo "bench-transport: kpingctl warm-up failed" >&2
        cat "$tmp/kpingd.log" >&2
        exit 2
}

: >"$tmp/rounds"
for r in $(seq "$ROUNDS"); do
        "$client" -c "$COUNT" -w "$WARMUP" --json 127.0.0.1 "$port" >"$tmp/raw.json" || exit 2
        "$kpingctl" ping --libp2p -c "$COUNT" -i 0 --json "$addr" >"$tmp/kp.json" || exit 2
        raw50=$(json_get "$tmp/raw.json" 's["rtt_us"]["p50"]')
        raw99=$(json_get "$tmp/raw.json" 's["rtt_us"]["p99"]')
        kp50=$(json_get "$tmp/kp.json" 's["rtt_us"]["p50"]')
        kp99=$(json_get "$tmp/kp.json" 's["rtt_us"]["p99"]')
        kprecv=$(json_get "$tmp/kp.json" 's["received"]')
        connect=$(json_get "$tmp/kp.json" 's["connect_us"]')
        [ "$kprecv" = "$COUNT" ] || { echo "bench-transport: kpingctl got $kprecv of $COUNT pongs" >&2; exit 2; }
        echo "$raw50 $raw99 $kp50 $kp99 $connect" >>"$tmp/rounds"
        printf 'round %d: raw tcp p50 %s us p99 %s us | kping p50 %s us p99 %s us (connect %s us)\n' \
                "$r" "$raw50" "$raw99" "$kp50" "$kp99" "$connect"
done

# The round with the median kping/raw p50 ratio stands for the run.
read -r raw50 raw99 kp50 kp99 connect < <(python3 -c '
import sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
rows.sort(key=lambda r: r[2] / r[0])
print(*rows[len(rows) // 2])' "$tmp/rounds")

echo
echo "== round trip, sequential, 32-byte payload, $COUNT round trips (median of $ROUNDS rounds) =="
printf '%-28s %10s %10s\n' "" "p50 (us)" "p99 (us)"
printf '%-28s %10.1f %10.1f\n' "raw TCP echo" "$raw50" "$raw99"
printf '%-28s %10.1f %10.1f\n' "kping /ipfs/ping/1.0.0" "$kp50" "$kp99"
ratio50=$(python3 -c "print(f'{$kp50 / $raw50:.2f}')")
ratio99=$(python3 -c "print(f'{$kp99 / $raw99:.2f}')")
printf '%-28s %10s %10s\n' "ratio kping / raw" "$ratio50" "$ratio99"
printf 'kpingctl connect (TCP + noise + yamux) %s us\n' "${connect%.*}"

if [ "$PRELOAD" -gt 0 ]; then
        "$client" -c "$PIPE_COUNT" -w "$WARMUP" -l "$PRELOAD" --json 127.0.0.1 "$port" \
                >"$tmp/raw-pipe.json" || exit 2
        start=$(date +%s%N)
        "$kpingctl" ping --libp2p -c "$PIPE_COUNT" -i 0 -l "$PRELOAD" -q "$addr" >"$tmp/kp-pipe.txt" \
                || exit 2
        end=$(date +%s%N)
        raw_rate=$(json_get "$tmp/raw-pipe.json" 's["rate_per_s"]')
        # kpingctl's "time" is from its start (dial included) to the last pong.
        kp_ms=$(sed -n 's/.* received, .*time \([0-9]*\)ms$/\1/p' "$tmp/kp-pipe.txt")
        kp_rate=$(python3 -c "print(round($PIPE_COUNT / ($kp_ms / 1000.0)))")
        echo
        echo "== pipelined, $PRELOAD in flight, $PIPE_COUNT round trips =="
        printf '%-28s %10s\n' "" "per second"
        printf '%-28s %10.0f\n' "raw TCP echo" "$raw_rate"
        printf '%-28s %10.0f   (kpingctl wall %d ms)\n' "kping /ipfs/ping/1.0.0" "$kp_rate" \
                $(((end - start) / 1000000))
        printf '%-28s %10s\n' "ratio kping / raw" "$(python3 -c "print(f'{$kp_rate / $raw_rate:.2f}')")"
fi

if grep -q . "$tmp/kpingd.log"; then
        echo
        echo "# kpingd warnings:"
        sed 's/^/#   /' "$tmp/kpingd.log"
fi
python3 -c "import sys; sys.exit(0 if $ratio50 <= $TARGET_RATIO else 1)"
