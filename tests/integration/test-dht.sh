#!/bin/bash
# The Kademlia DHT across real kpingd processes on loopback: 30 nodes, each
# bootstrapped from one random earlier node; records and providers put
# through one node are found through another; a third of the nodes die and
# the values replicated to the k closest are still found. kad-tool is a
# client that joins through the given node and runs one real lookup.
. "$(dirname "$0")/tap.sh"

N=30
declare -a PIDS ADDRS

# wait_file FILE: up to 10 s for FILE to exist and be non-empty.
wait_file() {
        for _ in $(seq 100); do
                [ -s "$1" ] && return 0
                sleep 0.1
        done
        return 1
}

start_node() { # start_node INDEX [EXTRA ARGS...]
        local i=$1
        shift
        "$KPINGD" --state-dir "$TMP/s$i" --listen /ip4/127.0.0.1/tcp/0 --addrs-file "$TMP/a$i" \
                --log-level info "$@" >"$TMP/log$i" 2>&1 &
        PIDS[$i]=$!
        if ! wait_file "$TMP/a$i"; then
                return 1
        fi
        ADDRS[$i]=$(head -1 "$TMP/a$i")
}

started=0
start_node 0 && started=1
for i in $(seq 1 $((N - 1))); do
        start_node "$i" --bootstrap "${ADDRS[$((RANDOM % i))]}" && started=$((started + 1))
done
if [ "$started" = $N ]; then ok "$N nodes started, each bootstrapped from an earlier one"; else not_ok "$N nodes started" "only $started"; fi
# let the bootstrap self-lookups finish (each is bounded by its timeout)
sleep 2

kad() { timeout -k 5 30 "$KAD_TOOL" --timeout 10000 "$@"; }

# A record put through node 3 is found through node 27, which never talked
# to the putting client.
out=$(kad -b "${ADDRS[3]}" put /kping/test-record hello-dht 2>&1)
case "$out" in
"stored at "*) n=${out#stored at }; n=${n%% *}
        if [ "$n" -ge 10 ]; then ok "put stored the record at $n peers"; else not_ok "put stored at >= 10 peers" "$out"; fi ;;
*) not_ok "put stored the record" "$out" ;;
esac
out=$(kad -b "${ADDRS[27]}" get /kping/test-record 2>&1)
if [ "$out" = hello-dht ]; then ok "record found through another node"; else not_ok "record found through another node" "$out"; fi
expect_exit "missing record: exit 1" 1 "no value found" kad -b "${ADDRS[20]}" get /kping/no-such-record

# Providers: a kameo-style registration (ADD_PROVIDER name, PUT_VALUE
# name:meta:<peer>) through node 5, looked up through node 22.
prov=$(kad -b "${ADDRS[5]}" register dht-test-actor 2>&1)
case "$prov" in
12D3KooW*) ok "registered a provider ($prov)" ;;
*) not_ok "registered a provider" "$prov" ;;
esac
out=$(kad -b "${ADDRS[22]}" providers dht-test-actor 2>&1)
if [ "${out%% *}" = "$prov" ]; then ok "provider found through another node"; else not_ok "provider found through another node" "want $prov" "$out"; fi
if kad -b "${ADDRS[22]}" get "dht-test-actor:meta:$prov" >"$TMP/meta" 2>&1 && grep -q "kping::PingActor" "$TMP/meta"; then
        ok "kameo registration record found"
else
        not_ok "kameo registration record found" "$(cat "$TMP/meta")"
fi
out=$(timeout -k 5 30 "$KPINGCTL" resolve --actor dht-test-actor "${ADDRS[13]}" 2>&1)
if echo "$out" | grep -q "^Peer ID: $prov" && echo "$out" | grep -q "Remote id: kping::PingActor"; then
        ok "kpingctl resolve finds the actor"
else
        not_ok "kpingctl resolve finds the actor" "$out"
fi
out=$(timeout -k 5 30 "$KPINGCTL" resolve --json --actor dht-test-actor "${ADDRS[8]}" 2>&1)
if echo "$out" | grep -q "\"peer_id\":\"$prov\"" && echo "$out" | grep -q '"remote_id":"kping::PingActor"'; then
        ok "kpingctl resolve --json"
