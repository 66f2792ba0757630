#!/usr/bin/env python3
"""Turns meson's test log (meson-logs/testlog.json) into the line `N passed, N failed`.

Skipped tests are listed above the summary and count as neither; every other non-OK result
(FAIL, TIMEOUT, ERROR, UNEXPECTEDPASS) counts as failed. Exits 1 when anything failed or when no
test ran at all, so a run that tested nothing can never look green."""
import json
import sys


def main():
    log = sys.argv[1]
    passed, failed, skipped = 0, [], []
    try:
        with open(log, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                r = json.loads(line)
                res = r.get("result")
                if res in ("OK", "EXPECTEDFAIL"):
                    passed += 1
                elif res == "SKIP":
                    skipped.append(r["name"])
                else:
                    failed.append(f'{r["name"]} ({res})')
    except FileNotFoundError:
        print(f"no test log at {log}")
    for name in skipped:
        print(f"skipped: {name}")
    for name in failed:
        print(f"FAILED: {name}")
    print(f"{passed} passed, {len(failed)} failed")
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
