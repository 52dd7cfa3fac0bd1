#!/bin/bash
# tests/system/run.sh SOURCE_ROOT: the Debian package in a booted Debian 12.
# Builds the .deb (dpkg-buildpackage, nocheck: the suites ran already) from a
# copy of the tree, runs lintian on it, installs it into a debootstrapped
# Debian 12 root (cached in $KPING_SYSTEM_CACHE, default
# /var/cache/kping/system-test), boots that with systemd-nspawn, and checks
# kpingd as a systemd service from inside (nsenter) and from the host
# (kpingctl over the shared loopback). TAP; every wait is bounded.
# Runs only with KPING_SYSTEM_TESTS=1 (meson test --setup system --suite
# system, as scripts/test.sh does); skips where no container can boot.
# No pipefail: `producer | grep -q` would fail whenever grep quits early;
# checks read the output into a variable first anyway.
set -u

src=$(cd "${1:?usage: run.sh SOURCE_ROOT}" && pwd)
KPINGCTL=${KPINGCTL:?KPINGCTL not set}
cache=${KPING_SYSTEM_CACHE:-/var/cache/kping/system-test}
mirror=${KPING_SYSTEM_MIRROR:-}
base=$cache/bookworm

tap_n=0
tap_failed=0
work=
nspawn_pid=
ct_pid=

skip_all() {
        if [ $tap_n = 0 ]; then
                echo "1..0 # SKIP $1"
                trap - EXIT
                [ -n "$work" ] && rm -rf "$work"
                exit 0
        fi
        tap_n=$((tap_n + 1))
        echo "ok $tap_n - # SKIP $1"
        exit
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
        for text in "$@"; do printf '%s\n' "$text" | sed 's/^/# /'; done
}

note() { echo "# $*"; }

