# Minimal TAP helpers for the shell integration tests; source it.
# KPINGD and KPINGCTL are set by meson to the built programs.
set -u
tap_n=0
tap_failed=0
TMP=$(mktemp -d "${TMPDIR:-/tmp}/kping-test.XXXXXX")
trap 'tap_cleanup' EXIT

tap_cleanup() {
        local pids
        pids=$(jobs -p)
        [ -n "$pids" ] && kill $pids 2>/dev/null
        # Daemons still running get SIGTERM and up to 5 s to exit, so that
        # a LeakSanitizer report at their exit is in their log for the scan.
        for _ in $(seq 50); do
                [ -z "$(jobs -pr)" ] && break
                sleep 0.1
        done
        tap_sanitizer_scan
        rm -rf "$TMP"
        echo "1..$tap_n"
        exit $tap_failed
}

# A sanitizer report from a program run in the background (whose exit
# status nobody checks) lands only in a log file under $TMP: any such report
# fails the test. Markers: ASan/LSan/TSan "ERROR: ...Sanitizer", UBSan
# "runtime error:".
tap_sanitizer_scan() {
        local hits
        hits=$(grep -rlE 'ERROR: [A-Za-z]+Sanitizer|runtime error:' "$TMP" 2>/dev/null)
        if [ -n "$hits" ]; then
                local f lines=()
                for f in $hits; do
                        lines+=("$f:")
                        while IFS= read -r l; do lines+=("$l"); done \
                                < <(grep -E -A12 'ERROR: [A-Za-z]+Sanitizer|runtime error:' "$f" | head -40)
                done
                not_ok "no sanitizer report in any output" "${lines[@]}"
        else
                ok "no sanitizer report in any output"
        fi
}

ok() {
        tap_n=$((tap_n + 1))
        echo "ok $tap_n - $1"
}

not_ok() {
        tap_n=$((tap_n + 1))
        tap_failed=1
        echo "not ok $tap_n - $1"
        shift
        for line in "$@"; do echo "# $line"; done
}

# check NAME COMMAND...: one test point for a command's success.
check() {
        local name=$1
        shift
        if "$@" >"$TMP/out" 2>&1; then ok "$name"; else not_ok "$name" "$(cat "$TMP/out")"; fi
}

# expect_exit NAME STATUS STDERR_SUBSTRING COMMAND...
expect_exit() {
        local name=$1 want=$2 msg=$3 got
        shift 3
        "$@" >"$TMP/out" 2>"$TMP/err"
        got=$?
        if [ "$got" = "$want" ] && grep -qF -- "$msg" "$TMP/err" && [ "$(wc -l <"$TMP/err")" -eq 1 ]; then
                ok "$name"
        else
                not_ok "$name" "exit $got (want $want); stderr: $(cat "$TMP/err")" "wanted one line containing: $msg"
        fi
}

# first_addr FILE: waits (at most 10 s) for a kpingd --addrs-file and prints
# its first address; nothing when it never appeared.
first_addr() {
        for _ in $(seq 100); do
                [ -s "$1" ] && break
                sleep 0.1
        done
        head -n 1 "$1" 2>/dev/null
}

# fd_count: descriptors the process $daemon holds.
fd_count() {
        ls "/proc/$daemon/fd" 2>/dev/null | wc -l
}

# wait_fds N: until $daemon has at most N descriptors (at most 5 s).
wait_fds() {
        for _ in $(seq 50); do
                [ "$(fd_count)" -le "$1" ] && return 0
                sleep 0.1
        done
        return 1
}
