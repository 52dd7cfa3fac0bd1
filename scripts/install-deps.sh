#!/bin/sh
# install-deps.sh: install what building and testing kping needs, on Debian 12,
# as root. The apt list is debian/control's Build-Depends (the single source);
# the interop tests' npm packages are pinned by tests/interop/package-lock.json.
# Safe to run again: it does nothing when everything is in place.
set -eu
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

if ! command -v dpkg-checkbuilddeps >/dev/null 2>&1 || ! dpkg-checkbuilddeps >/dev/null 2>&1; then
        echo "install-deps: installing build dependencies from debian/control"
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends dpkg-dev build-essential >/dev/null
        apt-get build-dep -y -qq ./ >/dev/null
        dpkg-checkbuilddeps
fi

if [ "${1:-}" = "--no-npm" ]; then
        exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
        apt-get install -y -qq --no-install-recommends npm >/dev/null
fi

if [ -f tests/interop/package-lock.json ]; then
        stamp=tests/interop/node_modules/.kping-lock.sha256
        want=$(sha256sum tests/interop/package-lock.json | cut -d' ' -f1)
        if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
                echo "install-deps: installing the pinned npm packages of tests/interop"
                (cd tests/interop && npm ci --no-audit --no-fund --loglevel=error)
                echo "$want" >"$stamp"
        fi
fi
