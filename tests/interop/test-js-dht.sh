#!/bin/bash
# test-js-dht.sh INTEROP_SOURCE_DIR (TAP): the kping Kademlia DHT (kpingd,
# and kad-tool as a kping client) against the pinned js-libp2p @libp2p/kad-dht
# (js-dht.mjs) on loopback, once on each protocol id, /kameo/registry/1.0.0
# and /ipfs/kad/1.0.0:
#  - js PUT_VALUE to kpingd, and js GET_VALUE answered by kpingd;
#  - kping (kad-tool) PUT_VALUE to js and GET_VALUE answered by js;
#  - js provides a CID (ADD_PROVIDER with the multihash as key) and kping
#    finds the provider through kpingd and through js; and the reverse, a
#    kping provider found by js through kpingd and through js;
#  - FIND_NODE both ways: js finds a kpingd through kpingd, kping finds a
#    kpingd through js, and a kpingd that enters through js learns the
#    network from js's answers.
# On /ipfs/kad/1.0.0, 20 more js servers announcing many addresses push js's
# FIND_NODE answers past 16 KiB, which kping must read.
# A third round has kpingd serve both ids (kameo's proposed first) and js
# speak /ipfs/kad/1.0.0 only.
# KPINGD and KAD_TOOL are set by meson to the built programs.
# Skips (TAP "1..0 # SKIP") when tests/interop/node_modules is missing, unless
# KPING_REQUIRE_INTEROP=1, which makes that a failure.
dir=$1
js_dht=$dir/js-dht.mjs

. "$dir/js-tap.sh"

# out_check NAME FILE REGEX: one test point for a line of FILE matching REGEX.
out_check() {
        if grep -qE -- "$3" "$2"; then
                ok "$1"
        else
                not_ok "$1" "wanted a line matching: $3" "got: $(cat "$2")" "$(tail -n 3 "$2.err" 2>/dev/null)"
        fi
}

# sha2-256 multihash (hex) of a text, the key js uses for a raw CID of it.
mh_of() {
        printf '%s' "$1" | sha256sum | sed 's/^\([0-9a-f]*\).*/1220\1/'
}

# stop_kpingd NAME PID LOG: SIGTERM; one test point for exit 0 and no
# sanitizer report.
stop_kpingd() {
        local name=$1 pid=$2 log=$3 status=timeout i
        kill -TERM "$pid" 2>/dev/null
        for i in $(seq 100); do
                if ! kill -0 "$pid" 2>/dev/null; then
                        wait "$pid"
                        status=$?
                        break
                fi
                sleep 0.1
        done
        if [ "$status" = 0 ] && ! grep -qE 'Sanitizer|runtime error:' "$log"; then
                ok "$name exits 0 on SIGTERM, no sanitizer report"
        else
                not_ok "$name exits 0 on SIGTERM, no sanitizer report" "exit $status" \
                        "$(grep -E -A 15 'Sanitizer|runtime error:' "$log" | head -n 40)" "$(tail -n 5 "$log")"
        fi
}

