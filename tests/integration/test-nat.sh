#!/bin/bash
# Two networks joined by a NAT router, as a home network is: kpingd in a
# "server" namespace on 10.231.1.0/24, kpingctl in a "client" namespace on
# 10.231.2.0/24, and a router namespace between them that forwards and
# masquerades the client subnet. The server has no route to the client
# subnet at all, so only the NATed source address can work. The addresses
# exist only inside the namespaces this test creates (and removes).
# Needs root, `ip netns` and nft (or iptables); otherwise the test is skipped.
set -u

skip() {
        echo "1..0 # SKIP $1"
        exit 0
}

[ "$(id -u)" = 0 ] || skip "needs root for network namespaces"
command -v ip >/dev/null 2>&1 || skip "no ip(8) (iproute2)"
if command -v nft >/dev/null 2>&1; then
        NAT=nft
elif command -v iptables >/dev/null 2>&1; then
        NAT=iptables
else
        skip "neither nft nor iptables is installed"
fi

SRV=kp-$$-srv
RTR=kp-$$-rtr
CLI=kp-$$-cli
SRV_ADDR=10.231.1.2
RTR_SRV_ADDR=10.231.1.1
RTR_CLI_ADDR=10.231.2.1
CLI_ADDR=10.231.2.2

if ! ip netns add "$SRV" 2>/dev/null; then
        skip "cannot create network namespaces here"
fi
ip netns del "$SRV"

. "$(dirname "$0")/tap.sh"

nat_cleanup() {
        local pids
        # Whatever still runs inside the namespaces this test made (kpingd,
        # a kpingctl cut short): deleting a namespace does not stop them.
        for ns in "$SRV" "$RTR" "$CLI"; do
                pids=$(ip netns pids "$ns" 2>/dev/null)
                [ -n "$pids" ] && kill $pids 2>/dev/null
        done
        wait 2>/dev/null
        for ns in "$SRV" "$RTR" "$CLI"; do
                ip netns del "$ns" 2>/dev/null
        done
}
trap 'nat_cleanup; tap_cleanup' EXIT
# A timeout's SIGTERM must still remove the namespaces.
trap 'exit 1' TERM INT HUP

in_ns() {
        local ns=$1
        shift
        ip netns exec "$ns" "$@"
}

setup_networks() {
        ip netns add "$SRV" && ip netns add "$RTR" && ip netns add "$CLI" || return 1
        # Each veth pair is created with its ends already inside the
        # namespaces: nothing appears in the host's namespace.
        ip link add s0 netns "$SRV" type veth peer name r1 netns "$RTR" || return 1
        ip link add c0 netns "$CLI" type veth peer name r2 netns "$RTR" || return 1
        in_ns "$SRV" ip addr add "$SRV_ADDR/24" dev s0 || return 1
        in_ns "$RTR" ip addr add "$RTR_SRV_ADDR/24" dev r1 || return 1
        in_ns "$RTR" ip addr add "$RTR_CLI_ADDR/24" dev r2 || return 1
        in_ns "$CLI" ip addr add "$CLI_ADDR/24" dev c0 || return 1
        for spec in "$SRV s0" "$RTR r1" "$RTR r2" "$CLI c0"; do
                set -- $spec
                in_ns "$1" ip link set "$2" up || return 1
        done
        for ns in "$SRV" "$RTR" "$CLI"; do
                in_ns "$ns" ip link set lo up || return 1
        done
        # The client reaches everything through the router; the server only
        # knows its own subnet.
        in_ns "$CLI" ip route add default via "$RTR_CLI_ADDR" || return 1
        in_ns "$RTR" sysctl -qw net.ipv4.ip_forward=1 || return 1
        if [ "$NAT" = nft ]; then
                in_ns "$RTR" nft -f - <<EOF || return 1
table ip kping_nat {
        chain postrouting {
                type nat hook postrouting priority srcnat; policy accept;
                ip saddr 10.231.2.0/24 oifname "r1" masquerade
        }
}
EOF
        else
                in_ns "$RTR" iptables -t nat -A POSTROUTING -s 10.231.2.0/24 -o r1 -j MASQUERADE || return 1
        fi
}

if setup_networks >"$TMP/setup" 2>&1; then
        ok "server, router ($NAT masquerade) and client namespaces set up"
else
        not_ok "server, router ($NAT masquerade) and client namespaces set up" "$(cat "$TMP/setup")"
        exit
fi

if in_ns "$SRV" ip route get "$CLI_ADDR" >/dev/null 2>&1; then
        not_ok "the server has no route to the client subnet" "$(in_ns "$SRV" ip route)"
else
        ok "the server has no route to the client subnet"
fi

# ip netns exec execs the program: $! is kpingd itself.
ip netns exec "$SRV" "$KPINGD" --state-dir "$TMP/state" --listen "/ip4/$SRV_ADDR/tcp/0" \
        --addrs-file "$TMP/addrs" >"$TMP/kpingd.log" 2>&1 &
addr=$(first_addr "$TMP/addrs")
case "$addr" in
"/ip4/$SRV_ADDR/tcp/"*/p2p/12D3KooW*) ok "kpingd ready in the server namespace ($addr)" ;;
*) not_ok "kpingd ready in the server namespace" "addrs: '$addr'" "$(cat "$TMP/kpingd.log")" ;;
esac

in_ns "$CLI" timeout -k 5 30 "$KPINGCTL" ping -c 5 -i 0.2 "$addr" >"$TMP/ping" 2>&1
st=$?
if [ $st = 0 ] && grep -q "5 pings transmitted, 5 received" "$TMP/ping"; then
        ok "kpingctl in the client namespace: 5 pongs through the NAT"
else
        not_ok "kpingctl in the client namespace: 5 pongs through the NAT" "exit $st" "$(cat "$TMP/ping")"
fi

if grep -q "Client connected: 12D3KooW[^ ]* from /ip4/$RTR_SRV_ADDR/tcp/" "$TMP/kpingd.log"; then
        ok "kpingd saw the client from the router's address (NATed)"
else
        not_ok "kpingd saw the client from the router's address (NATed)" "$(grep 'Client connected' "$TMP/kpingd.log")"
fi
