#!/bin/bash
# A legitimate ping session under every hostile load at once (issue 8):
#  - 500 connections stalled mid-handshake, opened again as the daemon
#    closes them (25 from each of 127.0.0.10 .. 127.0.0.29);
#  - 100 peers sending garbage and reconnecting (127.0.0.30 .. 127.0.0.39);
#  - two peers that open 64 ping streams each, fill every window and never
#    read (window exhaustion, real Noise + yamux, from 127.0.0.40);
#  - peers announcing a 100 MB yamux frame after a real handshake;
#  - a PUT_VALUE and ADD_PROVIDER flood: 2 x 2000 requests over real
#    connections.
# kpingctl dials from 127.0.0.1, so per-address connection limits, where the
# daemon has them, apply to the attackers and not to it.
#
# Pass criteria:
#  - the session (`ping -c 200 -i 0.05`) loses no ping;
#  - its p99 round trip is at most HOSTILE_P99_FACTOR times the unloaded
#    p99: the same session without load, run just before and just after the
#    loaded one in the same build (so ASan scales both), the larger of the
#    two (a busy test machine's scheduler delays show in both), floored at
#    HOSTILE_P99_FLOOR_US (a ratio to a baseline of a few hundred
#    microseconds would measure scheduler noise, not the daemon);
#  - the daemon's VmRSS, sampled every 100 ms, stays below HOSTILE_RSS_MAX_KB;
#  - once the attacks end and the handshake timeout has passed, the daemon
#    holds exactly the file descriptors it held before;
#  - the daemon logged the reason for the garbage, stall and oversized frame
#    cases, and still serves pings and DHT requests.
# What is measured is how the daemon copes with the attackers' traffic, not
# how the kernel shares a test machine's cores: on a real server the
# attackers' own work runs elsewhere. So the attackers run at nice 19, and,
# when permitted (root), kpingd and kpingctl in the real-time class
# (SCHED_FIFO), else at nice -10 if permitted: other jobs on a shared
# machine then delay neither, and a round trip shows the daemon's own
# queueing (a real-time daemon stuck in a loop is still cut off by the
# kernel's real-time throttling, 5% of each second left to others).
. "$(dirname "$0")/tap.sh"
trap 'exit 1' TERM INT HUP

HOSTILE="python3 $(dirname "$0")/hostile-client.py"
HANDSHAKE_MS=1000
HOSTILE_P99_FACTOR=5
HOSTILE_P99_FLOOR_US=1000
# By design the two window peers may make the daemon hold 2 x 64 streams x
# (a 256 KiB yamux window + a 64 KiB ping echo backlog) = 40 MiB; the
# stalls, garbage and kad flood add about 3 MiB to an idle daemon's 7 MiB.
# Measured peaks: 30-54 MiB (the window peers' timing decides how much is
# buffered at once) in the normal build, 89 MiB under ASan with the
# quarantine below. Bounds: 96 MiB, and 3 x 96 + 16 = 304 MiB under ASan.
HOSTILE_RSS_MAX_KB=$((96 * 1024))
ATTACK_SECONDS=16

# Under AddressSanitizer freed memory waits in a quarantine (256 MiB by
# default) and every allocation carries redzones and shadow memory: the
# daemon gets a quarantine of HOSTILE_ASAN_QUARANTINE_MB, and the bound
# becomes HOSTILE_ASAN_RSS_FACTOR times the normal one plus that quarantine.
HOSTILE_ASAN_QUARANTINE_MB=16
HOSTILE_ASAN_RSS_FACTOR=3
case "${KP_SANITIZE:-none}" in
*address*)
        export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=$HOSTILE_ASAN_QUARANTINE_MB"
        HOSTILE_RSS_MAX_KB=$((HOSTILE_ASAN_RSS_FACTOR * HOSTILE_RSS_MAX_KB + HOSTILE_ASAN_QUARANTINE_MB * 1024))
        ;;
esac

PRIO=""
if chrt -f 10 true 2>/dev/null; then
        PRIO="chrt -f 10"
elif [ "$(nice -n -10 nice 2>/dev/null)" = -10 ]; then
        PRIO="nice -n -10"
fi

