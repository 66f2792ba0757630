#!/bin/sh
# Runs every libFuzzer target of a fuzz build for a share of a total time budget, each from its
# seed corpus under fuzz/corpus/<target>/. Usage: tools/run-fuzz.sh BUILD_DIR TOTAL_SECONDS
# Fails when a target crashes, leaks or times out; the crashing input is left in build/fuzz/crashes.
set -eu
build=$1
total=$2
targets=$(find "$build/fuzz" -type f -name 'fuzz-*' -perm -u+x | sort)
n=$(echo "$targets" | grep -c . || true)
if [ "$n" -eq 0 ]; then
    echo "run-fuzz: no fuzz targets in $build"
    exit 0
fi
each=$((total / n))
[ "$each" -lt 5 ] && each=5
mkdir -p "$build/crashes"
fail=0
for t in $targets; do
    name=$(basename "$t" | sed 's/^fuzz-//')
    seeds="fuzz/corpus/$name"
    work="$build/corpus/$name"
    mkdir -p "$work"
    [ -d "$seeds" ] && cp -n "$seeds"/* "$work"/ 2>/dev/null || true
    echo "run-fuzz: $name for ${each}s"
    if ! "$t" -max_total_time="$each" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$build/crashes/$name-" "$work" >"$build/fuzz-$name.log" 2>&1; then
        echo "run-fuzz: $name FAILED; last lines of $build/fuzz-$name.log:"
        tail -n 40 "$build/fuzz-$name.log"
        fail=1
    else
        grep -E 'stat::number_of_executed_units|stat::new_units_added' "$build/fuzz-$name.log" | tr '\n' ' '
        echo
    fi
done
exit $fail
