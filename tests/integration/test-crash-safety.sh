#!/bin/bash
# kill -9 under a ping load (issue 8).
#
# Durability=strict, CRASH_ROUNDS rounds: start kpingd on the same state
# directory, run CRASH_CLIENTS concurrent `kpingctl ping -i 0` sessions,
# kill -9 the daemon at a random moment 50-450 ms after the first pong.
# After every kill: the state file parses (python json), the stored total
# never decreases from one round to the next, and it is at least the
# highest total any client received (a pong is only sent once its total is
# on disk).
#
# Durability=batched, BATCHED_ROUNDS rounds: the same load for 1.5-2.5 s,
# the pong rate measured over the last part of it, then kill -9 and a
# restart. The pings lost (the highest total a client received minus the
# total the restarted daemon counts on from) are at most one second's worth
# at the measured rate, plus BATCHED_MARGIN_PCT percent for the write in
# flight when the kill came (a flush writes the total it started with) and
# for the rate being measured, not known.
. "$(dirname "$0")/tap.sh"
trap 'exit 1' TERM INT HUP

CRASH_ROUNDS=50
CRASH_CLIENTS=3
BATCHED_ROUNDS=5
BATCHED_MARGIN_PCT=25

printf '[Daemon]\nDurability=strict\n' >"$TMP/strict.conf"
printf '[Daemon]\nDurability=batched\n' >"$TMP/batched.conf"

# start CONF STATE: kpingd on a free port; $addr once it is ready.
start() {
        rm -f "$TMP/addrs"
        "$KPINGD" --config "$1" --state-dir "$2" --listen /ip4/127.0.0.1/tcp/0 \
                --addrs-file "$TMP/addrs" >>"$TMP/kpingd.log" 2>&1 &
        daemon=$!
        for _ in $(seq 200); do
                [ -s "$TMP/addrs" ] && break
                sleep 0.05
        done
        addr=$(head -n 1 "$TMP/addrs" 2>/dev/null)
        [ -n "$addr" ]
}

# clients PREFIX: CRASH_CLIENTS sessions in the background, output in
# PREFIX.N; their pids in $clients.
clients() {
        clients=()
        for c in $(seq $CRASH_CLIENTS); do
                # Not under timeout(1): it signals its whole process group
                # (TERM, then CONT), and a signal arriving while
                # LeakSanitizer stops the threads at exit can hang it for
                # good. -w 20 bounds the session; stop_clients the rest.
                "$KPINGCTL" ping -c 1000000 -i 0 -W 2 -w 20 --json "$addr" \
                        >"$1.$c" 2>"$1.$c.err" &
                clients+=($!)
        done
}

# first_pong PREFIX: waits (at most 10 s) until a client got a pong.
first_pong() {
        for _ in $(seq 200); do
                cat "$1".[0-9] 2>/dev/null | grep -q '"type":"pong"' && return 0
                sleep 0.05
        done
        return 1
}

n_pongs() { cat "$1".[0-9] 2>/dev/null | grep -c '"type":"pong"'; }

# max_total PREFIX: the highest total any client received (0 if none).
max_total() {
        cat "$1".[0-9] 2>/dev/null | sed -n 's/^{"type":"pong","seq":[0-9]*,"total":\([0-9]*\),.*/\1/p' \
                | sort -n | tail -n 1 | grep . || echo 0
}

# stored STATE: the total in the state file, or "unparsable: ..." when it
# is not a JSON object with an integer total.
stored() {
        python3 - "$1/counter.json" <<'EOF'
import json, sys
try:
    with open(sys.argv[1]) as f:
        doc = json.load(f)
    total = doc["total"]
    if not isinstance(total, int) or isinstance(total, bool) or total < 0:
        raise ValueError("total is not a non-negative integer: %r" % (total,))
    print(total)
except Exception as e:
    print("unparsable: %s" % e)
EOF
}

kill9() {
        kill -KILL "$daemon" 2>/dev/null
        wait "$daemon" 2>/dev/null
}

# stop_clients: one SIGTERM each (they print their summary), then SIGKILL
# for any still running after 10 s.
stop_clients() {
        kill "${clients[@]}" 2>/dev/null
        for _ in $(seq 100); do
                kill -0 "${clients[@]}" 2>/dev/null || break
                sleep 0.1
        done
        kill -KILL "${clients[@]}" 2>/dev/null
        wait "${clients[@]}" 2>/dev/null
}