cat >"$TMP/kpingd.conf" <<EOF
[Limits]
HandshakeTimeoutMs=$HANDSHAKE_MS
EOF
$PRIO "$KPINGD" --config "$TMP/kpingd.conf" --state-dir "$TMP/state" --listen /ip4/127.0.0.1/tcp/0 \
        --addrs-file "$TMP/addrs" 2>"$TMP/kpingd.log" &
daemon=$!
addr=$(first_addr "$TMP/addrs")
port=$(echo "$addr" | sed -n 's|^/ip4/127.0.0.1/tcp/\([0-9]*\)/p2p/.*|\1|p')
if [ -z "$port" ]; then
        not_ok "kpingd started" "$(cat "$TMP/kpingd.log")"
        exit
fi
ok "kpingd started"

rss_kb() { sed -n 's/^VmRSS:[^0-9]*\([0-9]*\) kB/\1/p' "/proc/$daemon/status" 2>/dev/null; }
# summary FILE KEY: a number from the --json summary's rtt_us object.
rtt_stat() { sed -n "s/.*\"type\":\"summary\".*\"rtt_us\":{[^}]*\"$2\":\([0-9]*\).*/\1/p" "$1"; }
received() { sed -n 's/.*"type":"summary".*"received":\([0-9]*\).*/\1/p' "$1"; }

session() {
        timeout -k 5 60 $PRIO "$KPINGCTL" ping -c 200 -i 0.05 -W 5 --json "$addr" >"$1" 2>"$1.err"
}

# Warm up (first connection, page faults), then let it wind down.
timeout -k 5 30 "$KPINGCTL" ping -c 5 -i 0 -q "$addr" >/dev/null 2>&1
sleep 0.5
fds_before=$(fd_count)
rss_base=$(rss_kb)

# attack_round N: an unloaded session, then every attack at once with a
# session under it, then the attackers' results, the daemon's peak VmRSS
# and its descriptors once they are gone, then an unloaded session again.
# Sets P99_OK when the loaded p99 met the bound; the figures go to
# $TMP/round.N.
attack_round() {
        local n=$1 r="$TMP/r$1" attackers=() sampler st before after load_p99 floor limit
        mkdir -p "$r"
        session "$r/unloaded"
        before=$(rtt_stat "$r/unloaded" p99)
        (
                max=0
                end=$(($(date +%s) + ATTACK_SECONDS + 10))
                while [ "$(date +%s)" -lt "$end" ] && [ ! -e "$r/rss.stop" ]; do
                        v=$(rss_kb)
                        [ -n "$v" ] && [ "$v" -gt "$max" ] && max=$v
                        echo "$max" >"$r/rss.max"
                        sleep 0.1
                done
        ) &
        sampler=$!
        nice -n 19 $HOSTILE load "$port" --seconds "$ATTACK_SECONDS" --stalls 500 --garbage 100 \
                --stall-sources 127.0.0.10-127.0.0.29 --garbage-sources 127.0.0.30-127.0.0.39 \
                >"$r/load.out" 2>&1 &
        attackers+=($!)
        for i in 1 2; do
                nice -n 19 "$HOSTILE_PEER" --bind 127.0.0.40 --seconds "$ATTACK_SECONDS" \
                        --streams 64 window "$port" >"$r/window.$i" 2>&1 &
                attackers+=($!)
                nice -n 19 "$HOSTILE_PEER" --bind 127.0.0.40 --seconds "$ATTACK_SECONDS" \
                        --requests 2000 kad "$port" >"$r/kad.$i" 2>&1 &
                attackers+=($!)
        done
        (
                for i in $(seq 10); do
                        nice -n 19 "$HOSTILE_PEER" --bind 127.0.0.40 --seconds 5 bigframe "$port"
                        sleep 1
                done
        ) >"$r/bigframe.out" 2>&1 &
        attackers+=($!)
        # Let the stalls build up before the session starts.
        sleep 2
        session "$r/loaded"
        st=$?
        kill -0 "${attackers[0]}" 2>/dev/null && touch "$r/attacks-outlasted"
        wait "${attackers[@]}"
        touch "$r/rss.stop"
        wait "$sampler"
        # What the daemon still holds goes within the handshake timeout
        # (stalls) or at once (closed sockets). 10 s at most.
        for _ in $(seq 100); do
                [ "$(fd_count)" -le "$fds_before" ] && break
                sleep 0.1
        done
        fd_count >"$r/fds"
        session "$r/unloaded2"
        after=$(rtt_stat "$r/unloaded2" p99)
        load_p99=$(rtt_stat "$r/loaded" p99)
        floor=$HOSTILE_P99_FLOOR_US
        [ "${before:-0}" -gt "$floor" ] && floor=$before
        [ "${after:-0}" -gt "$floor" ] && floor=$after
        limit=$((HOSTILE_P99_FACTOR * floor))
        echo "round $n: loaded p99 ${load_p99:-?} us, unloaded p99 ${before:-?} us before and" \
                "${after:-?} us after, limit $limit us" >"$r/summary"
        echo "# $(cat "$r/summary")"
        [ "$st" = 0 ] || echo "exit $st" >>"$r/lost"
        for f in unloaded loaded unloaded2; do
                [ "$(received "$r/$f")" = 200 ] || echo "$f: $(tail -1 "$r/$f") $(cat "$r/$f.err")" >>"$r/lost"
        done
        P99_OK=0
        [ -n "$load_p99" ] && [ "$load_p99" -le "$limit" ] && P99_OK=1
        return 0
}

