#!/bin/bash
# Network faults under a running ping session (issue 8), with kpingd in a
# "server" network namespace and kpingctl in a "client" one, joined by a
# veth pair on 10.232.1.0/24 (addresses that exist only inside the
# namespaces this test creates and removes):
#  - the client's link goes down for 5 s mid-session: kpingctl reports the
#    pings lost meanwhile as timeouts, gets pongs again once the link is
#    back, and its summary counts both;
#  - the daemon is restarted (SIGTERM, then started again on the same port
#    and state directory) mid-session: kpingctl reconnects and the totals
#    go on from where they were.
# Needs root and `ip netns`; otherwise the test is skipped.
set -u

skip() {
        echo "1..0 # SKIP $1"
        exit 0
}

[ "$(id -u)" = 0 ] || skip "needs root for network namespaces"
command -v ip >/dev/null 2>&1 || skip "no ip(8) (iproute2)"

SRV=kp-$$-fsrv
CLI=kp-$$-fcli
SRV_ADDR=10.232.1.2
CLI_ADDR=10.232.1.1
PORT=36341
OUTAGE_S=5

if ! ip netns add "$SRV" 2>/dev/null; then
        skip "cannot create network namespaces here"
fi
ip netns del "$SRV"

. "$(dirname "$0")/tap.sh"

faults_cleanup() {
        local pids
        # Deleting a namespace does not stop what runs inside it.
        for ns in "$SRV" "$CLI"; do
                pids=$(ip netns pids "$ns" 2>/dev/null)
                [ -n "$pids" ] && kill $pids 2>/dev/null
        done
        wait 2>/dev/null
        for ns in "$SRV" "$CLI"; do
                ip netns del "$ns" 2>/dev/null
        done
}
trap 'faults_cleanup; tap_cleanup' EXIT
# A timeout's SIGTERM must still remove the namespaces.
trap 'exit 1' TERM INT HUP

in_ns() {
        local ns=$1
        shift
        ip netns exec "$ns" "$@"
}

setup_networks() {
        ip netns add "$SRV" && ip netns add "$CLI" || return 1
        # Both ends are created inside the namespaces: nothing appears in
        # the host's namespace.
        ip link add s0 netns "$SRV" type veth peer name c0 netns "$CLI" || return 1
        in_ns "$SRV" ip addr add "$SRV_ADDR/24" dev s0 || return 1
        in_ns "$CLI" ip addr add "$CLI_ADDR/24" dev c0 || return 1
        for spec in "$SRV s0" "$CLI c0" "$SRV lo" "$CLI lo"; do
                set -- $spec
                in_ns "$1" ip link set "$2" up || return 1
        done
}

if setup_networks >"$TMP/setup" 2>&1; then
        ok "server and client namespaces set up"
else
        not_ok "server and client namespaces set up" "$(cat "$TMP/setup")"
        exit
fi

# start: kpingd in the server namespace on $PORT; $daemon and $addr once it
# is ready. (ip netns exec, not in_ns: it execs kpingd, so $! is kpingd.)
start() {
        rm -f "$TMP/addrs"
        ip netns exec "$SRV" "$KPINGD" --state-dir "$TMP/state" --listen "/ip4/$SRV_ADDR/tcp/$PORT" \
                --addrs-file "$TMP/addrs" >>"$TMP/kpingd.log" 2>&1 &
        daemon=$!
        addr=$(first_addr "$TMP/addrs")
        [ -n "$addr" ]
}

stop() {
        kill -TERM "$daemon" 2>/dev/null
        for _ in $(seq 100); do
                kill -0 "$daemon" 2>/dev/null || break
                sleep 0.1
        done
        wait "$daemon" 2>/dev/null
}

# wait_pongs FILE N: until FILE has N pongs (at most 20 s).
wait_pongs() {
        for _ in $(seq 200); do
                [ "$(grep -c '"type":"pong"' "$1")" -ge "$2" ] && return 0
                sleep 0.1
        done
        return 1
}

pongs() { sed -n 's/^{"type":"pong","seq":\([0-9]*\),"total":\([0-9]*\),.*/\1 \2/p' "$1"; }

if start; then ok "kpingd ready in the server namespace ($addr)"; else not_ok "kpingd ready in the server namespace" "$(cat "$TMP/kpingd.log")"; fi

