#!/bin/bash
# [Limits] at the boundary against one kpingd on loopback: exactly the limit
# is accepted, one more refused with a logged reason naming the address or
# peer and the key, other addresses are still served, the counts recover
# once connections close, refusals are not logged one by one in a flood,
# and a legitimate ping works whenever its own address is under the limits.
. "$(dirname "$0")/tap.sh"

RAW="python3 $(dirname "$0")/limits-client.py"

printf '[Limits]\nMaxConnections=0\n' >"$TMP/bad.conf"
expect_exit "MaxConnections below its minimum refused" 2 \
        "$TMP/bad.conf: key MaxConnections: invalid value \"0\" (1 to 1048576)" \
        "$KPINGD" --config "$TMP/bad.conf" --state-dir "$TMP/state" --listen /ip4/127.0.0.1/tcp/0
printf '[Limits]\nMaxStreamsPerConnection=1025\n' >"$TMP/bad.conf"
expect_exit "MaxStreamsPerConnection above its maximum refused" 2 \
        "$TMP/bad.conf: key MaxStreamsPerConnection: invalid value \"1025\" (1 to 1024)" \
        "$KPINGD" --config "$TMP/bad.conf" --state-dir "$TMP/state" --listen /ip4/127.0.0.1/tcp/0

# Silent connections must stay pending for the whole test.
cat >"$TMP/kpingd.conf" <<EOF
[Limits]
MaxConnections=6
MaxConnectionsPerIP=3
MaxPendingHandshakesPerIP=2
HandshakeTimeoutMs=60000
MaxStreamsPerConnection=16
MaxRequestsPerPeer=4
MaxDhtRecordsPerPeer=2
EOF
"$KPINGD" --config "$TMP/kpingd.conf" --state-dir "$TMP/state" --listen /ip4/127.0.0.1/tcp/0 \
        --addrs-file "$TMP/addrs" --log-level debug 2>"$TMP/kpingd.log" &
daemon=$!
addr=$(first_addr "$TMP/addrs")
port=$(echo "$addr" | sed -n 's|^/ip4/127.0.0.1/tcp/\([0-9]*\)/p2p/.*|\1|p')
if [ -z "$port" ]; then
        not_ok "kpingd started" "$(cat "$TMP/kpingd.log")"
        exit
fi
ok "kpingd started"
if grep -qE "RLIMIT_NOFILE (raised from [0-9]+ to|is) [0-9]+" "$TMP/kpingd.log"; then
        ok "RLIMIT_NOFILE logged at start ($(grep -oE "RLIMIT_NOFILE [^;]*" "$TMP/kpingd.log" | head -n 1))"
else
        not_ok "RLIMIT_NOFILE logged at start" "$(head -n 5 "$TMP/kpingd.log")"
fi

ping3() {
        "$KPINGCTL" ping --libp2p -c 3 -i 0 -W 5 -q "$addr"
}

# raw NAME FROM COUNT: silent connections from FROM in the background, held
# until stop_raw NAME; waits for their "open=K refused=M" line.
declare -A raw_pids
raw() {
        local name=$1 from=$2 count=$3
        $RAW "$port" --from "$from" --count "$count" --hold 60 >"$TMP/raw.$name" 2>&1 &
        raw_pids[$name]=$!
        for _ in $(seq 100); do
                grep -q '^open=' "$TMP/raw.$name" && return 0
                sleep 0.1
        done
        return 1
}

stop_raw() {
        kill "${raw_pids[$1]}" 2>/dev/null
        wait "${raw_pids[$1]}" 2>/dev/null
}

# expect_raw NAME OPEN REFUSED
expect_raw() {
        local want="open=$2 refused=$3" got
        got=$(grep '^open=' "$TMP/raw.$1")
        if [ "$got" = "$want" ]; then
                ok "$1: $want"
        else
                not_ok "$1: $want" "got: $(cat "$TMP/raw.$1")"
        fi
}

# expect_log NAME TEXT: the daemon logs a line containing TEXT within 3 s.
expect_log() {
        for _ in $(seq 30); do
                grep -qF -- "$2" "$TMP/kpingd.log" && break
                sleep 0.1
        done
        if grep -qF -- "$2" "$TMP/kpingd.log"; then
                ok "$1"
        else
                not_ok "$1" "wanted a line containing: $2" "$(tail -n 5 "$TMP/kpingd.log")"
        fi
}