cleanup() {
        if [ "${KPING_SYSTEM_KEEP:-}" != 1 ] && [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
                # SIGTERM makes nspawn shut the container down cleanly.
                kill -TERM "$nspawn_pid" 2>/dev/null
                for _ in $(seq 60); do
                        kill -0 "$nspawn_pid" 2>/dev/null || break
                        sleep 0.5
                done
                kill -KILL "$nspawn_pid" 2>/dev/null
                wait "$nspawn_pid" 2>/dev/null
        fi
        if [ "${KPING_SYSTEM_KEEP:-}" = 1 ]; then
                echo "# kept $work"
        else
                [ -n "$work" ] && rm -rf "$work"
        fi
        echo "1..$tap_n"
        exit $tap_failed
}

[ "${KPING_SYSTEM_TESTS:-}" = 1 ] || skip_all "set KPING_SYSTEM_TESTS=1 (scripts/test.sh does)"
[ "$(id -u)" = 0 ] || skip_all "needs root (debootstrap, systemd-nspawn)"
for tool in debootstrap systemd-nspawn nsenter dpkg-buildpackage lintian; do
        command -v "$tool" >/dev/null || skip_all "$tool not installed"
done

work=$(mktemp -d /var/tmp/kping-system.XXXXXX)
trap cleanup EXIT
t0=$SECONDS
elapsed() { echo "$((SECONDS - t0)) s"; }

# --- the package ------------------------------------------------------------
mkdir -p "$work/src/kping"
if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
        (cd "$src" && git ls-files -co --exclude-standard | grep -v '^tests/interop/node_modules/' |
                tar -cf - -T -) | tar -xf - -C "$work/src/kping"
else
        tar -C "$src" --exclude='./build*' --exclude=node_modules --exclude=./tests/system/cache -cf - . |
                tar -xf - -C "$work/src/kping"
fi
if (cd "$work/src/kping" && DEB_BUILD_OPTIONS="nocheck parallel=2" timeout 1200 \
        dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1; then
        deb=$(ls "$work"/src/kping_*.deb)
        ok "dpkg-buildpackage -us -uc -b builds $(basename "$deb") ($(elapsed))"
else
        not_ok "dpkg-buildpackage -us -uc -b" "$(tail -40 "$work/build.log")"
        exit
fi

files=$(dpkg-deb -c "$deb" | awk '{ print $6 }')
missing=
for f in ./usr/sbin/kpingd ./usr/bin/kpingctl ./lib/systemd/system/kpingd.service \
        ./lib/systemd/system/kpingd.socket ./usr/lib/systemd/catalog/kpingd.catalog \
        ./usr/share/man/man8/kpingd.8.gz ./usr/share/man/man1/kpingctl.1.gz \
        ./usr/share/man/man5/kpingd.conf.5.gz ./etc/kpingd/kpingd.conf \
        ./usr/share/bash-completion/completions/kpingctl; do
        grep -qxF "$f" <<<"$files" || missing="$missing $f"
done
if [ -z "$missing" ]; then ok "the package holds programs, units, catalog, man pages, config, completion"; else
        not_ok "the package holds everything" "missing:$missing" "$files"; fi

lintian_out=$(timeout 600 lintian --fail-on error,warning "$deb" 2>&1)
lintian_rc=$?
if [ $lintian_rc = 0 ]; then ok "lintian: no errors, no warnings ($(elapsed))"; else
        not_ok "lintian: no errors, no warnings" "$lintian_out"; fi
[ -n "$lintian_out" ] && note "lintian: $lintian_out"

# --- the Debian 12 root -----------------------------------------------------
if [ -z "$mirror" ]; then
        mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null)
        [ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' /etc/apt/sources.list 2>/dev/null)
        [ -n "$mirror" ] || mirror=http://deb.debian.org/debian
fi
# The package's runtime libraries go into the cached root, so an install
# there needs no network once the cache exists.
deps=$(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed 's/[(|].*//; s/ //g' | grep -v '^$' | sort -u | tr '\n' ',')
include="systemd,systemd-sysv,dbus,${deps%,}"
if [ ! -f "$base/.kping-base" ]; then
        note "debootstrap bookworm from $mirror into $base (once; cached)"
        rm -rf "$base.tmp"
        mkdir -p "$cache"
        if timeout 1200 debootstrap --variant=minbase --include="$include" bookworm "$base.tmp" "$mirror" \
                >"$work/debootstrap.log" 2>&1; then
                echo "$include" >"$base.tmp/.kping-base"
                rm -rf "$base"
                mv "$base.tmp" "$base"
                ok "debootstrap a minimal Debian 12 ($(elapsed))"
        else
                not_ok "debootstrap a minimal Debian 12" "$(tail -20 "$work/debootstrap.log")"
                exit
        fi
else
        ok "cached Debian 12 root in $base"
fi
need=
for p in ${deps//,/ }; do
        chroot "$base" dpkg -s "$p" >/dev/null 2>&1 || need="$need $p"
done
if [ -n "$need" ]; then
        note "adding to the cached root:$need"
        cp /etc/resolv.conf "$base/etc/resolv.conf" 2>/dev/null
        timeout 600 chroot "$base" sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need" \
                >"$work/apt.log" 2>&1 || { not_ok "runtime dependencies in the root" "$(tail -20 "$work/apt.log")"; exit; }
fi

root=$work/root
cp -a "$base" "$root"
cp "$deb" "$root/tmp/kping.deb"
if timeout 300 chroot "$root" dpkg -i /tmp/kping.deb >"$work/install.log" 2>&1; then
        ok "dpkg -i installs the package into the root"
else
        not_ok "dpkg -i installs the package" "$(cat "$work/install.log")"
        exit
fi
if [ -L "$root/etc/systemd/system/multi-user.target.wants/kpingd.service" ] &&
        [ ! -e "$root/etc/systemd/system/sockets.target.wants/kpingd.socket" ]; then
        ok "kpingd.service is enabled on install, kpingd.socket is not"
else
        not_ok "kpingd.service is enabled on install" "$(ls -l "$root/etc/systemd/system/multi-user.target.wants/")"
fi
conffiles=$(chroot "$root" dpkg-query -W -f='${Conffiles}' kping)
if grep -q '/etc/kpingd/kpingd.conf' <<<"$conffiles" && cmp -s "$root/etc/kpingd/kpingd.conf" "$src/docs/kpingd.conf"; then
        ok "/etc/kpingd/kpingd.conf is the annotated example, a conffile"
else
        not_ok "/etc/kpingd/kpingd.conf is the annotated example, a conffile" "$conffiles"
fi

# A free loopback port (the container shares the host's network), set the
# way an admin would: uncomment Listen= in the installed file.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed -i "s|^#Listen=.*|Listen=/ip4/127.0.0.1/tcp/$port|" "$root/etc/kpingd/kpingd.conf"
echo kping-system >"$root/etc/hostname"

# --- boot -------------------------------------------------------------------
# The host need not run systemd itself: no bus to register with or to ask
# for a scope (--register=no --keep-unit), and /run may be no tmpfs, which
# nspawn wants for its runtime directory: a private mount namespace gets one.
unshare --mount --propagation private sh -c \
        'mkdir -p /run/systemd/nspawn && mount -t tmpfs -o mode=0755 tmpfs /run/systemd/nspawn &&
         exec systemd-nspawn --boot --register=no --keep-unit --quiet -D "$1" --machine=kping-system' \
        sh "$root" >"$work/console.log" 2>&1 </dev/null &
nspawn_pid=$!

# descends_from PID ANCESTOR
descends_from() {
        local p=$1
        while [ -n "$p" ] && [ "$p" -gt 1 ]; do
                [ "$p" = "$2" ] && return 0
                p=$(awk '/^PPid:/ { print $2 }' "/proc/$p/status" 2>/dev/null)
        done
        return 1
}
for _ in $(seq 120); do
        for p in $(pgrep -x systemd); do
                if descends_from "$p" "$nspawn_pid"; then
                        ct_pid=$p
                        break 2
                fi
        done
        kill -0 "$nspawn_pid" 2>/dev/null || break
        sleep 0.25
done
if [ -z "$ct_pid" ]; then
        log=$(cat "$work/console.log")
        nspawn_pid=
        skip_all "this machine cannot boot a container with systemd-nspawn: $(head -c 400 <<<"$log" | tr '\n' ' ')"
fi

# in_ct SECONDS COMMAND...: a command inside the container, bounded.
in_ct() {
        local t=$1
        shift
        timeout "$t" nsenter -t "$ct_pid" -a env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin SYSTEMD_PAGER= "$@"
}

# wait_for SECONDS COMMAND...: retry a check until it passes or time is up.
wait_for() {
        local end=$((SECONDS + $1))
        shift
        while ! "$@" >/dev/null 2>&1; do
                [ $SECONDS -lt $end ] || return 1
                sleep 0.25
        done
}

# PID 1 answers once its private socket is up; then wait for the boot to end.
booted() {
        state=$(in_ct 20 systemctl is-system-running --wait 2>&1)
        case $state in running | degraded) return 0 ;; esac
        return 1
}
state=
wait_for 90 booted
case $state in
running | degraded) ok "the container boots systemd ($state, $(elapsed))" ;;
*) not_ok "the container boots systemd" "state: $state" "$(in_ct 10 systemctl --failed --no-legend 2>&1)" "$(tail -30 "$work/console.log")" ;;
esac

