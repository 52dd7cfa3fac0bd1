#!/bin/sh
# run-fuzzer.sh FUZZER SEED_DIR NEW_DIR SECONDS: run a libFuzzer target for a
# bounded time. New inputs go to NEW_DIR, never into the committed seeds.
# The dictionary fuzz/dict/<name>.dict is used when it exists, where the
# fuzzer binary is fuzz-<name>.
set -eu
fuzzer=$1 seeds=$2 new=$3 seconds=$4
name=$(basename "$fuzzer")
name=${name#fuzz-}
dict="$(dirname "$0")/dict/$name.dict"
mkdir -p "$new"
set -- -error_exitcode=1 -artifact_prefix="$new/" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1
if [ -f "$dict" ]; then
        set -- "$@" -dict="$dict"
fi
# libFuzzer exits 77 on a crash by default, which meson counts as a skip.
exec "$fuzzer" "$@" "$new" "$seeds"
