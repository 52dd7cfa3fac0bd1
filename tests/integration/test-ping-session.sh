#!/bin/bash
# The ping session end to end, real kpingd and kpingctl processes on
# loopback: totals rising by one, surviving SIGTERM and kill -9
# (Durability=strict), an unknown actor, an actor hosted on another node than
# the one dialled, and a daemon restarted under a running session.
. "$(dirname "$0")/tap.sh"
# A timeout's SIGTERM still stops the daemons (tap.sh's EXIT trap).
trap 'exit 1' TERM INT HUP

declare -A PID ADDR

# wait_file FILE: up to 10 s for FILE to exist and be non-empty.
wait_file() {
        for _ in $(seq 100); do
                [ -s "$1" ] && return 0
                sleep 0.1
        done
        return 1
}

# start NAME [KPINGD ARGS...]: a daemon on loopback with state in $TMP/NAME;
# ADDR[NAME] is its first full address once it is ready.
start() {
        local name=$1
        shift
        mkdir -p "$TMP/$name"
        rm -f "$TMP/$name.addrs"
        "$KPINGD" --state-dir "$TMP/$name" --addrs-file "$TMP/$name.addrs" "$@" \
                >>"$TMP/$name.log" 2>&1 &
        PID[$name]=$!
        wait_file "$TMP/$name.addrs" || return 1
        ADDR[$name]=$(head -1 "$TMP/$name.addrs")
}

# stop NAME [SIGNAL]: signals the daemon and waits (bounded) for it to exit.
stop() {
        local pid=${PID[$1]}
        kill "-${2:-TERM}" "$pid" 2>/dev/null
        for _ in $(seq 100); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
        done
        wait "$pid" 2>/dev/null
}

port_of() { echo "$1" | cut -d/ -f5; }
peer_of() { echo "${1##*/p2p/}"; }

# pongs FILE: "seq total" per pong of a --json session.
pongs() { sed -n 's/^{"type":"pong","seq":\([0-9]*\),"total":\([0-9]*\),.*/\1 \2/p' "$1"; }

# stored_total NAME: the total in the daemon's counter file.
stored_total() { sed -n 's/.*"total": *\([0-9]*\).*/\1/p' "$TMP/$1/counter.json" 2>/dev/null; }

# (Sessions run in the background call timeout directly, so that $! is a
# process that passes signals on to kpingctl.)
ping() { timeout -k 5 60 "$KPINGCTL" ping "$@"; }

# ---- 100 pongs, totals rising by one ---------------------------------------
if start a --listen /ip4/127.0.0.1/tcp/0; then ok "kpingd a ready"; else not_ok "kpingd a ready" "$(cat "$TMP/a.log")"; fi
ping -c 100 -i 0 --json "${ADDR[a]}" >"$TMP/p1" 2>"$TMP/p1.err"
st=$?
pongs "$TMP/p1" >"$TMP/p1.t"
if [ $st = 0 ] && [ "$(wc -l <"$TMP/p1.t")" = 100 ] \
        && awk 'NR == 1 { prev = $2; next } $2 != prev + 1 { bad = 1 } { prev = $2 } END { exit bad }' "$TMP/p1.t"; then
        ok "100 pongs, totals rising by exactly one"
else
        not_ok "100 pongs, totals rising by exactly one" "exit $st" "$(head -3 "$TMP/p1")" "$(cat "$TMP/p1.err")"
fi
first=$(head -1 "$TMP/p1.t" | cut -d' ' -f2)
last=$(tail -1 "$TMP/p1.t" | cut -d' ' -f2)
if [ "$first" = 1 ] && [ "$last" = 100 ]; then ok "a fresh daemon counts from 1"; else not_ok "a fresh daemon counts from 1" "first $first last $last"; fi
if grep -q '"type":"summary","transmitted":100,"received":100,.*"total":100}' "$TMP/p1"; then
        ok "summary: 100 transmitted, 100 received, total 100"
else
        not_ok "summary: 100 transmitted, 100 received, total 100" "$(tail -1 "$TMP/p1")"
fi

# ---- SIGTERM and restart: same peer, totals go on ----------------------------
old=${ADDR[a]}
stop a TERM
if [ "$(stored_total a)" = 100 ]; then ok "SIGTERM flushed total 100"; else not_ok "SIGTERM flushed total 100" "$(cat "$TMP/a/counter.json")"; fi
start a --listen "/ip4/127.0.0.1/tcp/$(port_of "$old")"
if [ "${ADDR[a]}" = "$old" ]; then ok "restarted on the same address with the same peer id"; else not_ok "same address and peer id" "$old vs ${ADDR[a]}"; fi
ping -c 5 -i 0 --json "$old" >"$TMP/p2" 2>&1
if [ "$(pongs "$TMP/p2" | cut -d' ' -f2 | tr '\n' ' ')" = "101 102 103 104 105 " ]; then
        ok "totals continue after the restart (101..105)"
