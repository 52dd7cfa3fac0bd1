#!/usr/bin/env python3
"""check-catalog.py CATALOG LOG_H: every MESSAGE_ID in LOG_H is 128-bit hex
(32 lowercase hex digits), unique, and has exactly one catalog entry with a
Subject; the catalog has no entry for an unknown id."""
import re
import sys


def main():
    catalog, header = sys.argv[1], sys.argv[2]
    errors = []
    ids = re.findall(r'#define\s+(KPINGD_MID_\w+)\s+"([^"]*)"', open(header).read())
    if not ids:
        errors.append(f"{header}: no KPINGD_MID_* found")
    seen = {}
    for name, value in ids:
        if not re.fullmatch(r"[0-9a-f]{32}", value):
            errors.append(f"{name}: '{value}' is not 32 lowercase hex digits")
        if value in seen:
            errors.append(f"{name}: same id as {seen[value]}")
        seen[value] = name

    entries = {}
    current = None
    for lineno, line in enumerate(open(catalog), 1):
        m = re.match(r"^-- (\S+)(?: (\S+))?$", line.rstrip("\n"))
        if m:
            current = m.group(1)
            if current in entries:
                errors.append(f"{catalog}:{lineno}: second entry for {current}")
            entries[current] = {"subject": False}
        elif current is not None and line.startswith("Subject: "):
            entries[current]["subject"] = True
    for mid, e in entries.items():
        if mid not in seen:
            errors.append(f"{catalog}: entry {mid} is no MESSAGE_ID in {header}")
        if not e["subject"]:
            errors.append(f"{catalog}: entry {mid} has no Subject")
    for mid, name in seen.items():
        if mid not in entries:
            errors.append(f"{catalog}: no entry for {name} ({mid})")
    for e in errors:
        print(e)
    if not errors:
        print(f"{len(seen)} MESSAGE_IDs, all in the catalog")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
