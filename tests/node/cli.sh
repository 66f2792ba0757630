#!/bin/sh
# Runs the built `shoald` binary as separate processes, one scenario per meson test:
#   cli.sh PATH_TO_SHOALD SCENARIO
# Each scenario works in its own temporary folder and checks outputs, files and exit codes.
set -eu
shoald=$1
scenario=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/shoald-cli-XXXXXX")
. "$(dirname "$0")/../lib.sh"
pid=
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$work"' EXIT
unset XDG_DATA_HOME

usage() {
    expect 0 "$shoald" --version
    grep_out "^shoald 0.1.0$"
    expect 0 "$shoald" --help
    grep_out "shoald keygen"
    grep_out "shoald ready port=N"
    expect 2 "$shoald" --bogus
    grep_err "unknown argument '--bogus'"
    expect 2 "$shoald" --set nope=1 --data-dir "$work/d"
    grep_err "unknown setting \"nope\""
    expect 2 "$shoald" --port 70000 --data-dir "$work/d"
    grep_err "port must be between 0 and 65535"
    expect 2 "$shoald" --port
    grep_err "needs a value"
    printf 'listen = 127.0.0.1\nport = abc\n' >"$work/bad.conf"
    expect 2 "$shoald" -c "$work/bad.conf"
    grep_err "line 2: port needs a number"
    expect 2 "$shoald" --config "$work/missing.conf"
    grep_err "missing.conf"
}

keygen() {
    expect 0 "$shoald" keygen --data-dir "$work/d"
    grep_err "wrote new keys"
    first=$(cat "$work/out")
    echo "$first" | grep -q "^shoald keys link_key=[0-9a-f]\{64\} identity_key=[0-9a-f]\{64\}$" ||
        fail "bad keys line '$first'"
    [ "$(stat -c %a "$work/d/node.key")" = 600 ] || fail "the key file is not mode 600"
    [ "$(stat -c %a "$work/d")" = 700 ] || fail "the data folder is not mode 700"
    expect 0 "$shoald" keygen --data-dir "$work/d"
    grep_err "keys already in"
    [ "$(cat "$work/out")" = "$first" ] || fail "a second keygen changed the keys"
    expect 0 "$shoald" keygen --data-dir "$work/d" --force
    [ "$(cat "$work/out")" != "$first" ] || fail "keygen --force kept the keys"
    expect 0 "$shoald" keygen --key-file "$work/other.key"
    [ -f "$work/other.key" ] || fail "--key-file was not used"
    printf 'shoald-keys 1\nidentity-seed 00\n' >"$work/broken.key"
    expect 1 "$shoald" keygen --key-file "$work/broken.key"
    grep_err "broken.key"
}

# A node from a configuration file on a free port: ready line, stats, and SIGINT.
run() {
    printf '# test node\nlisten = 127.0.0.1\nport = 0\ndata-dir = %s\nlog_level = warn\n' \
        "$work/n" >"$work/node.conf"
    "$shoald" -c "$work/node.conf" >"$work/ready" 2>"$work/log" &
    pid=$!
    for _ in $(seq 1 300); do
        grep -q "^shoald ready" "$work/ready" 2>/dev/null && break
        sleep 0.1
    done
    line=$(cat "$work/ready")
    echo "$line" | grep -q "^shoald ready port=[0-9]* link_key=[0-9a-f]\{64\} identity_key=[0-9a-f]\{64\} version=0.1.0$" ||
        fail "bad ready line '$line'"
    port=$(echo "$line" | sed 's/.*port=\([0-9]*\).*/\1/')
    expect 0 "$shoald" stats -c "$work/node.conf" --port "$port"
    grep_out "^shoal_node_calls_total{method=\"other\"} 1$"
    grep_out "^shoal_store_messages 0$"
    grep_out "^# TYPE shoal_node_rejects_total counter$"
    kill -INT "$pid"
    set +e
    wait "$pid"
    got=$?
    set -e
    pid=
    [ "$got" -eq 0 ] || fail "shoald exited $got after SIGINT; log: $(cat "$work/log")"
    [ -f "$work/n/messages.db" ] || fail "no message store in the data folder"
    expect 1 "$shoald" stats -c "$work/node.conf" --port "$port" --set shutdown_timeout_ms=1
    grep_err "stats"
}

"$scenario"
