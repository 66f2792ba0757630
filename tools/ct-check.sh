#!/bin/sh
# Constant-time check of ML-KEM-768 and X-Wing: builds tests/crypto/ct-kem without sanitizers and
# with -DSH_CT_CHECK (crypto/ct.h: values public by design are declassified), at -O2 and at -O3,
# and runs it under valgrind memcheck with every secret input marked undefined. Any branch or
# memory index that depends on a secret is a memcheck report, and a report fails the check.
#   tools/ct-check.sh              the check (CI runs it; needs valgrind: tools/install-deps.sh ci)
#   tools/ct-check.sh --demo-leak  builds a deliberately leaky decapsulation (SH_CT_LEAKY_DEMO)
#                                  and succeeds only if memcheck catches it
set -eu
cd "$(dirname "$0")/.."

flags="-DSH_CT_CHECK=1"
prefix=build/ctcheck
levels="2 3"
if [ "${1:-}" = --demo-leak ]; then
    flags="$flags -DSH_CT_LEAKY_DEMO=1"
    prefix=build/ctcheck-leak
    levels=2
fi
if ! command -v valgrind >/dev/null 2>&1; then
    echo "ct-check: valgrind is missing; install it with tools/install-deps.sh ci" >&2
    exit 1
fi
if ! echo '#include <valgrind/memcheck.h>' | ${CC:-cc} -E -x c - >/dev/null 2>&1; then
    echo "ct-check: valgrind/memcheck.h is missing (Debian package valgrind)" >&2
    exit 1
fi

status=0
for o in $levels; do
    build=$prefix-O$o
    [ -f "$build/build.ninja" ] ||
        meson setup "$build" --buildtype=release -Doptimization="$o" -Dbench=false \
            -Dc_args="$flags" >"$prefix-setup.log" 2>&1 || { cat "$prefix-setup.log"; exit 1; }
    ninja -C "$build" -j2 tests/crypto/ct-kem >"$build/ct-build.log" 2>&1 ||
        { cat "$build/ct-build.log"; exit 1; }
    echo "ct-check: -O$o: valgrind memcheck on tests/crypto/ct-kem"
    if valgrind -q --error-exitcode=3 --track-origins=yes "$build/tests/crypto/ct-kem" \
        >"$build/ct-check.log" 2>&1; then
        echo "ct-check: -O$o: 0 errors"
    else
        echo "ct-check: -O$o: memcheck reported secret-dependent behaviour (or a wrong result):"
        tail -n 60 "$build/ct-check.log"
        status=1
    fi
done

if [ "${1:-}" = --demo-leak ]; then
    if [ $status -eq 0 ]; then
        echo "ct-check: --demo-leak: the leaky build passed, so the check is blind" >&2
        exit 1
    fi
    echo "ct-check: --demo-leak: memcheck caught the deliberate leak, as it should"
    exit 0
fi
exit $status