# one_protocol TAG PROTOCOL [KAD_PROTOCOLS]: the whole matrix on one kad
# protocol id; kpingd is configured with KAD_PROTOCOLS (default PROTOCOL).
one_protocol() {
        local tag=$1 proto=$2 kad_protocols=${3:-$2} d=$TMP/$1
        local k1_pid k2_pid k3_pid jsa_pid crowd_pid k1 k2 k3 jsa k1_id k2_id jsa_id k1_listen k2_listen out id mh kt_addr kt_id
        mkdir -p "$d"
        printf '[Daemon]\nKadProtocols=%s\n' "$kad_protocols" >"$d/kpingd.conf"
        echo "# --- js on $proto, kpingd KadProtocols=$kad_protocols"

        # K1, then K2 bootstrapped from it.
        "$KPINGD" --config "$d/kpingd.conf" --state-dir "$d/k1" --listen /ip4/127.0.0.1/tcp/0 \
                --addrs-file "$d/k1.addrs" >"$d/k1.log" 2>&1 &
        k1_pid=$!
        if ! k1=$(wait_line "$d/k1.addrs" "$k1_pid"); then
                not_ok "$tag: kpingd 1 started" "$(cat "$d/k1.log")"
                return
        fi
        "$KPINGD" --config "$d/kpingd.conf" --state-dir "$d/k2" --listen /ip4/127.0.0.1/tcp/0 \
                --addrs-file "$d/k2.addrs" --bootstrap "$k1" >"$d/k2.log" 2>&1 &
        k2_pid=$!
        if ! k2=$(wait_line "$d/k2.addrs" "$k2_pid"); then
                not_ok "$tag: kpingd 2 started" "$(cat "$d/k2.log")"
                kill "$k1_pid"
                return
        fi
        k1_id=${k1##*/p2p/}
        k1_listen=${k1%/p2p/*}
        k2_id=${k2##*/p2p/}
        k2_listen=${k2%/p2p/*}
        ok "$tag: two kpingd on $proto, the second bootstrapped from the first"
        echo "# kpingd 1 $k1"
        echo "# kpingd 2 $k2"

        js() { timeout "$STEP_TIMEOUT" "$node" "$js_dht" "$@" --protocol "$proto"; }
        kt() { timeout "$STEP_TIMEOUT" "$KAD_TOOL" --protocol "$proto" --timeout 10000 "$@"; }

        # --- js PUT_VALUE to kpingd, GET_VALUE from kpingd ---------------------
        run_logged "$tag: js put /kping/js-put through kpingd" "$d/put.json" \
                js put --bootstrap "$k1" "/kping/js-put-$tag" "from js on $proto"
        jcheck "$tag: kpingd accepted js's PUT_VALUE (echoed the record)" "$d/put.json" \
                "d.stored.includes('$k1_id')"
        run_logged "$tag: a fresh js node gets /kping/js-put through kpingd" "$d/get.json" \
                js get --bootstrap "$k1" "/kping/js-put-$tag"
        jcheck "$tag: kpingd answered js's GET_VALUE with the value" "$d/get.json" \
                "d.value === 'from js on $proto' && d.answers.some(a => a.from === '$k1_id' && a.value === d.value)"
        out=$(kt --bootstrap "$k1" get "/kping/js-put-$tag" 2>&1)
        if [ "$out" = "from js on $proto" ]; then
                ok "$tag: kping reads js's record back from kpingd"
        else
                not_ok "$tag: kping reads js's record back from kpingd" "$out"
        fi
        run_logged "$tag: kping puts /kping/k-put through kpingd" "$d/kput.txt" \
                kt --bootstrap "$k1" put "/kping/k-put-$tag" "from kping on $proto"
        run_logged "$tag: js gets kping's record through kpingd" "$d/kget.json" \
                js get --bootstrap "$k1" "/kping/k-put-$tag"
        jcheck "$tag: js validated and selected kping's record" "$d/kget.json" \
                "d.value === 'from kping on $proto'"

        # --- FIND_NODE: js asks kpingd ------------------------------------------
        run_logged "$tag: js finds kpingd 2 through kpingd 1" "$d/fp.json" \
                js find-peer --bootstrap "$k1" "$k2_id"
        jcheck "$tag: js's FIND_NODE answered with kpingd 2's address" "$d/fp.json" \
                "d.id === '$k2_id' && d.addrs.includes('$k2_listen')"

        # --- providers through kpingd ------------------------------------------
        run_logged "$tag: js provides a CID through kpingd" "$d/prov.json" \
                js provide --bootstrap "$k1" "js-content-$tag"
        jcheck "$tag: js announced the provider to kpingd" "$d/prov.json" "d.announced.includes('$k1_id')"
        id=$(jfield "$d/prov.json" d.self)
        mh=$(jfield "$d/prov.json" d.multihash)
        if [ "$mh" = "$(mh_of "js-content-$tag")" ]; then
                ok "$tag: js's provider key is the sha2-256 multihash of the content"
        else
                not_ok "$tag: js's provider key is the sha2-256 multihash of the content" "js: $mh"
        fi
        run_logged "$tag: kping finds js's provider through kpingd" "$d/kprov.txt" \
                kt --bootstrap "$k1" --hex providers "$mh"
        out_check "$tag: the provider is js, with its loopback address" "$d/kprov.txt" \
                "^$id .*/ip4/127\\.0\\.0\\.1/tcp/[0-9]+"
        run_logged "$tag: kping provides a CID through kpingd" "$d/kpprov.txt" \
                kt --bootstrap "$k1" --listen /ip4/127.0.0.1/tcp/0 --hex provide "$(mh_of "k-content-$tag")"
        out_check "$tag: kping announced the provider to kpingd" "$d/kpprov.txt" "^announced to [1-9]"
        kt_addr=$(sed -n 's/^listening //p' "$d/kpprov.txt" | head -n 1)
        kt_id=${kt_addr##*/p2p/}
        run_logged "$tag: js finds kping's provider through kpingd" "$d/jfind.json" \
                js find-providers --bootstrap "$k1" "k-content-$tag"
        jcheck "$tag: the provider js found is kping, with its address" "$d/jfind.json" \
                "d.providers.some(p => p.id === '$kt_id' && p.addrs.some(a => a.startsWith('${kt_addr%/p2p/*}')))"

        # --- a js node that serves, joined to kpingd 1 ---------------------------
        "$node" "$js_dht" serve --protocol "$proto" --bootstrap "$k1" >"$d/jsa.addr" 2>"$d/jsa.log" &
        jsa_pid=$!
        if jsa=$(wait_line "$d/jsa.addr" "$jsa_pid"); then
                ok "$tag: a js DHT server joined through kpingd"
        else
                not_ok "$tag: a js DHT server joined through kpingd" "$(cat "$d/jsa.log")"
                kill "$k1_pid" "$k2_pid" "$jsa_pid" 2>/dev/null
                return
        fi
        jsa_id=${jsa##*/p2p/}
        echo "# js       $jsa"

        # --- FIND_NODE: kping asks js ------------------------------------------
        out=$(kt --bootstrap "$jsa" find-peer "$k1_id" 2>&1)
        if [ "${out%% *}" = "$k1_id" ] && echo "$out" | grep -qF " $k1_listen"; then
                ok "$tag: kping finds kpingd 1 through js (js answered FIND_NODE)"
        else
                not_ok "$tag: kping finds kpingd 1 through js (js answered FIND_NODE)" "$out"
        fi
        out=$(kt --bootstrap "$jsa" closest "$jsa_id" 2>&1)
        if echo "$out" | grep -qx "$k1_id"; then
                ok "$tag: kping's lookup of the closest peers through js"
        else
                not_ok "$tag: kping's lookup of the closest peers through js" "$out"
        fi

        # --- kpingd's own lookups through js: kpingd 3 enters through js only ---
        # and learns kpingd 1 from js's answers to its self lookup (with
        # both ids configured, its streams fall back to the one js speaks).
        "$KPINGD" --config "$d/kpingd.conf" --state-dir "$d/k3" --listen /ip4/127.0.0.1/tcp/0 \
                --addrs-file "$d/k3.addrs" --bootstrap "$jsa" --log-level debug >"$d/k3.log" 2>&1 &
        k3_pid=$!
        if k3=$(wait_line "$d/k3.addrs" "$k3_pid"); then
                ok "$tag: kpingd 3, bootstrapped from js only, is ready"
                # its self lookup runs on in the background after it is
                # ready: a few tries, a second apart, for kpingd 3 itself
                # to answer with kpingd 1 (hops=1)
                for _ in 1 2 3 4 5; do
                        out=$(kt --stats --bootstrap "$k3" find-peer "$k1_id" 2>&1)
                        echo "$out" | grep -q "^stats .* hops=1 " && break
                        sleep 1
                done
                if [ "${out%% *}" = "$k1_id" ] && echo "$out" | grep -q "^stats .* hops=1 "; then
                        ok "$tag: kpingd 3 learned kpingd 1 through js's FIND_NODE answers"
                else
                        not_ok "$tag: kpingd 3 learned kpingd 1 through js's FIND_NODE answers" "$out" \
                                "$(grep -h "failed" "$d/k3.log" | head -n 5)"
                fi
        else
                not_ok "$tag: kpingd 3, bootstrapped from js only, is ready" "$(tail -n 20 "$d/k3.log")"
        fi

        # --- GET_VALUE: kping asks js ------------------------------------------
        run_logged "$tag: js puts /kping/on-js through the js server" "$d/jput.json" \
                js put --bootstrap "$jsa" "/kping/on-js-$tag" "held by js on $proto"
        jcheck "$tag: the js server holds the record" "$d/jput.json" "d.stored.includes('$jsa_id')"
        out=$(kt --bootstrap "$jsa" get "/kping/on-js-$tag" 2>&1)
        if [ "$out" = "held by js on $proto" ]; then
                ok "$tag: kping GET_VALUE answered by js"
        else
                not_ok "$tag: kping GET_VALUE answered by js" "$out"
        fi
        expect_exit "$tag: kping GET of a key js does not hold: exit 1" 1 "no value found" \
                kt --bootstrap "$jsa" --timeout 5000 get "/kping/nowhere-$tag"

        # --- PUT_VALUE: kping to js ----------------------------------------------
        run_logged "$tag: kping puts /kping/k-on-js through js" "$d/kput2.txt" \
                kt --bootstrap "$jsa" put "/kping/k-on-js-$tag" "put by kping on $proto"
        out_check "$tag: kping's put was stored" "$d/kput2.txt" "^stored at [1-9]"
        run_logged "$tag: a fresh js node gets kping's record from the js server" "$d/jget2.json" \
                js get --bootstrap "$jsa" "/kping/k-on-js-$tag"
        jcheck "$tag: the js server accepted kping's PUT_VALUE" "$d/jget2.json" \
                "d.answers.some(a => a.from === '$jsa_id' && a.value === 'put by kping on $proto')"

        # --- providers through js ----------------------------------------------
        run_logged "$tag: js provides a CID through the js server" "$d/prov2.json" \
                js provide --bootstrap "$jsa" "js-content-2-$tag"
        id=$(jfield "$d/prov2.json" d.self)
        run_logged "$tag: kping finds js's provider through js" "$d/kprov2.txt" \
                kt --bootstrap "$jsa" --hex providers "$(mh_of "js-content-2-$tag")"
        out_check "$tag: js answered GET_PROVIDERS with the js provider" "$d/kprov2.txt" "^$id "
        run_logged "$tag: kping provides a CID to js" "$d/kpprov2.txt" \
                kt --bootstrap "$jsa" --listen /ip4/127.0.0.1/tcp/0 --hex provide "$(mh_of "k-content-2-$tag")"
        kt_addr=$(sed -n 's/^listening //p' "$d/kpprov2.txt" | head -n 1)
        kt_id=${kt_addr##*/p2p/}
        run_logged "$tag: js finds kping's provider through js" "$d/jfind2.json" \
                js find-providers --bootstrap "$jsa" "k-content-2-$tag"
        jcheck "$tag: js accepted kping's ADD_PROVIDER (id and address)" "$d/jfind2.json" \
                "d.providers.some(p => p.id === '$kt_id' && p.addrs.some(a => a.startsWith('${kt_addr%/p2p/*}')))"

        # --- js answers past 16 KiB: neighbours with many addresses ------------
        # 20 js servers join the js server, each announcing 10 webtransport
        # addresses besides its own, so js's FIND_NODE answers (k peers, all
        # their addresses) pass 16 KiB, as on public networks. Once, on the
        # public network's protocol id.
        if [ "$tag" = ipfs ]; then
                "$node" "$js_dht" crowd --protocol "$proto" --bootstrap "$jsa" >"$d/crowd.json" 2>"$d/crowd.log" &
                crowd_pid=$!
                if wait_line "$d/crowd.json" "$crowd_pid" >/dev/null; then
                        ok "$tag: 20 js servers with 11 addresses each joined the js server"
                        "$node" -e 'for (const p of JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8")).peers) console.log(p)' \
                                "$d/crowd.json" >"$d/crowd.ids"
                        # js adds each to its table once a ping came back: a
                        # few tries, a second apart
                        for _ in 1 2 3 4 5; do
                                out=$(kt --stats --bootstrap "$jsa" closest "/kping/crowd-$tag" 2>&1)
                                grep -qxFf "$d/crowd.ids" <<<"$out" && break
                                sleep 1
                        done
                        if grep -qxFf "$d/crowd.ids" <<<"$out"; then
                                ok "$tag: kping reads js's FIND_NODE answers of over 16 KiB"
                        else
                                not_ok "$tag: kping reads js's FIND_NODE answers of over 16 KiB" "$out"
                        fi
                else
                        not_ok "$tag: 20 js servers with 11 addresses each joined the js server" "$(cat "$d/crowd.log")"
                fi
                kill "$crowd_pid" 2>/dev/null
                wait "$crowd_pid" 2>/dev/null
        fi

        # --- kpingd still serves ------------------------------------------------
        out=$(kt --bootstrap "$k1" get "/kping/js-put-$tag" 2>&1)
        if [ "$out" = "from js on $proto" ]; then
                ok "$tag: kpingd still serves after all of it"
        else
                not_ok "$tag: kpingd still serves after all of it" "$out" "$(tail -n 5 "$d/k1.log")"
        fi
        kill "$jsa_pid" 2>/dev/null
        wait "$jsa_pid" 2>/dev/null
        stop_kpingd "$tag: kpingd 3" "$k3_pid" "$d/k3.log"
        stop_kpingd "$tag: kpingd 2" "$k2_pid" "$d/k2.log"
        stop_kpingd "$tag: kpingd 1" "$k1_pid" "$d/k1.log"
}

one_protocol kameo /kameo/registry/1.0.0
one_protocol ipfs /ipfs/kad/1.0.0
# kpingd serving both, and proposing kameo's first: its streams to js fall
# back to the second id in multistream-select.
one_protocol both /ipfs/kad/1.0.0 "/kameo/registry/1.0.0;/ipfs/kad/1.0.0"
