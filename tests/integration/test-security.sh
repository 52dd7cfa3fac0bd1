#!/bin/bash
# A hostile peer against one kpingd on loopback, and what the daemon logs.
#  - Actor names: a peer that PUTs another peer's registration record
#    (ping:meta:<daemon>) or announces another peer as a provider of "ping"
#    is refused, and the refusal is logged with the sender's peer id; the
#    genuine actor is still resolved and pinged.
#  - Peer ids: a dial under another peer's id fails the Noise handshake.
#  - Secrets: with LogLevel debug, through identity creation, a ping session
#    and the refusals above, no form of the private key (hex, base64,
#    base58, raw bytes; the seed, the 64-byte key, the protobuf) appears in
#    the daemon's or kpingctl's output.
. "$(dirname "$0")/tap.sh"
trap 'exit 1' TERM INT HUP

wait_file() {
        for _ in $(seq 100); do
                [ -s "$1" ] && return 0
                sleep 0.1
        done
        return 1
}

mkdir -p "$TMP/a"
"$KPINGD" --state-dir "$TMP/a" --addrs-file "$TMP/a.addrs" --listen /ip4/127.0.0.1/tcp/0 \
        --log-level debug >"$TMP/a.log" 2>&1 &
pid=$!
if wait_file "$TMP/a.addrs"; then ok "kpingd ready (debug log level)"; else not_ok "kpingd ready" "$(cat "$TMP/a.log")"; fi
addr=$(head -1 "$TMP/a.addrs")
peer=${addr##*/p2p/}

if timeout -k 5 30 "$KPINGCTL" ping -c 3 "$addr" >"$TMP/ctl.log" 2>&1; then
        ok "a ping session"
else
        not_ok "a ping session" "$(cat "$TMP/ctl.log")"
fi

# forge CMD: kad-tool as a hostile peer; prints its answer, "$TMP/forger"
# holds its peer id.
forge() {
        timeout -k 5 30 "$KAD_TOOL" --listen /ip4/127.0.0.1/tcp/0 -b "$addr" "$1" ping "$peer" >"$TMP/forge.out" 2>&1
        sed -n 's|^listening .*/p2p/||p' "$TMP/forge.out" >"$TMP/forger"
        grep -v '^listening ' "$TMP/forge.out"
}

# wait_log PATTERN: up to 5 s for the daemon's log to contain PATTERN.
wait_log() {
        for _ in $(seq 50); do
                grep -qF -- "$1" "$TMP/a.log" && return 0
                sleep 0.1
        done
        return 1
}

out=$(forge forge-put)
forger=$(cat "$TMP/forger")
if [ "$out" = refused ] && wait_log "PUT_VALUE from $forger rejected: record key names peer $peer but was sent by $forger"; then
        ok "another peer's registration record is refused and logged"
else
        not_ok "another peer's registration record is refused and logged" "kad-tool: $out" "$(grep -i reject "$TMP/a.log")"
fi
out=$(forge forge-provide)
forger=$(cat "$TMP/forger")
if [ "$out" = sent ] && wait_log "ADD_PROVIDER from $forger rejected: it names provider $peer"; then
        ok "an ADD_PROVIDER naming another peer is refused and logged"
else
        not_ok "an ADD_PROVIDER naming another peer is refused and logged" "kad-tool: $out" "$(grep -i reject "$TMP/a.log")"
fi
out=$(timeout -k 5 30 "$KPINGCTL" resolve --actor ping "$addr" 2>&1)
if echo "$out" | grep -q "^Peer ID: $peer" && ! echo "$out" | grep -q "$forger"; then
        ok "kpingctl resolve finds only the genuine actor"
else
        not_ok "kpingctl resolve finds only the genuine actor" "$out"
fi
if timeout -k 5 30 "$KPINGCTL" ping -c 2 "$addr" >>"$TMP/ctl.log" 2>&1; then
        ok "the genuine actor still answers"
else
        not_ok "the genuine actor still answers" "$(cat "$TMP/ctl.log")"
fi

# A /p2p/ id that is not the daemon's: Noise proves who answered.
listen=${addr%/p2p/*}
expect_exit "a dial to the daemon under another peer id is refused" 2 \
        "peer id mismatch: expected $forger, got $peer" \
        timeout -k 5 30 "$KPINGCTL" ping -c 1 "$listen/p2p/$forger"

kill -TERM "$pid"
wait "$pid"
st=$?
if [ "$st" = 0 ]; then ok "kpingd exits 0 on SIGTERM"; else not_ok "kpingd exits 0 on SIGTERM" "exit $st"; fi

# (a g_debug line of lib/net/kp-connection.c, written when kpingctl leaves)
if grep -q 'peer sent GO_AWAY' "$TMP/a.log"; then
        ok "the daemon logged at debug level"
else
        not_ok "the daemon logged at debug level" "$(head -20 "$TMP/a.log" | sed 's/^/# /')"
fi
if python3 - "$TMP/a/identity.key" "$TMP/a.log" "$TMP/ctl.log" "$TMP/forge.out" >"$TMP/secrets" 2>&1 <<'PY'
import base64, sys
key = open(sys.argv[1], "rb").read()
# libp2p PrivateKey protobuf: Type=Ed25519 (08 01), Data (12 40) = seed || public key
assert key[:4] == b"\x08\x01\x12\x40" and len(key) == 68, "unexpected key file layout"
seed, full = key[4:36], key[4:68]
def b58(b):
    alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
    n, out = int.from_bytes(b, "big"), ""
    while n:
        n, r = divmod(n, 58)
        out = alphabet[r] + out
    return "1" * (len(b) - len(b.lstrip(b"\0"))) + out
forms = {}
for name, raw in (("seed", seed), ("private key", full), ("protobuf", key)):
    forms[name + " raw"] = raw
    forms[name + " hex"] = raw.hex().encode()
    forms[name + " HEX"] = raw.hex().upper().encode()
    for enc in ("b64encode", "urlsafe_b64encode", "b32encode"):
        forms[name + " " + enc] = getattr(base64, enc)(raw).rstrip(b"=")
        forms[name + " " + enc + " lower"] = forms[name + " " + enc].lower()
    forms[name + " base58"] = b58(raw).encode()
# a 16-byte window of the seed is enough to count as a leak
forms["seed hex prefix"] = seed[:16].hex().encode()
found = []
for path in sys.argv[2:]:
    data = open(path, "rb").read()
    for name, needle in forms.items():
        if needle in data:
            found.append(f"{name} in {path}")
print("\n".join(found) if found else f"none of {len(forms)} forms found")
sys.exit(1 if found else 0)
PY
then
        ok "no private key material in any log ($(cat "$TMP/secrets"))"
else
        not_ok "no private key material in any log" "$(cat "$TMP/secrets")"
fi