is_active() { [ "$(in_ct 10 systemctl is-active kpingd)" = active ]; }
journal() { in_ct 20 journalctl -u kpingd --no-pager --no-hostname "$@"; }
main_pid() { in_ct 10 systemctl show -P MainPID kpingd; }
peer_ids() { journal -o cat | sed -n 's/^Server Peer ID: //p'; }

# --- the service --------------------------------------------------------------
in_ct 60 systemctl start kpingd
if wait_for 30 is_active; then ok "systemctl start kpingd: active"; else
        not_ok "systemctl start kpingd: active" "$(in_ct 10 systemctl status kpingd 2>&1)" "$(journal -n 30)"; fi

has_lines() {
        local j
        j=$(journal -o cat)
        grep -q '^Server Peer ID: 12D3KooW' <<<"$j" &&
                grep -q "^Connection address: /ip4/127.0.0.1/tcp/$port/p2p/12D3KooW" <<<"$j" &&
                grep -q '^PingActor registered and ready!$' <<<"$j"
}
if wait_for 20 has_lines; then ok "journalctl -u kpingd: Peer ID, Connection address and ready lines"; else
        not_ok "journalctl -u kpingd shows the startup lines" "$(journal -n 30)"; fi
peer=$(peer_ids | tail -1)
addr=/ip4/127.0.0.1/tcp/$port/p2p/$peer

