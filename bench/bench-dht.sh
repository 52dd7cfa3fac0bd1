#!/bin/bash
# DHT lookup latency and hop count on loopback: N kpingd (default 100), each
# bootstrapped from one random earlier node; R records put through random
# nodes; then each record looked up by a fresh client entering through
# another random node (cold: new connections), and all of them again by one
# client in a row (warm: connections and routing table reused); finally
# kpingctl resolve through a node directly connected to the provider's
# closest peers. Prints the figures for docs/BENCHMARKS.md.
#   bench/bench-dht.sh BUILD_DIR [N] [R]
set -u
BUILD=${1:?usage: bench-dht.sh BUILD_DIR [N] [R]}
N=${2:-100}
R=${3:-50}
KPINGD=$BUILD/daemon/kpingd
KPINGCTL=$BUILD/ctl/kpingctl
KAD=$BUILD/tests/integration/kad-tool
TMP=$(mktemp -d "${TMPDIR:-/tmp}/kping-bench.XXXXXX")
declare -a PIDS ADDRS
cleanup() {
        for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
        wait 2>/dev/null
        rm -rf "$TMP"
}
trap cleanup EXIT

for i in $(seq 0 $((N - 1))); do
        args=()
        [ "$i" -gt 0 ] && args=(--bootstrap "${ADDRS[$((RANDOM % i))]}")
        "$KPINGD" --state-dir "$TMP/s$i" --listen /ip4/127.0.0.1/tcp/0 --addrs-file "$TMP/a$i" \
                --log-level warning "${args[@]}" >"$TMP/log$i" 2>&1 &
        PIDS[$i]=$!
        for _ in $(seq 100); do [ -s "$TMP/a$i" ] && break; sleep 0.05; done
        ADDRS[$i]=$(head -1 "$TMP/a$i")
done
echo "# $N nodes up; settling" >&2
sleep 5

for r in $(seq 1 "$R"); do
        "$KAD" -b "${ADDRS[$((RANDOM % N))]}" put "/kping/bench/$r" "value-$r" >/dev/null 2>&1
done

: >"$TMP/cold"
for r in $(seq 1 "$R"); do
        "$KAD" --stats -b "${ADDRS[$((RANDOM % N))]}" get "/kping/bench/$r" 2>/dev/null \
                | grep '^stats' >>"$TMP/cold"
done
keys=()
for r in $(seq 1 "$R"); do keys+=("/kping/bench/$r"); done
"$KAD" --stats -b "${ADDRS[$((RANDOM % N))]}" get "${keys[@]}" 2>/dev/null | grep '^stats' >"$TMP/warm"

# resolve through a connected peer: register an actor via node 0, then
# resolve it through node 0 (it holds the provider record or knows who does)
"$KAD" -b "${ADDRS[0]}" register bench-actor >/dev/null 2>&1
: >"$TMP/resolve"
for _ in $(seq 1 20); do
        "$KPINGCTL" resolve --json --actor bench-actor "${ADDRS[0]}" 2>/dev/null >>"$TMP/resolve"
done

summary() { # summary NAME FILE
        python3 - "$1" "$2" <<'PY'
import re, statistics, sys
name, path = sys.argv[1], sys.argv[2]
rows = [dict(re.findall(r'(\w+)=(\d+)', l)) for l in open(path) if l.startswith('stats')]
if not rows:
    print(f"{name}: no data"); sys.exit()
us = sorted(int(r['us']) for r in rows)
hops = [int(r['hops']) for r in rows]
req = [int(r['requests']) for r in rows]
q = lambda p: us[min(len(us) - 1, int(p * len(us)))]
print(f"{name}: n={len(us)} median={statistics.median(us)/1000:.2f} ms p90={q(0.9)/1000:.2f} ms "
      f"max={us[-1]/1000:.2f} ms; hops median={statistics.median(hops)} max={max(hops)} "
      f"dist={ {h: hops.count(h) for h in sorted(set(hops))} }; requests median={statistics.median(req)}")
PY
}
echo "nodes=$N records=$R"
summary "GET_VALUE cold client" "$TMP/cold"
summary "GET_VALUE warm client" "$TMP/warm"
python3 - "$TMP/resolve" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
us = sorted(r['resolve_us'] for r in rows)
if us:
    print(f"kpingctl resolve via connected peer: n={len(us)} median={statistics.median(us)/1000:.3f} ms "
          f"max={us[-1]/1000:.3f} ms hops={statistics.median(r['hops'] for r in rows)}")
else:
    print("kpingctl resolve: no data")
PY
