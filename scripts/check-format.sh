#!/bin/sh
# check-format.sh [SOURCE_ROOT]: fail on any tracked C file clang-format would change.
set -eu
cd "${1:-$(dirname "$0")/..}"
files=$(git ls-files '*.c' '*.h' 2>/dev/null || find lib daemon ctl tests fuzz bench -name '*.[ch]')
[ -n "$files" ] || { echo "no C files"; exit 0; }
bad=0
for f in $files; do
        [ -f "$f" ] || continue
        if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
                echo "not formatted: $f (run: clang-format -i $f)"
                bad=1
        fi
done
exit $bad