# ---- link down for 5 s ----------------------------------------------------------
out="$TMP/link"
in_ns "$CLI" timeout -k 5 60 "$KPINGCTL" ping -c 40 -i 0.25 -W 1 --json "$addr" >"$out" 2>"$out.err" &
client=$!
wait_pongs "$out" 5
in_ns "$CLI" ip link set c0 down
down_at=$(grep -c '"type":"pong"' "$out")
sleep $OUTAGE_S
in_ns "$CLI" ip link set c0 up
up_line=$(wc -l <"$out")
wait "$client"
st=$?
echo "# link down after pong $down_at for $OUTAGE_S s"
grep -v '"type":"pong"' "$out" | sed 's/^/# /'
lost=$(grep -c '"type":"timeout"' "$out")
got=$(pongs "$out" | wc -l)
if [ "$st" = 0 ]; then ok "kpingctl exits 0 after the outage"; else not_ok "kpingctl exits 0 after the outage" "exit $st" "$(cat "$out.err")"; fi
# At -i 0.25 a 5 s outage loses about 20 pings; more than 10 at the least.
if [ "$lost" -ge 10 ]; then ok "the outage reported as timeouts ($lost pings lost)"; else not_ok "the outage reported as timeouts" "$lost timeouts"; fi
after=$(sed -n "$((up_line + 1)),\$p" "$out" | grep -c '"type":"pong"')
if [ "$after" -ge 3 ]; then
        ok "pongs again once the link is back ($after)"
else
        not_ok "pongs again once the link is back" "$after pongs after the link came up"
fi
if grep -q "\"type\":\"summary\",\"transmitted\":40,\"received\":$got," "$out" && [ $((got + lost)) = 40 ]; then
        ok "the summary counts them: 40 sent, $got received, $lost lost"
else
        not_ok "the summary counts them" "got $got lost $lost" "$(tail -n 1 "$out")"
fi
if pongs "$out" | awk 'NR == 1 { prev = $2; next } $2 <= prev { bad = 1 } { prev = $2 } END { exit bad }'; then
        ok "totals keep rising across the outage"
else
        not_ok "totals keep rising across the outage" "$(pongs "$out" | tr '\n' ' ')"
fi

# ---- daemon restarted mid-session -----------------------------------------------------
out="$TMP/restart"
in_ns "$CLI" timeout -k 5 60 "$KPINGCTL" ping -c 40 -i 0.25 -W 1 --json "$addr" >"$out" 2>"$out.err" &
client=$!
wait_pongs "$out" 5
stop
before=$(pongs "$out" | tail -n 1 | cut -d' ' -f2)
sleep 1
if start; then ok "kpingd restarted on the same port"; else not_ok "kpingd restarted on the same port" "$(tail "$TMP/kpingd.log")"; fi
wait "$client"
st=$?
grep -v '"type":"pong"' "$out" | sed 's/^/# /'
if [ "$st" = 0 ] && grep -q '"type":"disconnected"' "$out" && grep -q '"type":"reconnected"' "$out"; then
        ok "kpingctl reconnected to the restarted daemon"
else
        not_ok "kpingctl reconnected to the restarted daemon" "exit $st" "$(grep -v pong "$out")" "$(cat "$out.err")"
fi
resumed=$(sed -n '/"type":"reconnected"/,$p' "$out" | pongs /dev/stdin | head -n 1 | cut -d' ' -f2)
last=$(pongs "$out" | tail -n 1 | cut -d' ' -f2)
got=$(pongs "$out" | wc -l)
lost=$(grep -c '"type":"timeout"' "$out")
if [ -n "$before" ] && [ -n "$resumed" ] && [ "$resumed" = $((before + 1)) ]; then
        ok "totals continue across the restart ($before -> $resumed)"
else
        not_ok "totals continue across the restart" "before '$before' resumed '$resumed'"
fi
if grep -q "\"type\":\"summary\",\"transmitted\":40,\"received\":$got,.*\"total\":$last}" "$out" \
        && [ $((got + lost)) = 40 ]; then
        ok "the summary counts them: 40 sent, $got received, $lost lost, total $last"
else
        not_ok "the summary counts them" "got $got lost $lost last $last" "$(tail -n 1 "$out")"
fi
stop
if grep -qiE "critical|AddressSanitizer|runtime error" "$TMP/kpingd.log"; then
        not_ok "no criticals or sanitizer reports" "$(grep -iE "critical|AddressSanitizer|runtime error" "$TMP/kpingd.log" | head)"
else
        ok "no criticals or sanitizer reports"
fi