# Established connections from 127.0.0.1 so far (kpingd logs each).
n_connected() {
        grep -c "Client connected: " "$TMP/kpingd.log"
}

check "a legitimate ping at the start" ping3
sleep 0.3
baseline=$(fd_count)

# ---- pending handshakes per address ----
raw pending4 127.0.0.4 3
expect_raw pending4 2 1
refused=$(sed -n 's/^refused //p' "$TMP/raw.pending4")
expect_log "the refusal names the address and MaxPendingHandshakesPerIP" \
        "refused connection from $refused: 2 pending handshakes from this address (MaxPendingHandshakesPerIP)"
raw other2 127.0.0.2 1
expect_raw other2 1 0
raw other3 127.0.0.3 1
expect_raw other3 1 0
check "a legitimate ping while 127.0.0.4 is at its limit" ping3
stop_raw pending4
sleep 0.3
raw again4 127.0.0.4 2
expect_raw again4 2 0
stop_raw again4
stop_raw other2
stop_raw other3
if wait_fds "$baseline"; then ok "descriptors back to the baseline ($baseline)"; else not_ok "descriptors back to the baseline ($baseline)" "now $(fd_count)"; fi

# ---- connections in total ----
raw total2 127.0.0.2 2
raw total3 127.0.0.3 2
raw total5 127.0.0.5 2
expect_raw total5 2 0
raw total6 127.0.0.6 1
expect_raw total6 0 1
refused=$(sed -n 's/^refused //p' "$TMP/raw.total6")
expect_log "the refusal names the address and MaxConnections" \
        "refused connection from $refused: 6 connections in total (MaxConnections)"
stop_raw total2
stop_raw total3
stop_raw total5
stop_raw total6
if wait_fds "$baseline"; then ok "descriptors back to the baseline after the total limit"; else not_ok "descriptors back to the baseline after the total limit" "now $(fd_count)"; fi
check "a legitimate ping once the total is down again" ping3

# ---- connections per address, established ones included ----
before=$(n_connected)
"$KAD_TOOL" -b "$addr" --hold 8000 streams /ipfs/ping/1.0.0 0 >"$TMP/hold1" 2>&1 &
hold1=$!
"$KAD_TOOL" -b "$addr" --hold 8000 streams /ipfs/ping/1.0.0 0 >"$TMP/hold2" 2>&1 &
hold2=$!
for _ in $(seq 50); do
        [ "$(n_connected)" -ge $((before + 2)) ] && break
        sleep 0.1
done
raw per1 127.0.0.1 2
expect_raw per1 1 1
refused=$(sed -n 's/^refused //p' "$TMP/raw.per1")
expect_log "the refusal names the address and MaxConnectionsPerIP" \
        "refused connection from $refused: 3 connections from this address (MaxConnectionsPerIP)"
raw per7 127.0.0.7 2
expect_raw per7 2 0
stop_raw per1
stop_raw per7
wait "$hold1" "$hold2"
check "a legitimate ping once 127.0.0.1 is under its limit again" ping3

# ---- streams per connection ----
out=$("$KAD_TOOL" -b "$addr" --hold 1000 streams /ipfs/ping/1.0.0 24 2>&1)
open=$(echo "$out" | sed -n 's/^open=\([0-9]*\) reset=.*/\1/p')
reset=$(echo "$out" | sed -n 's/^open=[0-9]* reset=\([0-9]*\)/\1/p')
# Identify may hold a stream of the 16 for a moment.
if [ -n "$open" ] && [ "$open" -le 16 ] && [ "$open" -ge 14 ] && [ $((open + reset)) -eq 24 ]; then
        ok "MaxStreamsPerConnection=16: $open of 24 streams open, $reset reset"
else
        not_ok "MaxStreamsPerConnection=16: at most 16 of 24 streams open" "$out"
fi
expect_log "the stream refusal names the peer and MaxStreamsPerConnection" \
        "streams open on this connection (MaxStreamsPerConnection)"