else
        not_ok "totals continue after the restart (101..105)" "$(cat "$TMP/p2")"
fi

# -q with --json: the summary object alone (ping(8)'s -q)
ping -c 5 -i 0 -q --json "$old" >"$TMP/pq" 2>&1
if [ "$(wc -l <"$TMP/pq")" = 1 ] \
        && grep -q '^{"type":"summary","transmitted":5,"received":5,.*"total":110}$' "$TMP/pq"; then
        ok "-q --json prints only the summary (total 110)"
else
        not_ok "-q --json prints only the summary (total 110)" "$(cat "$TMP/pq")"
fi

# -q alone: the PING line and the summary, as ping(8) -q
ping -c 3 -i 0 -q "$old" >"$TMP/ph" 2>&1
if head -1 "$TMP/ph" | grep -q "^PING $old\$" && ! grep -q "PONG" "$TMP/ph" \
        && grep -q "^3 pings transmitted, 3 received, 0% loss" "$TMP/ph"; then
        ok "-q prints the PING line and the summary"
else
        not_ok "-q prints the PING line and the summary" "$(cat "$TMP/ph")"
fi

# more one-ping clients (each its own peer id) than kpingd keeps idle
# per-peer request counts (KP_ACTOR_MAX_IDLE_PEER_COUNTS, 64): the idle
# counts are dropped on the way and every client is still answered
n_ok=0
for _ in $(seq 70); do
        ping -c 1 -q --json "$old" >"$TMP/po" 2>&1 && grep -q '"received":1' "$TMP/po" && n_ok=$((n_ok + 1))
done
ping -c 1 -i 0 --json "$old" >"$TMP/pl" 2>&1
if [ "$n_ok" = 70 ] && [ "$(pongs "$TMP/pl" | cut -d' ' -f2)" = 184 ]; then
        ok "70 one-ping clients answered, then total 184"
else
        not_ok "70 one-ping clients answered, then total 184" "$n_ok answered" "$(cat "$TMP/pl")"
fi

# ---- unknown actor -----------------------------------------------------------
expect_exit "unknown actor exits 2" 2 "actor 'x' not found" "$KPINGCTL" ping -c 1 --actor x "${ADDR[a]}"

# ---- daemon restarted under a running session ----------------------------------
timeout -k 5 60 "$KPINGCTL" ping -c 40 -i 0.1 --json "${ADDR[a]}" >"$TMP/p3" 2>"$TMP/p3.err" &
client=$!
sleep 1
stop a TERM
sleep 0.3
start a --listen "/ip4/127.0.0.1/tcp/$(port_of "$old")"
wait $client
st=$?
if [ $st = 0 ]; then ok "session survives a daemon restart (exit 0)"; else not_ok "session survives a daemon restart" "exit $st" "$(cat "$TMP/p3.err")"; fi
if grep -q '"type":"disconnected"' "$TMP/p3" && grep -q '"type":"reconnected"' "$TMP/p3"; then
        ok "disconnected and reconnected events"
else
        not_ok "disconnected and reconnected events" "$(grep -v pong "$TMP/p3")"
fi
lost=$(grep -c '"type":"timeout"' "$TMP/p3")
got=$(pongs "$TMP/p3" | wc -l)
reported=$(sed -n 's/.*"type":"reconnected".*"lost":\([0-9]*\).*/\1/p' "$TMP/p3")
if [ "$lost" -gt 0 ] && [ $((lost + got)) = 40 ] && [ "$reported" = "$lost" ] \
        && grep -q "\"transmitted\":40,\"received\":$got," "$TMP/p3"; then
        ok "lost pings reported ($lost lost, $got pongs, 40 sent)"
else
        not_ok "lost pings reported" "lost $lost got $got reported $reported" "$(grep -v pong "$TMP/p3")"
fi
before=$(sed -n '/"type":"disconnected"/q;p' "$TMP/p3" | pongs /dev/stdin | tail -1 | cut -d' ' -f2)
after=$(sed -n '/"type":"reconnected"/,$p' "$TMP/p3" | pongs /dev/stdin | head -1 | cut -d' ' -f2)
if [ -n "$before" ] && [ -n "$after" ] && [ "$after" = $((before + 1)) ]; then
        ok "totals continue across the reconnect ($before -> $after)"
else
        not_ok "totals continue across the reconnect" "before '$before' after '$after'"
fi
stop a TERM

