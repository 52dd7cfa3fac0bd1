#!/bin/bash
# test.sh: the whole test suite, as CI runs it (.ci/run calls exactly this).
#  1. a normal build with -Dwerror=true: unit, integration, interop, style,
#     fuzz-corpus replay;
#  2. the same with -Db_sanitize=address,undefined;
#  3. a clang libFuzzer build that runs every fuzz target for a bounded time;
#  4. the system test (tests/system/run.sh): the Debian package built, linted,
#     installed into a debootstrapped Debian 12 and checked there under a
#     booted systemd (systemd-nspawn); the Debian root is cached in
#     /var/cache/kping/system-test (KPING_SYSTEM_CACHE).
# Installs what is missing first. Safe to run twice.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD

scripts/install-deps.sh

export KPING_REQUIRE_INTEROP=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export LSAN_OPTIONS=suppressions=$top/tests/lsan.supp:print_suppressions=0

setup() {
        local dir=$1
        shift
        if [ -f "$dir/build.ninja" ]; then
                meson setup --reconfigure "$dir" "$@" >/dev/null
        else
                rm -rf "$dir"
                meson setup "$dir" "$@" >/dev/null
        fi
}

status=0
run() {
        local dir=$1
        shift
        echo "=== meson test -C $dir $*"
        meson compile -C "$dir" >/dev/null || { echo "build failed in $dir"; meson compile -C "$dir" 2>&1 | tail -40; status=1; return; }
        meson test -C "$dir" --print-errorlogs "$@" || status=1
}

setup build-ci -Dwerror=true -Dinterop=enabled
run build-ci

setup build-asan -Dwerror=true -Dinterop=enabled -Db_sanitize=address,undefined -Db_lundef=false
run build-asan

CC=clang setup build-fuzz -Dwerror=true -Dfuzzing=true -Db_sanitize=address,undefined -Db_lundef=false
run build-fuzz --suite fuzz-run

echo "=== meson test -C build-ci --setup system --suite system"
meson test -C build-ci --setup system --suite system --print-errorlogs || status=1

python3 scripts/test-summary.py build-ci build-asan build-fuzz build-ci/meson-logs/testlog-system.json
exit $status
