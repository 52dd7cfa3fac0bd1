#!/bin/bash
# Hostile dialers against one kpingd on loopback: garbage, truncation,
# oversized lengths and silence each end in a closed connection and a logged
# reason naming the remote address; the daemon keeps serving and gives back
# every file descriptor.
. "$(dirname "$0")/tap.sh"

HOSTILE="python3 $(dirname "$0")/hostile-client.py"
# Short, so the silent cases take a second, not the default 10.
HANDSHAKE_MS=1000

printf '[Limits]\nHandshakeTimeoutMs=5\n' >"$TMP/bad.conf"
expect_exit "HandshakeTimeoutMs below its minimum refused" 2 \
        "$TMP/bad.conf: key HandshakeTimeoutMs: invalid value \"5\"" \
        "$KPINGD" --config "$TMP/bad.conf" --state-dir "$TMP/state" --listen /ip4/127.0.0.1/tcp/0

cat >"$TMP/kpingd.conf" <<EOF
[Limits]
HandshakeTimeoutMs=$HANDSHAKE_MS
EOF
"$KPINGD" --config "$TMP/kpingd.conf" --state-dir "$TMP/state" --listen /ip4/127.0.0.1/tcp/0 \
        --addrs-file "$TMP/addrs" 2>"$TMP/kpingd.log" &
daemon=$!
addr=$(first_addr "$TMP/addrs")
port=$(echo "$addr" | sed -n 's|^/ip4/127.0.0.1/tcp/\([0-9]*\)/p2p/.*|\1|p')
if [ -z "$port" ]; then
        not_ok "kpingd started" "$(cat "$TMP/kpingd.log")"
        exit
fi
ok "kpingd started"

ping5() {
        "$KPINGCTL" ping --libp2p -c 5 -i 0 -W 5 -q "$addr"
}

check "a legitimate ping before" ping5
# Let the first client's connection wind down before the baseline.
sleep 0.3
baseline=$(fd_count)

# hostile NAME CASE REASON: CASE must end in a closed connection and a
# "Handshake with <its address> failed: ...REASON..." line from kpingd.
hostile() {
        local name=$1 case=$2 reason=$3 line local_addr
        line=$($HOSTILE "$case" "$port" --wait 8 2>&1)
        local_addr=$(echo "$line" | sed -n 's/^local=\([^ ]*\) .*/\1/p')
        case "$line" in
        *result=closed*) ok "$name: connection closed ($line)" ;;
        *) not_ok "$name: connection closed" "$line" ;;
        esac
        for _ in $(seq 30); do
                grep -qF "Handshake with $local_addr failed: " "$TMP/kpingd.log" && break
                sleep 0.1
        done
        if [ -n "$local_addr" ] \
                && grep -F "Handshake with $local_addr failed: " "$TMP/kpingd.log" | grep -qF -- "$reason"; then
                ok "$name: logged with the remote address and the reason"
        else
                not_ok "$name: logged with the remote address and the reason" \
                        "wanted 'Handshake with $local_addr failed: ...$reason...' in:" \
                        "$(tail -n 5 "$TMP/kpingd.log")"
        fi
}

hostile "garbage instead of multistream-select" garbage "message does not end in a newline"
hostile "wrong multistream header" wrong-mss-header 'expected header "/multistream/1.0.0"'
hostile "truncated handshake, then close" truncated "peer closed the connection during the handshake"
hostile "oversized multistream length prefix" oversized-mss "exceeds limit 1024"
hostile "varint that never ends" overlong-varint "exceeds limit 1024"
hostile "noise frame of 65535 announced, then silence" noise-65535 \
        "handshake frame of 65535 bytes exceeds"
hostile "noise frame within limits announced, then silence" noise-partial-silence \
        "handshake not finished within $HANDSHAKE_MS ms"
hostile "silent client" silent "handshake not finished within $HANDSHAKE_MS ms"
hostile "silent after agreeing on /noise" silent-after-mss "handshake not finished within $HANDSHAKE_MS ms"
hostile "one byte every 200 ms" trickle "handshake not finished within $HANDSHAKE_MS ms"
hostile "garbage noise message 3" garbage-noise-message3 "failed to decrypt"