# In the real-time class the p99 bound must hold in each of
# HOSTILE_RT_ROUNDS rounds: nothing but the attackers and the daemon's own
# work can then delay a ping, and the second round checks a daemon that
# has already been through the attacks. Measured on a shared 2-core test
# machine: loaded p99 0.8-1.4 ms against a limit of 5 ms. Without it (not
# root) a shared machine's scheduler, which the before/after baseline only
# partly captures, can spoil a round: there the bound must be met in one of
# at most HOSTILE_ROUNDS rounds; a daemon that stalls under the attacks
# still fails every one. Every other check holds in every round run.
HOSTILE_RT_ROUNDS=2
HOSTILE_ROUNDS=3
strict=0
[ "${PRIO%% *}" = chrt ] && strict=1
[ "$strict" = 1 ] && HOSTILE_ROUNDS=$HOSTILE_RT_ROUNDS
rounds=0
p99_missed=""
for n in $(seq $HOSTILE_ROUNDS); do
        attack_round "$n"
        rounds=$n
        [ "$P99_OK" = 1 ] || p99_missed="$p99_missed $n"
        [ "$strict" = 0 ] && [ "$P99_OK" = 1 ] && break
done
all() { for n in $(seq $rounds); do cat "$TMP/r$n/$1" 2>/dev/null; done; }

if [ -z "$(all lost)" ]; then
        ok "no ping lost: 200/200 in every session, loaded or not ($rounds rounds)"
else
        not_ok "no ping lost" "$(all lost)"
fi
p99_bound="loaded p99 <= $HOSTILE_P99_FACTOR x max(unloaded p99 before, after, $HOSTILE_P99_FLOOR_US us)"
if [ "$strict" = 1 ] && [ -z "$p99_missed" ]; then
        ok "$p99_bound in each of $rounds rounds (real-time class)"
elif [ "$strict" = 0 ] && [ "$P99_OK" = 1 ]; then
        ok "$p99_bound in round $rounds (not in the real-time class: one of $HOSTILE_ROUNDS rounds)"
else
        not_ok "$p99_bound (rounds missed:$p99_missed)" "$(all summary)"
fi
bad=""
for n in $(seq $rounds); do [ -e "$TMP/r$n/attacks-outlasted" ] || bad="$bad $n"; done
if [ -z "$bad" ]; then ok "the attacks lasted the whole loaded session"; else not_ok "the attacks lasted the whole loaded session" "rounds$bad"; fi

r="$TMP/r$rounds"
echo "# $(cat "$r/load.out")"
cat "$r"/window.* "$r"/kad.* | sed 's/^/# /'
if ! all load.out | grep -v "stall_closed=[1-9].*garbage_closed=[1-9]" | grep -q . \
        && ! all load.out | grep -v "stall_errors=0 .*garbage_errors=0" | grep -q .; then
        ok "stalled and garbage connections were made and closed by the daemon"
else
        not_ok "stalled and garbage connections were made and closed by the daemon" "$(all load.out)"
fi
if [ "$(all window.1; all window.2)" ] && ! { all window.1; all window.2; } | grep -vq "written=[1-9]"; then
        ok "window-exhaustion peers connected and filled their windows"