json=$(journal -o json)
fields_ok=1
for want in '"KPING_PEER_ID":"'"$peer"'"' '"MESSAGE_ID":"6a1c5b0e2f8d4b1c9e3a7d5f0b2c4e61"' \
        '"KPING_CONNECTION_ADDR":"'"$addr"'"' '"KPING_LISTEN_ADDR":"/ip4/127.0.0.1/tcp/'"$port"'"' \
        '"MESSAGE_ID":"7b2d9e4f6a8c4b0d9e1f3a5c7b9d1e26"' '"KPING_TOTAL":"0"'; do
        grep -qF "$want" <<<"$json" || { fields_ok=0; note "no $want"; }
done
if [ $fields_ok = 1 ]; then ok "journalctl -o json: KPING_* fields and MESSAGE_IDs"; else
        not_ok "journalctl -o json: KPING_* fields and MESSAGE_IDs" "$(head -c 3000 <<<"$json")"; fi

if grep -q 'PingActor registered as "ping"; kpingd is ready' <<<"$(journal -x 2>&1)"; then
        ok "journalctl -x explains the events from the installed catalog"
else
        not_ok "journalctl -x explains the events from the installed catalog" "$(journal -x -n 20 2>&1)"
fi

status_text() { in_ct 10 systemctl show -P StatusText kpingd; }
if grep -q "Ready; Peer ID $peer; " <<<"$(status_text)"; then ok "STATUS=: $(status_text)"; else
        not_ok "systemctl status shows STATUS= with the peer id" "$(status_text)"; fi

out=$(timeout 60 "$KPINGCTL" ping -c 3 -i 0 -W 5 "$addr" 2>&1)
if [ $? = 0 ] && grep -q 'Received PONG #3 (total: 3)' <<<"$out"; then
        ok "kpingctl on the host pings kpingd in the container (total 3)"
else
        not_ok "kpingctl on the host pings kpingd in the container" "$out" "$(journal -n 20)"
fi
client_seen() { grep -q '"KPING_REMOTE_PEER_ID":"12D3KooW' <<<"$(journal -o json)"; }
if wait_for 10 client_seen; then ok "Client connected carries KPING_REMOTE_PEER_ID and KPING_REMOTE_ADDR"; else
        not_ok "Client connected carries KPING_REMOTE_PEER_ID" "$(journal -n 10)"; fi
status_total() { grep -q '; 3 pings$' <<<"$(status_text)"; }
if wait_for 10 status_total; then ok "STATUS= follows the total"; else
        not_ok "STATUS= follows the total" "$(status_text)"; fi

pid1=$(main_pid)
in_ct 60 systemctl restart kpingd 2>/dev/null
restarted() { is_active && [ "$(main_pid)" != "$pid1" ] && [ "$(peer_ids | wc -l)" -ge 2 ]; }
if wait_for 30 restarted && [ "$(peer_ids | tail -1)" = "$peer" ]; then
        ok "systemctl restart kpingd keeps the peer id"
else
        not_ok "systemctl restart kpingd keeps the peer id" "$(peer_ids)"
fi
out=$(timeout 60 "$KPINGCTL" ping -c 1 -W 5 "$addr" 2>&1)
if grep -q 'Received PONG #1 (total: 4)' <<<"$out"; then ok "and the total (4 after one more ping)"; else
        not_ok "restart keeps the total" "$out"; fi

in_ct 60 systemctl stop kpingd
counter=
for dir in "$root/var/lib/private/kpingd" "$root/var/lib/kpingd"; do
        [ -f "$dir/counter.json" ] && counter=$dir/counter.json && break
done
total=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["total"])' "$counter" 2>/dev/null)
if [ "$(in_ct 10 systemctl is-active kpingd)" = inactive ] && [ "$total" = 4 ]; then
        ok "systemctl stop kpingd flushes the total ($counter: $total)"
else
        not_ok "systemctl stop kpingd flushes the total" "counter ${counter:-none}: '$total'" "$(journal -n 10)"
fi
stopped=$(grep '"MESSAGE_ID":"da808fbbde394830a69b2a5fee5f4908"' <<<"$(journal -o json)" | tail -1)
if grep -q '"KPING_TOTAL":"4"' <<<"$stopped"; then
        ok "the stop is logged with KPING_TOTAL"
