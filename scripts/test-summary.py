#!/usr/bin/env python3
"""Print one closing line for all meson test runs: 'N passed, N failed, N skipped'.
Each argument is a build directory (its meson-logs/testlog.json) or a meson
JSON test log itself (the log of another test setup, e.g. testlog-system.json)."""
import json
import sys

passed = failed = skipped = 0
for build in sys.argv[1:]:
    try:
        path = build if build.endswith(".json") else f"{build}/meson-logs/testlog.json"
        with open(path) as f:
            for line in f:
                result = json.loads(line).get("result")
                if result in ("OK", "EXPECTEDFAIL"):
                    passed += 1
                elif result == "SKIP":
                    skipped += 1
                else:
                    failed += 1
    except FileNotFoundError:
        print(f"{build}: no test log", file=sys.stderr)
        failed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
