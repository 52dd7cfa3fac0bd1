# Shared by the bench scripts; source it with $bench set to the script's name.
# Gives $tmp (removed on exit), the array $pids (killed on exit) and wait_file.

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kping-bench.XXXXXX")
pids=()
cleanup() {
        for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
        wait 2>/dev/null
        rm -rf "$tmp"
}
trap cleanup EXIT

# wait_file FILE: until FILE exists and is not empty (at most 10 s).
wait_file() {
        for _ in $(seq 100); do
                [ -s "$1" ] && return 0
                sleep 0.1
        done
        echo "$bench: $1 did not appear" >&2
        exit 2
}
