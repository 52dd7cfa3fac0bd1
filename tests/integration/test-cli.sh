#!/bin/bash
# The programs' command lines: identity, address validation, help, version.
. "$(dirname "$0")/tap.sh"

state=$TMP/state
id1=$("$KPINGD" --state-dir "$state" --print-peer-id 2>"$TMP/err1")
id2=$("$KPINGD" --state-dir "$state" --print-peer-id 2>>"$TMP/err1")
case "$id1" in
12D3KooW*) ok "print-peer-id prints an Ed25519 peer id" ;;
*) not_ok "print-peer-id prints an Ed25519 peer id" "got '$id1'" "$(cat "$TMP/err1")" ;;
esac
if [ -n "$id1" ] && [ "$id1" = "$id2" ]; then ok "peer id stable across runs"; else not_ok "peer id stable across runs" "$id1 vs $id2"; fi
mode=$(stat -c %a "$state/identity.key" 2>/dev/null)
if [ "$mode" = 600 ]; then ok "identity key is mode 0600"; else not_ok "identity key is mode 0600" "mode $mode"; fi

chmod 644 "$state/identity.key"
expect_exit "group-readable key refused" 1 "chmod 600" "$KPINGD" --state-dir "$state" --print-peer-id
chmod 600 "$state/identity.key"

expect_exit "port out of range" 2 'invalid multiaddr "/ip4/1.2.3.4/tcp/99999": port 99999 out of range' \
        "$KPINGCTL" ping /ip4/1.2.3.4/tcp/99999
expect_exit "unknown protocol" 2 'invalid multiaddr "/ip4/1.2.3.4/foo/1"' \
        "$KPINGCTL" ping /ip4/1.2.3.4/foo/1
expect_exit "address without peer id" 2 '/p2p' "$KPINGCTL" ping /ip4/127.0.0.1/tcp/1
expect_exit "bad count" 2 'invalid count 0' "$KPINGCTL" ping -c 0 "/ip4/127.0.0.1/tcp/1/p2p/$id1"
expect_exit "negative interval" 2 'invalid interval' "$KPINGCTL" ping -i -1 "/ip4/127.0.0.1/tcp/1/p2p/$id1"
expect_exit "unknown command" 2 'unknown command "pong"' "$KPINGCTL" pong
expect_exit "kpingd unknown option" 2 'Unknown option --bogus' "$KPINGD" --bogus

check "kpingd --version" bash -c "'$KPINGD' --version | grep -qx 'kpingd [0-9.]*'"
check "kpingctl --version" bash -c "'$KPINGCTL' --version | grep -qx 'kpingctl [0-9.]*'"
check "kpingd --help" bash -c "'$KPINGD' --help | grep -q -- --state-dir"
check "kpingctl --help" bash -c "'$KPINGCTL' --help | grep -q ping"
check "kpingctl ping --help" bash -c "'$KPINGCTL' ping --help | grep -q -- --libp2p"
