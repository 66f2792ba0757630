# Shared by the shell tests (sourced): each sets $work (a temporary folder) and $scenario first.
#   expect CODE CMD...   runs CMD with $input (if set) on stdin, stdout in $work/out and stderr
#                        in $work/err, and fails the test unless it exits CODE
#   grep_out / grep_err PATTERN, lines_out N: what the last command printed
fail() { echo "FAIL ($scenario): $*" >&2; exit 1; }

expect() {
    want=$1
    shift
    set +e
    printf '%s' "${input:-}" | "$@" >"$work/out" 2>"$work/err"
    got=$?
    set -e
    input=
    [ "$got" -eq "$want" ] ||
        fail "'$*' exited $got, expected $want; stdout: $(cat "$work/out"); stderr: $(cat "$work/err")"
}

grep_out() { grep -q -- "$1" "$work/out" || fail "stdout lacks '$1': $(cat "$work/out")"; }
grep_err() { grep -q -- "$1" "$work/err" || fail "stderr lacks '$1': $(cat "$work/err")"; }
lines_out() { [ "$(wc -l <"$work/out")" -eq "$1" ] || fail "expected $1 lines: $(cat "$work/out")"; }
