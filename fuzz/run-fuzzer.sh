#!/bin/sh
# run-fuzzer.sh FUZZER SEED_DIR NEW_DIR SECONDS: run a libFuzzer target for a
# bounded time. New inputs go to NEW_DIR, never into the committed seeds.
set -eu
fuzzer=$1 seeds=$2 new=$3 seconds=$4
mkdir -p "$new"
# libFuzzer exits 77 on a crash by default, which meson counts as a skip.
exec "$fuzzer" -error_exitcode=1 -artifact_prefix="$new/" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 "$new" "$seeds"
