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

# start_node [PORT]: runs "$shoald" (proof of work low, for speed) on PORT, or on a free port
# below the kernel's ephemeral range (a node restarted on it later finds it free), and writes
# $work/net for it (one node line); sets node_pid, port, link and ident.
start_node() {
    for _try in 1 2 3 4 5; do
        want=${1:-$((20000 + $(od -An -N2 -tu2 /dev/urandom) % 12000))}
        : >"$work/ready"
        "$shoald" --port "$want" --data-dir "$work/node" --set pow_bits=4 --log-level warn \
            >"$work/ready" 2>"$work/node.log" &
        node_pid=$!
        for _ in $(seq 300); do
            grep -q "^shoald ready" "$work/ready" 2>/dev/null && break
            kill -0 "$node_pid" 2>/dev/null || break
            sleep 0.05
        done
        grep -q "^shoald ready" "$work/ready" && break
        [ -z "${1:-}" ] || break
    done
    line=$(cat "$work/ready")
    port=$(echo "$line" | sed -n 's/.*port=\([0-9]*\).*/\1/p')
    link=$(echo "$line" | sed -n 's/.*link_key=\([0-9a-f]*\).*/\1/p')
    ident=$(echo "$line" | sed -n 's/.*identity_key=\([0-9a-f]*\).*/\1/p')
    [ -n "$port" ] || fail "shoald did not start: $(cat "$work/node.log")"
    printf '# one node\nshoal-network 1\nnode %s %s 127.0.0.1:%s\n' "$ident" "$link" "$port" \
        >"$work/net"
}
