#!/bin/sh
# Runs every benchmark of a release build (bench/*/bench-*), one after another.
# BENCH_QUICK=1 shrinks their sizes for a smoke run. Each prints `bench: <name> <value> <unit>` lines.
set -eu
build=$1
fail=0
for b in $(find "$build/bench" -type f -name 'bench-*' -perm -u+x | sort); do
    echo "== $(basename "$b")"
    "$b" || { echo "benchmark $(basename "$b") failed" >&2; fail=1; }
done
exit $fail
