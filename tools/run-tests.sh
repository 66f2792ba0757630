#!/bin/sh
# Runs the whole test suite of a build folder and ends with the line `N passed, N failed`.
# Usage: tools/run-tests.sh BUILD_DIR [meson test arguments...]
set -u
build=$1
shift
out="$build/meson-test.out"
rm -f "$build/meson-logs/testlog.json"
meson test -C "$build" --no-rebuild --print-errorlogs "$@" >"$out" 2>&1
status=$?
if [ $status -ne 0 ]; then
    echo "--- meson test output (last 300 lines of $out) ---"
    tail -n 300 "$out"
    echo "---"
fi
python3 tools/test-summary.py "$build/meson-logs/testlog.json"
