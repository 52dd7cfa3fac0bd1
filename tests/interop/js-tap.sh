# Shared by the js interop TAP tests; source it with $dir set to
# tests/interop. Sets $node (the pinned Node 22), skips the test (TAP
# "1..0 # SKIP") when node_modules is missing unless KPING_REQUIRE_INTEROP=1
# (then a failure), sources tests/integration/tap.sh and defines wait_line,
# jcheck, jfield and run_logged.
node=$dir/node_modules/.bin/node

if [ ! -x "$node" ]; then
        msg="$dir/node_modules is missing (run: cd $dir && npm ci)"
        if [ "${KPING_REQUIRE_INTEROP:-0}" = 1 ]; then
                echo "Bail out! $msg, and KPING_REQUIRE_INTEROP=1"
                exit 1
        fi
        echo "1..0 # SKIP $msg"
        exit 0
fi
case $("$node" --version) in
v22.*) ;;
*)
        echo "Bail out! $node is $("$node" --version), not the pinned Node 22"
        exit 1
        ;;
esac

. "$dir/../integration/tap.sh"

# Seconds any single step may take before it counts as hung.
STEP_TIMEOUT=${STEP_TIMEOUT:-60}

# wait_line FILE PID: wait (at most 20 s) for FILE to hold a full line, while
# PID lives; print that line.
wait_line() {
        local i
        for i in $(seq 200); do
                if [ -s "$1" ] && [ "$(tail -c 1 "$1" | od -An -c | tr -d ' ')" = '\n' ]; then
                        head -n 1 "$1"
                        return 0
                fi
                kill -0 "$2" 2>/dev/null || return 1
                sleep 0.1
        done
        return 1
}

# jcheck NAME FILE EXPR: one test point; EXPR is JavaScript over `d`, the
# JSON object on FILE's last line, and must be true.
jcheck() {
        local name=$1 file=$2 expr=$3
        if "$node" -e '
const fs = require("node:fs")
const lines = fs.readFileSync(process.argv[1], "utf8").trim().split("\n")
const d = JSON.parse(lines[lines.length - 1])
process.exit((new Function("d", "return (" + process.argv[2] + ")"))(d) ? 0 : 1)
' "$file" "$expr" 2>"$TMP/jerr"; then
                ok "$name"
        else
                not_ok "$name" "wanted: $expr" "got: $(tail -n 1 "$file")" \
                        "$(tail -n 3 "$file.err" 2>/dev/null)" "$(cat "$TMP/jerr")"
        fi
}

# jfield FILE EXPR: print EXPR over `d` (FILE's last JSON line).
jfield() {
        "$node" -e '
const fs = require("node:fs")
const lines = fs.readFileSync(process.argv[1], "utf8").trim().split("\n")
console.log((new Function("d", "return (" + process.argv[2] + ")"))(JSON.parse(lines[lines.length - 1])))
' "$1" "$2" 2>/dev/null
}

# run_logged NAME OUT COMMAND...: run a command, stdout to OUT; one test point
# for its exit status 0. Programs are bounded by STEP_TIMEOUT; shell functions
# must bound themselves.
run_logged() {
        local name=$1 out=$2 bound=(timeout "$STEP_TIMEOUT")
        shift 2
        [ "$(type -t "$1")" = function ] && bound=()
        if "${bound[@]}" "$@" >"$out" 2>"$out.err"; then
                ok "$name"
        else
                not_ok "$name" "exit $?" "$(tail -n 5 "$out")" "$(tail -n 5 "$out.err")"
        fi
}
