#!/bin/bash
# check-unit.sh SERVICE SOCKET: the units parse, the service's exposure
# (systemd-analyze security --offline) is at most 2.0, and its hardening
# block (the second paragraph of [Service]) is sorted.
set -euo pipefail
service=$1
socket=$2

# verify wants the binary and man pages installed; only unit syntax matters here.
out=$(systemd-analyze verify --man=no "$service" "$socket" 2>&1 | grep -v 'is not executable' || true)
if [ -n "$out" ]; then
        echo "systemd-analyze verify:"
        echo "$out"
        exit 1
fi

report=$(systemd-analyze security --offline=true --threshold=20 "$service" 2>&1) || {
        echo "$report" | grep -E '✗|Overall'
        echo "exposure above 2.0"
        exit 1
}
echo "$report" | tail -1

block=$(awk '/^\[Service\]/ { s = 1; p = 0; next } /^\[/ { s = 0 }
        s && /^$/ { p++; next } s && p == 1' "$service")
if [ "$block" != "$(LC_ALL=C sort <<<"$block")" ]; then
        echo "hardening directives in $service are not sorted:"
        diff <(echo "$block") <(LC_ALL=C sort <<<"$block") || true
        exit 1
fi
