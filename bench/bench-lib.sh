# Shared by the bench scripts; source it with $bench set to the script's name.
# Gives $tmp (removed on exit), the arrays $pids (killed on exit) and
# $cleanup_dirs (removed on exit), wait_file,
# the arithmetic and JSON helpers (py, summary, ratio), pinning (pin_layout),
# server starters (start_echo, start_kpingd, start_js), process figures
# (proc_rss_kib, proc_cpu_s) and cold-start timing (cold_median).

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kping-bench.XXXXXX")
pids=()
# more directories to remove on exit (outside $tmp)
cleanup_dirs=()
cleanup() {
        for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
        wait 2>/dev/null
        rm -rf "$tmp" "${cleanup_dirs[@]}"
}
trap cleanup EXIT

bench_src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# wait_file FILE: until FILE exists and is not empty (at most 10 s).
wait_file() {
        for _ in $(seq 100); do
                [ -s "$1" ] && return 0
                sleep 0.1
        done
        echo "$bench: $1 did not appear" >&2
        exit 2
}

# stop_servers: kills what was started so far (pids) and forgets it.
stop_servers() {
        for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
        wait 2>/dev/null
        pids=()
}

# py EXPR ARGS...: prints a Python expression (json, statistics, sys
# imported; ARGS in sys.argv[1:]).
py() { python3 -c "import json,statistics,sys; print($1)" "${@:2}"; }

# summary FILE KEY: a key of the last JSON line of FILE ("rtt_us.p50").
summary() {
        py "eval('s' + ''.join('[%r]' % k for k in sys.argv[2].split('.')), {'s': json.loads(open(sys.argv[1]).read().splitlines()[-1])})" "$1" "$2"
}

# median VALUES...: the median of numbers.
median() { py "statistics.median(map(float, sys.argv[1:]))" "$@"; }

# ratio A B: A / B with two decimals (three below 0.1).
ratio() { py "(lambda r: f'{r:.2f}' if r >= 0.1 else f'{r:.3f}')(float(sys.argv[1]) / float(sys.argv[2]))" "$1" "$2"; }

# pin_layout LAYOUT: sets the arrays on_server and on_client (taskset
# prefixes). same: both on CPU 0; cross: server on CPU 0, client on CPU 1;
# free: no pinning. On a small VM where the two run decides round trips more
# than anything else (docs/BENCHMARKS.md).
pin_layout() {
        case "$1" in
        same) on_server=(taskset -c 0) on_client=(taskset -c 0) ;;
        cross) on_server=(taskset -c 0) on_client=(taskset -c 1) ;;
        free) on_server=() on_client=() ;;
        *) echo "$bench: unknown layout $1 (same, cross or free)" >&2; exit 2 ;;
        esac
}

# The starters below set globals rather than print: a server started inside
# $(...) would be a child of that subshell, out of reach of $pids.

# start_echo DIR [SERVER]: tcp-echo-server, or SERVER with the same
# arguments (as on_server), on a free port; sets echo_port.
start_echo() {
        mkdir -p "$1"
        "${on_server[@]}" "${2:-$server}" --port-file "$1/port" 0 >/dev/null &
        pids+=($!)
        wait_file "$1/port"
        echo_port=$(cat "$1/port")
}

# start_kpingd DIR [ARGS...]: kpingd (as on_server) on 127.0.0.1, state in
# DIR/state unless ARGS give --state-dir, log in DIR/kpingd.log; its pid in
# DIR/pid; sets kp_addr (its full multiaddr) and kp_pid.
start_kpingd() {
        local dir=$1
        shift
        mkdir -p "$dir/state"
        "${on_server[@]}" "$kpingd" --state-dir "$dir/state" --listen /ip4/127.0.0.1/tcp/0 \
                --addrs-file "$dir/addrs" --log-level warning "$@" >"$dir/kpingd.log" 2>&1 &
        kp_pid=$!
        pids+=("$kp_pid")
        echo "$kp_pid" >"$dir/pid"
        wait_file "$dir/addrs"
        kp_addr=$(head -n 1 "$dir/addrs")
}

# The pinned Node of tests/interop (js_setup fails when it is missing).
node=$bench_src/tests/interop/node_modules/.bin/node

# js_setup: a copy of bench/js-ping.mjs next to a node_modules symlink in
# $tmp/js (Node resolves packages from the script's directory); sets $js.
# Returns 1 when the pinned js-libp2p is not installed.
js_setup() {
        local mods=$bench_src/tests/interop/node_modules
        [ -x "$node" ] && [ -d "$mods/libp2p" ] || return 1
        case $("$node" --version) in
        v22.*) ;;
        *) return 1 ;;
        esac
        mkdir -p "$tmp/js"
        cp "$bench_src/bench/js-ping.mjs" "$tmp/js/"
        ln -sfn "$(readlink -f "$mods")" "$tmp/js/node_modules"
        js=$tmp/js/js-ping.mjs
}

# start_js DIR: the js-libp2p ping server (as on_server); sets js_addr and
# js_pid.
start_js() {
        mkdir -p "$1"
        "${on_server[@]}" "$node" "$js" serve >"$1/js-addr" 2>"$1/js.log" &
        js_pid=$!
        pids+=("$js_pid")
        echo "$js_pid" >"$1/pid"
        wait_file "$1/js-addr"
        js_addr=$(head -n 1 "$1/js-addr")
}

# proc_rss_kib PID: "RSS PSS PRIVATE" in KiB (status VmRSS; smaps_rollup Pss
# and Private_Clean + Private_Dirty).
proc_rss_kib() {
        python3 - "$1" <<'PY'
import sys
pid = sys.argv[1]
rss = next(int(l.split()[1]) for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS:"))
roll = {}
for l in open(f"/proc/{pid}/smaps_rollup"):
    parts = l.split()
    if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
        roll[parts[0][:-1]] = int(parts[1])
print(rss, roll.get("Pss", 0), roll.get("Private_Clean", 0) + roll.get("Private_Dirty", 0))
PY
}

# proc_cpu_s PID: user + system CPU seconds the process has used.
proc_cpu_s() {
        py "(lambda f: (int(f[11]) + int(f[12])) / __import__('os').sysconf('SC_CLK_TCK'))(open('/proc/%s/stat' % sys.argv[1]).read().rsplit(')', 1)[1].split())" "$1"
}

# cold_median RUNS CMD...: runs CMD (as on_client) RUNS times, each from
# spawn to reaped; prints the medians "WALL_MS CPU_MS CONNECT_MS RESOLVE_MS
# FIRST_PONG_MS" (CPU: user + sys from wait4; the last three from the last
# JSON line of its output when it has connect_us etc., else "-"). Fails when
# a run fails.
cold_median() {
        "${on_client[@]}" python3 - "$@" <<'PY'
import json, os, statistics, subprocess, sys, time
runs, cmd = int(sys.argv[1]), sys.argv[2:]
rows = []
for _ in range(runs):
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE)
    out = p.stdout.read()
    _, status, ru = os.wait4(p.pid, 0)
    wall = (time.monotonic() - t0) * 1000
    p.returncode = 0
    if status != 0:
        sys.exit("%s failed (status %d)" % (" ".join(cmd), status))
    try:
        s = json.loads(out.decode().splitlines()[-1])
    except (ValueError, IndexError):
        s = {}
    rows.append([wall, (ru.ru_utime + ru.ru_stime) * 1000]
                + [s[k] / 1000 if k in s else None for k in ("connect_us", "resolve_us", "first_pong_us")])
med = lambda c: "-" if None in c else "%.2f" % statistics.median(c)
print(" ".join(med(c) for c in zip(*rows)))
PY
}
