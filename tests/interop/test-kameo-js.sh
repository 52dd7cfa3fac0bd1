#!/bin/sh
# test-kameo-js.sh INTEROP_SOURCE_DIR: the hand-derived kameo wire vectors
# (fixtures/kameo-vectors.json) decode and re-encode byte for byte with
# cbor-x and @msgpack/msgpack. Skips (77) when tests/interop/node_modules is
# missing, unless KPING_REQUIRE_INTEROP=1, which makes that a failure.
set -eu
dir=$1
node=$dir/node_modules/.bin/node

if [ ! -x "$node" ]; then
        msg="$dir/node_modules is missing (run: cd $dir && npm ci)"
        if [ "${KPING_REQUIRE_INTEROP:-0}" = 1 ]; then
                echo "FAIL: $msg, and KPING_REQUIRE_INTEROP=1" >&2
                exit 1
        fi
        echo "SKIP: $msg"
        exit 77
fi
case $("$node" --version) in
v22.*) ;;
*)
        echo "FAIL: $node is $("$node" --version), not the pinned Node 22" >&2
        exit 1
        ;;
esac
exec "$node" "$dir/kameo-vectors.mjs" "$dir/fixtures/kameo-vectors.json"
