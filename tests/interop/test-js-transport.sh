#!/bin/bash
# test-js-transport.sh INTEROP_SOURCE_DIR (TAP): kpingd and kpingctl against
# the pinned js-libp2p (js-node.mjs) over TCP + Noise + yamux on loopback,
# both ways: identify, /ipfs/ping/1.0.0, peer id mismatch, 20 js clients at
# once, yamux through multistream-select instead of Noise's early muxer, bulk
# echo past the yamux window, and js's habit of resetting an inbound ping
# stream 10 s after it opened.
# KPINGD and KPINGCTL are set by meson to the built programs.
# Skips (TAP "1..0 # SKIP") when tests/interop/node_modules is missing, unless
# KPING_REQUIRE_INTEROP=1, which makes that a failure.
dir=$1
js_node=$dir/js-node.mjs

. "$dir/js-tap.sh"

# --- kpingd, and a js node that serves -------------------------------------
"$KPINGD" --state-dir "$TMP/kpingd" --listen /ip4/127.0.0.1/tcp/0 \
        --addrs-file "$TMP/kpingd.addrs" >"$TMP/kpingd.log" 2>&1 &
kpingd_pid=$!
"$node" "$js_node" serve >"$TMP/js.addr" 2>"$TMP/js.log" &
js_pid=$!

if ! k_addr=$(wait_line "$TMP/kpingd.addrs" "$kpingd_pid"); then
        echo "Bail out! kpingd did not write its address: $(cat "$TMP/kpingd.log")"
        exit 1
fi
if ! js_addr=$(wait_line "$TMP/js.addr" "$js_pid"); then
        echo "Bail out! js-node.mjs serve printed no address: $(cat "$TMP/js.log")"
        exit 1