else
        not_ok "the stop is logged with KPING_TOTAL" "$(journal -n 5 -o json)"
fi

# --- the watchdog ---------------------------------------------------------------
mkdir -p "$root/etc/systemd/system/kpingd.service.d"
printf '[Service]\nWatchdogSec=2s\nRestartSec=500ms\n' >"$root/etc/systemd/system/kpingd.service.d/watchdog.conf"
in_ct 30 systemctl daemon-reload
in_ct 60 systemctl start kpingd
wait_for 30 is_active
pid1=$(main_pid)
restarts0=$(in_ct 10 systemctl show -P NRestarts kpingd)
in_ct 10 sh -c "kill -STOP $pid1"
watchdog_restarted() {
        local p
        p=$(main_pid)
        is_active && [ -n "$p" ] && [ "$p" != 0 ] && [ "$p" != "$pid1" ]
}
if wait_for 30 watchdog_restarted && grep -q 'Watchdog timeout' <<<"$(journal)"; then
        ok "the watchdog restarts a hung kpingd (NRestarts $restarts0 -> $(in_ct 10 systemctl show -P NRestarts kpingd))"
else
        not_ok "the watchdog restarts a hung kpingd" "$(in_ct 10 systemctl status kpingd 2>&1)" "$(journal -n 20)"
fi
out=$(timeout 60 "$KPINGCTL" ping -c 1 -W 5 "$addr" 2>&1)
if grep -q 'Received PONG #1 (total: 5)' <<<"$out"; then ok "the restarted daemon answers with the kept total"; else
        not_ok "the restarted daemon answers with the kept total" "$out"; fi

# --- a bad configuration ---------------------------------------------------------
sed -i 's|^#Durability=.*|Durability=bogus|' "$root/etc/kpingd/kpingd.conf"
in_ct 60 systemctl restart kpingd 2>/dev/null
failed() { [ "$(in_ct 10 systemctl is-active kpingd)" = failed ]; }
want='/etc/kpingd/kpingd.conf: key Durability: invalid value "bogus"'
if wait_for 20 failed && grep -qF "$want" <<<"$(journal -o cat)"; then
        ok "an invalid value stops the start with file, key and value in the journal"
else
        not_ok "an invalid value stops the start" "$(in_ct 10 systemctl status kpingd 2>&1)"
fi
# A manual restart resets NRestarts; with RestartSec=500ms from the drop-in
# a restart loop would have counted by now.
sleep 2
restarts=$(in_ct 10 systemctl show -P NRestarts kpingd)
if [ "$restarts" = 0 ] && failed; then ok "and is not restarted in a loop (exit 2: RestartPreventExitStatus)"; else
        not_ok "a configuration error is not restarted" "NRestarts $restarts" "$(in_ct 10 systemctl status kpingd 2>&1)"; fi

# --- socket activation -------------------------------------------------------------
# kpingd.socket on another free loopback port (a drop-in: the shipped one
# binds 36341 on every address); the first connection starts kpingd with it.
sed -i 's|^Durability=bogus|#Durability=batched|' "$root/etc/kpingd/kpingd.conf"
in_ct 30 systemctl reset-failed kpingd
port2=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$root/etc/systemd/system/kpingd.socket.d"
printf '[Socket]\nListenStream=\nListenStream=127.0.0.1:%s\n' "$port2" >"$root/etc/systemd/system/kpingd.socket.d/port.conf"
in_ct 30 systemctl daemon-reload
in_ct 30 systemctl start kpingd.socket
out=$(timeout 60 "$KPINGCTL" ping -c 1 -W 20 "/ip4/127.0.0.1/tcp/$port2/p2p/$peer" 2>&1)
listening=$(journal -o cat | sed -n 's/^Listening on //p' | tail -1)
if grep -q 'Received PONG #1 (total: 6)' <<<"$out" && [ "$listening" = "/ip4/127.0.0.1/tcp/$port2" ] &&
        grep -q '^Socket activation: ' <<<"$(journal -o cat)"; then
        ok "kpingd.socket: the first connection starts kpingd on the passed socket only"
else
        not_ok "kpingd.socket activates kpingd" "$out" "last Listening on: $listening" "$(journal -n 15 2>&1)"
fi
note "system test took $(elapsed)"