else
        not_ok "window-exhaustion peers connected and filled their windows" "$(all window.1; all window.2)"
fi
n_big=$(all bigframe.out | grep -c "result=closed")
if [ "$n_big" = $((10 * rounds)) ]; then
        ok "$n_big peers announcing a 100 MB yamux frame were all disconnected"
else
        not_ok "every peer announcing a 100 MB yamux frame was disconnected" "$(all bigframe.out)"
fi
n_kad=$({ all kad.1; all kad.2; } | grep -c "sent=2000 finished=2000 answered=[1-9]")
if [ "$n_kad" = $((2 * rounds)) ]; then
        ok "PUT_VALUE/ADD_PROVIDER flood: $((2000 * n_kad)) requests, every stream finished"
else
        not_ok "PUT_VALUE/ADD_PROVIDER flood: every stream finished" "$(all kad.1; all kad.2)"
fi

rss_max=$(all rss.max | sort -n | tail -1)
if [ -n "$rss_max" ] && [ "$rss_max" -lt "$HOSTILE_RSS_MAX_KB" ]; then
        ok "daemon VmRSS peaked at $rss_max kB (before: $rss_base kB), below $HOSTILE_RSS_MAX_KB kB"
else
        not_ok "daemon VmRSS below $HOSTILE_RSS_MAX_KB kB" "peak '$rss_max' kB"
fi
fds_after=$(all fds | sort -n | tail -1)
if [ "$fds_after" = "$fds_before" ]; then
        ok "file descriptors: $fds_after after the attacks, $fds_before before"
else
        not_ok "file descriptors back to $fds_before after every round" "$(all fds | tr '\n' ' ')" \
                "$(ls -l "/proc/$daemon/fd" 2>&1 | tail -n 20)"
fi

# logged REASON WHAT: the daemon logged a line matching REASON.
logged() {
        local n
        n=$(grep -cE -- "$1" "$TMP/kpingd.log")
        if [ "$n" -gt 0 ]; then ok "logged: $2 ($n lines)"; else not_ok "logged: $2" "no line matching: $1"; fi
}
logged "Handshake with /ip4/127\.0\.0\.(3[0-9])/tcp/[0-9]+ failed: security negotiation: multistream-select: message does not end in a newline" \
        "garbage, with the address and the reason"
logged "Handshake with /ip4/127\.0\.0\.(1[0-9]|2[0-9])/tcp/[0-9]+ failed: handshake not finished within $HANDSHAKE_MS ms" \
        "stalled handshakes, with the address and the reason"
big_peer=$(all bigframe.out | sed -n 's/^bigframe peer=\([^ ]*\) result=closed/\1/p' | head -1)
logged "Connection with $big_peer from /ip4/127\.0\.0\.40/tcp/[0-9]+ closed: yamux: DATA frame length 100000000 exceeds limit" \
        "the 100 MB yamux frame, with the peer, address and reason"

# Still serving: pings and the DHT.
check "a legitimate ping after the attacks" timeout -k 5 30 "$KPINGCTL" ping -c 5 -i 0 -q "$addr"
timeout -k 5 30 "$KAD_TOOL" --timeout 10000 --bootstrap "$addr" put /kping/after-flood ok >"$TMP/put" 2>&1
timeout -k 5 30 "$KAD_TOOL" --timeout 10000 --bootstrap "$addr" get /kping/after-flood >"$TMP/get" 2>&1
if grep -q "^ok$" "$TMP/get"; then
        ok "the DHT still stores and serves a value"
else
        not_ok "the DHT still stores and serves a value" "$(cat "$TMP/put" "$TMP/get")"
fi
if grep -qiE "critical|assert|AddressSanitizer|runtime error" "$TMP/kpingd.log"; then
        not_ok "no criticals or sanitizer reports" "$(grep -iE "critical|assert|AddressSanitizer|runtime error" "$TMP/kpingd.log" | head)"
else
        ok "no criticals or sanitizer reports"
fi
kill "$daemon"
wait "$daemon"
status=$?
if [ "$status" = 0 ]; then ok "kpingd exits 0 on SIGTERM"; else not_ok "kpingd exits 0 on SIGTERM" "exit $status" "$(tail "$TMP/kpingd.log")"; fi