peer=$(echo "$out" | sed -n 's/^peer //p')
if grep "(MaxStreamsPerConnection)" "$TMP/kpingd.log" | grep -qF -- " from $peer at /ip4/127.0.0.1/tcp/" \
        && grep "(MaxStreamsPerConnection)" "$TMP/kpingd.log" | grep -qF ": 16 streams open"; then
        ok "the stream refusal names $peer and 16 streams"
else
        not_ok "the stream refusal names the peer and 16 streams" "$(grep "(MaxStreamsPerConnection)" "$TMP/kpingd.log")"
fi

# ---- concurrent actor requests per peer ----
out=$("$KAD_TOOL" -b "$addr" --hold 1000 streams /kameo/messaging/1.0.0 6 2>&1)
peer=$(echo "$out" | sed -n 's/^peer //p')
if echo "$out" | grep -qx "open=4 reset=2"; then
        ok "MaxRequestsPerPeer=4: 4 of 6 requests open, 2 reset"
else
        not_ok "MaxRequestsPerPeer=4: 4 of 6 requests open, 2 reset" "$out"
fi
expect_log "the request refusal names the peer and MaxRequestsPerPeer" \
        "kameo request from $peer: 4 requests at once from this peer (MaxRequestsPerPeer): stream reset"
expect_log "the second request refusal summed up" \
        "refused 1 more kameo requests in the last 1000 ms (MaxRequestsPerPeer)"
check "a legitimate ping after the request flood" ping3

# ---- DHT records per peer ----
out=$("$KAD_TOOL" -b "$addr" put /kping/limits/a 1 /kping/limits/b 2 /kping/limits/c 3 2>&1)
if [ "$(echo "$out" | tr '\n' ' ')" = "stored at 1 peers stored at 1 peers stored at 0 peers " ]; then
        ok "MaxDhtRecordsPerPeer=2: two records stored, the third refused"
else
        not_ok "MaxDhtRecordsPerPeer=2: two records stored, the third refused" "$out"
fi
expect_log "the record refusal names the limit" \
        "record store holds 2 records of this peer already (MaxDhtRecordsPerPeer)"
if grep -qE "PUT_VALUE from 12D3KooW[1-9A-HJ-NP-Za-km-z]+ rejected: record store holds 2 records of this peer" "$TMP/kpingd.log"; then
        ok "the record refusal names the peer"
else
        not_ok "the record refusal names the peer" "$(grep MaxDhtRecordsPerPeer "$TMP/kpingd.log")"
fi

# ---- a flood is not logged line by line ----
sleep 1.1
lines_before=$(grep -c "pending handshakes from this address (MaxPendingHandshakesPerIP)" "$TMP/kpingd.log")
raw flood 127.0.0.8 40
expect_raw flood 2 38
lines=$(($(grep -c "pending handshakes from this address (MaxPendingHandshakesPerIP)" "$TMP/kpingd.log") - lines_before))
if [ "$lines" -ge 1 ] && [ "$lines" -le 2 ]; then
        ok "38 refusals logged in $lines line(s)"
else
        not_ok "38 refusals logged in at most 2 lines" "$lines lines"
fi
expect_log "the other refusals summed up" "more connections in the last 1000 ms (MaxPendingHandshakesPerIP)"
stop_raw flood

check "a legitimate ping at the end" ping3
if kill -0 "$daemon" 2>/dev/null; then ok "kpingd still running"; else not_ok "kpingd still running" "$(tail "$TMP/kpingd.log")"; fi
if wait_fds "$baseline"; then ok "descriptors back to the baseline at the end"; else not_ok "descriptors back to the baseline at the end" "now $(fd_count)"; fi
if grep -qiE "critical|assert|AddressSanitizer|runtime error" "$TMP/kpingd.log"; then
        not_ok "no criticals or sanitizer reports" "$(grep -iE "critical|assert|AddressSanitizer|runtime error" "$TMP/kpingd.log")"
else
        ok "no criticals or sanitizer reports"
fi
kill "$daemon"
wait "$daemon"
status=$?
if [ "$status" = 0 ]; then ok "kpingd exits 0 on SIGTERM"; else not_ok "kpingd exits 0 on SIGTERM" "exit $status" "$(tail "$TMP/kpingd.log")"; fi