fi
k_id=${k_addr##*/p2p/}
k_listen=${k_addr%/p2p/*}
js_id=${js_addr##*/p2p/}
js_listen=${js_addr%/p2p/*}
echo "# kpingd $k_addr"
echo "# js     $js_addr"

# --- (a) js dials kpingd: identify, then 100 pings (a new stream each) ------
run_logged "js dials kpingd, identifies it and pings it 100 times" "$TMP/a.json" \
        "$node" "$js_node" dial "$k_addr" --pings 100
jcheck "js: identify names kpingd's peer id" "$TMP/a.json" "d.peer === '$k_id'"
jcheck "js: kpingd's agent is kping/<version>" "$TMP/a.json" "/^kping\\/[0-9]/.test(d.agent)"
jcheck "js: kpingd's protocol version is ipfs/0.1.0" "$TMP/a.json" "d.protocolVersion === 'ipfs/0.1.0'"
jcheck "js: kpingd lists /ipfs/ping/1.0.0 and /ipfs/id/1.0.0" "$TMP/a.json" \
        "d.protocols.includes('/ipfs/ping/1.0.0') && d.protocols.includes('/ipfs/id/1.0.0')"
jcheck "js: kpingd's listen addrs include $k_listen" "$TMP/a.json" "d.listenAddrs.includes('$k_listen')"
jcheck "js: kpingd observed js on 127.0.0.1" "$TMP/a.json" "d.observedAddr.startsWith('/ip4/127.0.0.1/tcp/')"
jcheck "js: 100 pings to kpingd answered" "$TMP/a.json" "d.rtts_ms.length === 100"
echo "# js -> kpingd ping() rtt ms: $("$node" -e '
const d = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"))
const r = d.rtts_ms.sort((a, b) => a - b)
console.log(`p50 ${r[50]} max ${r[99]} avg ${r.reduce((a, b) => a + b, 0) / r.length}, 100 pings in ${d.wall_us / 1000} ms`)
' "$TMP/a.json" 2>&1)"

# --- (f) kpingd logged the js client --------------------------------------
js_self=$("$node" -e 'console.log(JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8")).self)' "$TMP/a.json" 2>/dev/null)
if [ -n "$js_self" ] && grep -q "Client connected: $js_self from /ip4/127\.0\.0\.1/tcp/[0-9]" "$TMP/kpingd.log"; then
        ok "kpingd logs 'Client connected: <js peer id> from /ip4/127.0.0.1/tcp/...'"
else
        not_ok "kpingd logs 'Client connected: <js peer id> from /ip4/127.0.0.1/tcp/...'" \
                "js peer id '$js_self'" "$(cat "$TMP/kpingd.log")"
fi

# --- (b) kpingctl dials js ---------------------------------------------------
run_logged "kpingctl ping --libp2p -c 100 -i 0 against js exits 0" "$TMP/b.json" \
        "$KPINGCTL" ping --libp2p -c 100 -i 0 --json "$js_addr"
jcheck "kpingctl -> js: 100 transmitted, 100 received" "$TMP/b.json" \
        "d.type === 'summary' && d.transmitted === 100 && d.received === 100 && d.loss_pct === 0"
echo "# kpingctl -> js rtt us: $(tail -n 1 "$TMP/b.json")"
run_logged "kpingctl id against js exits 0" "$TMP/b-id.json" "$KPINGCTL" id --json "$js_addr"
jcheck "kpingctl id: js's peer id" "$TMP/b-id.json" "d.peer_id === '$js_id'"
jcheck "kpingctl id: js's agent is js-libp2p/..." "$TMP/b-id.json" "/^js-libp2p\\//.test(d.agent_version)"
jcheck "kpingctl id: js lists /ipfs/ping/1.0.0 and /ipfs/id/1.0.0" "$TMP/b-id.json" \
        "d.protocols.includes('/ipfs/ping/1.0.0') && d.protocols.includes('/ipfs/id/1.0.0')"
jcheck "kpingctl id: js's listen addrs include $js_listen" "$TMP/b-id.json" "d.listen_addrs.includes('$js_listen')"
if timeout "$STEP_TIMEOUT" "$KPINGCTL" id "$js_addr" >"$TMP/b-id.txt" 2>&1 &&
        grep -q "js-libp2p/" "$TMP/b-id.txt" && grep -q "/ipfs/ping/1.0.0" "$TMP/b-id.txt"; then
        ok "kpingctl id (human output) shows js's agent and protocols"
else
        not_ok "kpingctl id (human output) shows js's agent and protocols" "$(cat "$TMP/b-id.txt")"
fi

# --- (c) a /p2p/ id that is not the peer's -----------------------------------
expect_exit "kpingctl ping: js answering for kpingd's id is refused" 2 \
        "peer id mismatch: expected $k_id, got $js_id" \
        timeout "$STEP_TIMEOUT" "$KPINGCTL" ping --libp2p -c 1 "$js_listen/p2p/$k_id"
expect_exit "kpingctl id: js answering for kpingd's id is refused" 2 \
        "peer id mismatch: expected $k_id, got $js_id" \
        timeout "$STEP_TIMEOUT" "$KPINGCTL" id "$js_listen/p2p/$k_id"
expect_exit "kpingctl ping: kpingd answering for js's id is refused" 2 \
        "peer id mismatch: expected $js_id, got $k_id" \
        timeout "$STEP_TIMEOUT" "$KPINGCTL" ping --libp2p -c 1 "$k_listen/p2p/$js_id"

# --- (d) 20 js clients at once, 100 pings each -------------------------------
run_logged "20 js clients at once, 100 pings each, against kpingd" "$TMP/d.json" \
        "$node" "$js_node" swarm "$k_addr" --clients 20 --pings 100
jcheck "swarm: all 20 clients got 100 pongs" "$TMP/d.json" "d.ok === 20 && d.failed === 0"
echo "# swarm: $("$node" -e '
const d = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"))
console.log(`${d.clients}x${d.pings} pings in ${d.elapsed_ms} ms, rtt ms ${JSON.stringify(d.rtt_ms)}`)
' "$TMP/d.json" 2>&1)"
missing=0
for p in $("$node" -e 'for (const p of JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8")).peers) console.log(p)' "$TMP/d.json" 2>/dev/null); do
        grep -q "Client connected: $p from /ip4/127\.0\.0\.1/tcp/" "$TMP/kpingd.log" || missing=$((missing + 1))
done
if grep -q . "$TMP/d.json" && [ "$missing" = 0 ]; then
        ok "kpingd logged every swarm client"
else
        not_ok "kpingd logged every swarm client" "$missing not logged"
fi

# --- yamux negotiated with multistream-select (no Noise early muxer) --------
run_logged "js without early muxer negotiation dials kpingd and pings 10 times" "$TMP/g.json" \
        "$node" "$js_node" dial "$k_addr" --pings 10 --no-early-muxer
jcheck "js without early muxer: 10 pings to kpingd answered" "$TMP/g.json" \
        "d.peer === '$k_id' && d.rtts_ms.length === 10"
"$node" "$js_node" serve --no-early-muxer >"$TMP/js-mss.addr" 2>"$TMP/js-mss.log" &
js_mss_pid=$!
if js_mss_addr=$(wait_line "$TMP/js-mss.addr" "$js_mss_pid"); then
        run_logged "kpingctl pings js without early muxer negotiation" "$TMP/g2.json" \
                "$KPINGCTL" ping --libp2p -c 10 -i 0 --json "$js_mss_addr"
        jcheck "kpingctl -> js without early muxer: 10 received" "$TMP/g2.json" \
                "d.type === 'summary' && d.received === 10"
else
        not_ok "js-node.mjs serve --no-early-muxer printed its address" "$(cat "$TMP/js-mss.log")"
fi
kill "$js_mss_pid" 2>/dev/null
wait "$js_mss_pid" 2>/dev/null

# --- yamux flow control with js: more than the 256 KiB window, both ways ----
run_logged "js echoes 4 x 1 MiB through kpingd's ping handler on one connection" "$TMP/bulk.json" \
        "$node" "$js_node" bulk "$k_addr" --streams 4 --bytes 1048576
jcheck "bulk: every byte came back" "$TMP/bulk.json" "d.streams === 4 && d.bytes === 1048576"

# --- (e) js resets an inbound ping stream 10 s after it opened ---------------
# kpingctl keeps one ping stream; js aborts it at 10 s ("Ping timed out"), and
# kpingctl must carry on with a fresh stream. With -i 2 the sixth ping goes out
# within a few ms of the reset: when it is caught in flight, kpingctl sends it
# again once on the new stream, so all 8 must come back.
# js's debug log shows the reset ("Ping timed out") and the second stream.
DEBUG='libp2p:*' "$node" "$js_node" serve >"$TMP/js2.addr" 2>"$TMP/js2.log" &
js2_pid=$!
if js2_addr=$(wait_line "$TMP/js2.addr" "$js2_pid"); then
        run_logged "kpingctl ping --libp2p -c 8 -i 2 across js's stream reset exits 0" "$TMP/e.json" \
                "$KPINGCTL" ping --libp2p -c 8 -i 2 --json "$js2_addr"
        jcheck "across the reset: 8 transmitted, 8 received" "$TMP/e.json" \
                "d.type === 'summary' && d.transmitted === 8 && d.received === 8"
        if [ "$(grep -c 'negotiated protocol /ipfs/ping/1.0.0' "$TMP/js2.log")" -ge 2 ] &&
                grep -q 'Ping timed out' "$TMP/js2.log"; then
                ok "js did reset the first ping stream, and kpingctl opened another"
        else
                not_ok "js did reset the first ping stream, and kpingctl opened another" \
                        "$(grep -i 'ping' "$TMP/js2.log" | tail -n 5)"
        fi
else
        not_ok "js-node.mjs serve (second node) printed its address" "$(cat "$TMP/js2.log")"
fi
kill "$js2_pid" 2>/dev/null
wait "$js2_pid" 2>/dev/null

# --- the daemon is still up and serving ------------------------------------
if kill -0 "$kpingd_pid" 2>/dev/null &&
        timeout "$STEP_TIMEOUT" "$KPINGCTL" ping --libp2p -c 3 -i 0 "$k_addr" >"$TMP/last" 2>&1; then
        ok "kpingd still serves after all of it"
else
        not_ok "kpingd still serves after all of it" "$(cat "$TMP/last")" "$(tail -n 5 "$TMP/kpingd.log")"
fi
kill "$js_pid" 2>/dev/null
wait "$js_pid" 2>/dev/null

# SIGTERM: kpingd exits 0, and (in a sanitizer build) with nothing to report.
kill -TERM "$kpingd_pid" 2>/dev/null
status=timeout
for i in $(seq 100); do
        if ! kill -0 "$kpingd_pid" 2>/dev/null; then
                wait "$kpingd_pid"
                status=$?
                break
        fi
        sleep 0.1
done
if [ "$status" = 0 ] && ! grep -qE 'Sanitizer|runtime error:' "$TMP/kpingd.log"; then
        ok "kpingd exits 0 on SIGTERM, no sanitizer report"
else
        not_ok "kpingd exits 0 on SIGTERM, no sanitizer report" "exit $status" \
                "$(grep -E -A 15 'Sanitizer|runtime error:' "$TMP/kpingd.log" | head -n 40)"
fi