# Twenty silent peers at once, and a real client served meanwhile.
silent_pids=()
for i in $(seq 20); do
        $HOSTILE silent "$port" --wait 8 >"$TMP/silent.$i" 2>&1 &
        silent_pids+=($!)
done
sleep 0.2
check "a legitimate ping while 20 silent peers wait" ping5
wait_silent=ok
wait "${silent_pids[@]}"
for i in $(seq 20); do
        grep -q "result=closed" "$TMP/silent.$i" || wait_silent="$i: $(cat "$TMP/silent.$i")"
done
if [ "$wait_silent" = ok ]; then ok "20 silent peers all closed"; else not_ok "20 silent peers all closed" "$wait_silent"; fi

check "a legitimate ping after" ping5
if kill -0 "$daemon" 2>/dev/null; then ok "kpingd still running"; else not_ok "kpingd still running" "$(tail "$TMP/kpingd.log")"; fi
if wait_fds "$baseline"; then
        ok "file descriptors back to the baseline ($baseline)"
else
        not_ok "file descriptors back to the baseline ($baseline)" "now $(fd_count):" \
                "$(ls -l "/proc/$daemon/fd" 2>&1)"
fi
if grep -qiE "critical|assert|AddressSanitizer|runtime error" "$TMP/kpingd.log"; then
        not_ok "no criticals or sanitizer reports" "$(grep -iE "critical|assert|AddressSanitizer|runtime error" "$TMP/kpingd.log")"
else
        ok "no criticals or sanitizer reports"
fi
kill "$daemon"
wait "$daemon"
status=$?
if [ "$status" = 0 ]; then ok "kpingd exits 0 on SIGTERM"; else not_ok "kpingd exits 0 on SIGTERM" "exit $status" "$(tail "$TMP/kpingd.log")"; fi

# More connections at once than the daemon has descriptors: accepting fails
# for a while. The daemon must neither spin nor flood its log, must close
# every connection once the handshake timeout frees descriptors, and must
# serve again afterwards.
(
        ulimit -n 48
        exec "$KPINGD" --config "$TMP/kpingd.conf" --state-dir "$TMP/state" \
                --listen /ip4/127.0.0.1/tcp/0 --addrs-file "$TMP/addrs2" 2>"$TMP/kpingd2.log"
) &
daemon=$!
addr=$(first_addr "$TMP/addrs2")
port=$(echo "$addr" | sed -n 's|^/ip4/127.0.0.1/tcp/\([0-9]*\)/p2p/.*|\1|p')
baseline=$(fd_count)
cpu_ticks() {
        awk '{ print $14 + $15 }' "/proc/$daemon/stat"
}
ticks0=$(cpu_ticks)
check "100 connections against 48 descriptors are all closed" \
        $HOSTILE flood "$port" --connections 100 --wait 15
ticks=$(($(cpu_ticks) - ticks0))
# A spinning accept loop burns the whole wait; the real work is a few ms.
if [ "$ticks" -lt 50 ]; then
        ok "no busy loop while out of descriptors ($ticks ticks of CPU)"
else
        not_ok "no busy loop while out of descriptors" "$ticks clock ticks of CPU"
fi
n_warn=$(grep -c "cannot accept connections" "$TMP/kpingd2.log")
if [ "$n_warn" -ge 1 ] && [ "$n_warn" -le 5 ]; then
        ok "accept failures logged, not flooded ($n_warn lines)"
else
        not_ok "accept failures logged, not flooded" "$n_warn lines" "$(head -n 3 "$TMP/kpingd2.log")"
fi
check "a legitimate ping after the flood" ping5
if wait_fds "$baseline"; then
        ok "file descriptors back to the baseline after the flood ($baseline)"
else
        not_ok "file descriptors back to the baseline after the flood ($baseline)" "now $(fd_count)"
fi
kill "$daemon"
wait "$daemon"
status=$?
if [ "$status" = 0 ]; then ok "kpingd exits 0 on SIGTERM"; else not_ok "kpingd exits 0 on SIGTERM" "exit $status" "$(tail "$TMP/kpingd.log")"; fi