# ---- kill -9 under load, Durability=strict -------------------------------------
printf '[Daemon]\nDurability=strict\n' >"$TMP/strict.conf"
start s --config "$TMP/strict.conf" --listen /ip4/127.0.0.1/tcp/0
saddr=${ADDR[s]}
for c in 1 2; do
        timeout -k 5 60 "$KPINGCTL" ping -c 1000000 -i 0 -l 8 -W 2 -w 30 --json "$saddr" >"$TMP/k$c" 2>"$TMP/k$c.err" &
        PID[k$c]=$!
done
sleep 1.5
stop s KILL
killed_total=$(stored_total s)
# The highest total any client saw before the kill (pongs before its
# "disconnected" event).
seen=0
for c in 1 2; do
        t=$(sed -n '/"type":"disconnected"/q;p' "$TMP/k$c" | pongs /dev/stdin | cut -d' ' -f2 | sort -n | tail -1)
        [ -n "$t" ] && [ "$t" -gt "$seen" ] && seen=$t
done
if [ "$seen" -gt 0 ] && [ -n "$killed_total" ] && [ "$killed_total" -ge "$seen" ]; then
        ok "after kill -9 the stored total $killed_total >= the last total a client saw ($seen)"
else
        not_ok "after kill -9 the stored total >= the last total a client saw" "stored '$killed_total' seen '$seen'"
fi
start s --config "$TMP/strict.conf" --listen "/ip4/127.0.0.1/tcp/$(port_of "$saddr")"
# Let the clients reconnect and get a few pongs, then stop them.
for _ in $(seq 100); do
        grep -q '"type":"reconnected"' "$TMP/k1" && grep -q '"type":"reconnected"' "$TMP/k2" && break
        sleep 0.1
done
sleep 0.3
stop k1 TERM
stop k2 TERM
resumed=$(for c in 1 2; do sed -n '/"type":"reconnected"/,$p' "$TMP/k$c" | pongs /dev/stdin | head -1 | cut -d' ' -f2; done | sort -n | head -1)
if [ -n "$resumed" ] && [ "$resumed" -gt "$seen" ]; then
        ok "the restarted daemon goes on above it (first total $resumed)"
else
        not_ok "the restarted daemon goes on above it" "resumed '$resumed' seen '$seen'" "$(grep -hv pong "$TMP/k1" "$TMP/k2" | head)"
fi
stop s TERM

# ---- actor on node B only, dialled through node A ------------------------------------
start na --listen /ip4/127.0.0.1/tcp/0 --actor-name not-here
start nb --listen /ip4/127.0.0.1/tcp/0 --actor-name special --bootstrap "${ADDR[na]}"
ping -c 5 -i 0 --actor special --json "${ADDR[na]}" >"$TMP/p4" 2>&1
st=$?
if [ $st = 0 ] && [ "$(pongs "$TMP/p4" | cut -d' ' -f2 | tr '\n' ' ')" = "1 2 3 4 5 " ]; then
        ok "actor on B reached through A"
else
        not_ok "actor on B reached through A" "exit $st" "$(cat "$TMP/p4")"
fi
if grep -q "Client connected: .* from /ip4/127.0.0.1/" "$TMP/nb.log"; then ok "kpingctl connected to B"; else not_ok "kpingctl connected to B" "$(cat "$TMP/nb.log")"; fi
# B restarts under a session that entered through A: kpingctl resolves the
# actor through A again and dials B anew.
timeout -k 5 60 "$KPINGCTL" ping -c 30 -i 0.1 --actor special --json "${ADDR[na]}" >"$TMP/p5" 2>"$TMP/p5.err" &
client=$!
sleep 1
oldb=${ADDR[nb]}
stop nb TERM
sleep 0.3
start nb --listen "/ip4/127.0.0.1/tcp/$(port_of "$oldb")" --actor-name special --bootstrap "${ADDR[na]}"
wait $client
st=$?
got5=$(pongs "$TMP/p5" | wc -l)
if [ $st = 0 ] && grep -q '"type":"reconnected"' "$TMP/p5" && [ "$got5" -gt 0 ] \
        && [ "$(pongs "$TMP/p5" | tail -1 | cut -d' ' -f2)" = $((5 + got5)) ]; then
        ok "B restarted mid-session: reconnected through A ($got5 pongs)"
else
        not_ok "B restarted mid-session: reconnected through A" "exit $st" "$(grep -v pong "$TMP/p5")" "$(cat "$TMP/p5.err")"
fi
stop na TERM
stop nb TERM
if [ "$(stored_total nb)" = $((5 + got5)) ] && [ "$(stored_total na)" = "" -o "$(stored_total na)" = 0 ]; then
        ok "the pings counted on B, not on A"
else
        not_ok "the pings counted on B, not on A" "B: '$(stored_total nb)' (want $((5 + got5))) A: '$(stored_total na)'"
fi