# ---- strict ---------------------------------------------------------------------
prev=0
bad_start="" bad_load="" bad_parse="" bad_decrease="" bad_lost=""
totals=()
for round in $(seq $CRASH_ROUNDS); do
        p="$TMP/s$round"
        if ! start "$TMP/strict.conf" "$TMP/strict"; then
                bad_start="$bad_start $round"
                kill9
                continue
        fi
        clients "$p"
        if ! first_pong "$p"; then
                bad_load="$bad_load $round"
        fi
        sleep "0.$(printf '%03d' $((50 + RANDOM % 400)))"
        kill9
        stop_clients
        seen=$(max_total "$p")
        got=$(stored "$TMP/strict")
        case "$got" in
        unparsable*)
                bad_parse="$bad_parse round $round: $got;"
                continue
                ;;
        esac
        totals+=("$got")
        [ "$got" -lt "$prev" ] && bad_decrease="$bad_decrease round $round: $prev -> $got;"
        [ "$got" -lt "$seen" ] && bad_lost="$bad_lost round $round: stored $got, a client saw $seen;"
        prev=$got
done
echo "# strict: stored totals after each kill -9: ${totals[*]}"
if [ -z "$bad_start" ]; then ok "strict: kpingd started in all $CRASH_ROUNDS rounds"; else not_ok "strict: kpingd started in every round" "failed in rounds$bad_start" "$(tail -n 5 "$TMP/kpingd.log")"; fi
if [ -z "$bad_load" ] && [ "${#totals[@]}" -gt 0 ] && [ "$prev" -gt 0 ]; then
        ok "strict: the clients got pongs in every round before the kill (final total $prev)"
else
        not_ok "strict: the clients got pongs in every round before the kill" "none in rounds$bad_load" \
                "$(cat "$TMP"/s1.1.err)"
fi
if [ -z "$bad_parse" ]; then ok "strict: the state file parsed after each of $CRASH_ROUNDS kill -9"; else not_ok "strict: the state file parsed after every kill -9" "$bad_parse"; fi
if [ -z "$bad_decrease" ]; then ok "strict: the stored total never decreased"; else not_ok "strict: the stored total never decreased" "$bad_decrease"; fi
if [ -z "$bad_lost" ]; then
        ok "strict: no total a client received was lost"
else
        not_ok "strict: no total a client received was lost" "$bad_lost"
fi

# ---- batched --------------------------------------------------------------------
now_ms() { echo $(($(date +%s%N) / 1000000)); }
bad="" report=""
start "$TMP/batched.conf" "$TMP/batched" || bad="kpingd did not start;"
for round in $(seq $BATCHED_ROUNDS); do
        p="$TMP/b$round"
        [ -n "$addr" ] || break
        clients "$p"
        if ! first_pong "$p"; then
                bad="$bad round $round: no pong;"
        fi
        sleep 1
        t1=$(now_ms)
        n1=$(n_pongs "$p")
        sleep "0.$(printf '%03d' $((500 + RANDOM % 500)))"
        n2=$(n_pongs "$p")
        t2=$(now_ms)
        kill9
        stop_clients
        seen=$(max_total "$p")
        got=$(stored "$TMP/batched")
        # The restarted daemon's first pong says where it counts on from.
        if ! start "$TMP/batched.conf" "$TMP/batched"; then
                bad="$bad round $round: no restart;"
                break
        fi
        first=$(timeout -k 5 20 "$KPINGCTL" ping -c 1 --json "$addr" 2>/dev/null \
                | sed -n 's/^{"type":"pong","seq":[0-9]*,"total":\([0-9]*\),.*/\1/p')
        case "$got" in
        unparsable*)
                bad="$bad round $round: $got;"
                continue
                ;;
        esac
        rate=$(((n2 - n1) * 1000 / (t2 - t1 > 0 ? t2 - t1 : 1)))
        allowed=$((rate * (100 + BATCHED_MARGIN_PCT) / 100))
        lost=$((seen - ${first:-0} + 1))
        report="$report round $round: $rate pings/s, lost $lost (allowed $allowed), stored $got, restarted at $first;"
        if [ -z "$first" ] || [ "$first" != $((got + 1)) ]; then
                bad="$bad round $round: restarted at '$first', stored $got;"
        fi
        if [ "$rate" -le 0 ] || [ "$lost" -lt 0 ] || [ "$lost" -gt "$allowed" ]; then
                bad="$bad round $round: lost $lost at $rate pings/s (allowed $allowed);"
        fi
done
echo "# batched:${report%;}" | tr ';' '\n' | sed '2,$s/^/# /'
if [ -z "$bad" ] && [ -n "$report" ]; then
        ok "batched: at most one second of pings (+$BATCHED_MARGIN_PCT%) lost per kill -9 in $BATCHED_ROUNDS rounds"
else
        not_ok "batched: at most one second of pings (+$BATCHED_MARGIN_PCT%) lost per kill -9" "$bad" \
                "$(tail -n 5 "$TMP/kpingd.log")"
fi
kill9
if grep -qiE "critical|AddressSanitizer|runtime error" "$TMP/kpingd.log"; then
        not_ok "no criticals or sanitizer reports" "$(grep -iE "critical|AddressSanitizer|runtime error" "$TMP/kpingd.log" | head)"
else
        ok "no criticals or sanitizer reports"
fi
