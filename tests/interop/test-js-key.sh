#!/bin/sh
# test-js-key.sh CHECK_KEY INTEROP_SOURCE_DIR: Ed25519 key files written by
# js-libp2p load in kping with the same peer id, and the other way round.
# Skips (77) when tests/interop/node_modules is missing, unless
# KPING_REQUIRE_INTEROP=1, which makes that a failure.
set -eu
check_key=$1
dir=$2
node=$dir/node_modules/.bin/node

fail() {
        echo "FAIL: $*" >&2
        exit 1
}

expect_equal() { # WHAT GOT EXPECTED
        if [ "$2" != "$3" ]; then
                fail "$1: kping says '$2', js-libp2p says '$3'"
        fi
        echo "ok: $1: $2"
}

# The committed fixture needs no node: check it first, always.
fixture=$dir/fixtures/js-ed25519.key
expect_equal "committed fixture $fixture" "$("$check_key" "$fixture")" \
        "$(cat "$dir/fixtures/js-ed25519.peerid")"

if [ ! -x "$node" ]; then
        msg="$dir/node_modules is missing (run: cd $dir && npm ci)"
        if [ "${KPING_REQUIRE_INTEROP:-0}" = 1 ]; then
                fail "$msg, and KPING_REQUIRE_INTEROP=1"
        fi
        echo "SKIP: $msg"
        exit 77
fi
case $("$node" --version) in
v22.*) ;;
*) fail "$node is $("$node" --version), not the pinned Node 22" ;;
esac

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# js-libp2p writes a key, kping reads it
js_id=$("$node" "$dir/gen-key.mjs" "$tmp/js.key")
case $js_id in
12D3KooW*) ;;
*) fail "gen-key.mjs printed '$js_id', not an Ed25519 peer id" ;;
esac
expect_equal "key written by js-libp2p" "$("$check_key" "$tmp/js.key")" "$js_id"

# kping writes its identity key, js-libp2p reads it
c_id=$("$check_key" --create-identity "$tmp/state")
c_cid=$("$check_key" --cid "$tmp/state/identity.key")
js_out=$("$node" "$dir/load-key.mjs" "$tmp/state/identity.key")
expect_equal "identity.key written by kping" "$c_id" "$(echo "$js_out" | sed -n 1p)"
expect_equal "identity.key written by kping, CID form" "$c_cid" "$(echo "$js_out" | sed -n 2p)"

# and the committed fixture through js-libp2p too
expect_equal "committed fixture via js-libp2p" "$("$check_key" "$fixture")" \
        "$("$node" "$dir/load-key.mjs" "$fixture" | sed -n 1p)"