else
        not_ok "kpingctl resolve --json" "$out"
fi
expect_exit "kpingctl resolve: unknown actor" 2 "actor 'no-such-actor' not found" \
        timeout -k 5 30 "$KPINGCTL" resolve --actor no-such-actor "${ADDRS[8]}"
expect_exit "another peer's meta key is refused" 2 "record key names peer" \
        kad -b "${ADDRS[1]}" put "x:meta:$prov" value
expect_exit "a key outside the accepted forms is refused" 2 "neither" \
        kad -b "${ADDRS[1]}" put "/other/key" value

# Peer routing: find node 17 from a client that entered through node 11.
want=${ADDRS[17]##*/}
out=$(kad -b "${ADDRS[11]}" find-peer "$want" 2>&1)
if [ "${out%% *}" = "$want" ] && echo "$out" | grep -q "/ip4/127.0.0.1/tcp/"; then ok "find-peer returns the peer and its address"; else not_ok "find-peer" "$out"; fi

# Kill a third of the nodes (every third one, never 0 or the entry points
# used below), then look up again.
killed=0
for i in $(seq 1 3 $((N - 1))); do
        kill "${PIDS[$i]}" 2>/dev/null && killed=$((killed + 1))
done
for i in $(seq 1 3 $((N - 1))); do wait "${PIDS[$i]}" 2>/dev/null; done
ok "killed $killed of $N nodes"
out=$(kad -b "${ADDRS[0]}" get /kping/test-record 2>&1)
if [ "$out" = hello-dht ]; then ok "record still found after the kill (via node 0)"; else not_ok "record still found after the kill (via node 0)" "$out"; fi
out=$(kad -b "${ADDRS[29]}" get /kping/test-record 2>&1)
if [ "$out" = hello-dht ]; then ok "record still found after the kill (via node 29)"; else not_ok "record still found after the kill (via node 29)" "$out"; fi
out=$(kad -b "${ADDRS[2]}" providers dht-test-actor 2>&1)
if [ "${out%% *}" = "$prov" ]; then ok "provider still found after the kill"; else not_ok "provider still found after the kill" "$out"; fi

# /ipfs/kad/1.0.0 works too: two nodes serving only it.
printf '[Daemon]\nKadProtocols=/ipfs/kad/1.0.0\n' >"$TMP/ipfs.conf"
start_node 40 --config "$TMP/ipfs.conf"
start_node 41 --config "$TMP/ipfs.conf" --bootstrap "${ADDRS[40]}"
sleep 1
out=$(kad -p /ipfs/kad/1.0.0 -b "${ADDRS[41]}" put /kping/ipfs-record v1 2>&1)
case "$out" in
"stored at 2 peers") ok "put over /ipfs/kad/1.0.0" ;;
*) not_ok "put over /ipfs/kad/1.0.0" "$out" ;;
esac
out=$(kad -p /ipfs/kad/1.0.0 -b "${ADDRS[40]}" get /kping/ipfs-record 2>&1)
if [ "$out" = v1 ]; then ok "get over /ipfs/kad/1.0.0"; else not_ok "get over /ipfs/kad/1.0.0" "$out"; fi
expect_exit "the kameo protocol id is not served there" 1 "no value found" \
        kad -b "${ADDRS[40]}" get /kping/ipfs-record

for i in "${!PIDS[@]}"; do kill "${PIDS[$i]}" 2>/dev/null; done
crashed=0
for i in "${!PIDS[@]}"; do
        wait "${PIDS[$i]}" 2>/dev/null
        rc=$?
        # 0 for a clean stop; 143 only if it was killed before handling TERM
        if [ "$rc" != 0 ] && [ "$rc" != 143 ]; then crashed=$((crashed + 1)); echo "# node $i exit $rc"; tail -3 "$TMP/log$i" | sed 's/^/# /'; fi
done
if [ "$crashed" = 0 ]; then ok "every node stopped cleanly"; else not_ok "every node stopped cleanly" "$crashed did not"; fi
