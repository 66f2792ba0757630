#!/bin/sh
# `shoal devices` (docs/cli.md "Devices") against a shoald process on loopback:
#   devices.sh PATH_TO_SHOAL PATH_TO_SHOALD SCENARIO
# A primary links a second device through the network (link code, emoji, confirmation), both
# devices of the account send and receive, the primary revokes the second device; and every way
# a link fails has its exit code. Each scenario works in its own temporary folder.
set -eu
shoal=$1
shoald=$2
scenario=$3
work=$(mktemp -d "${TMPDIR:-/tmp}/shoal-devices-XXXXXX")
node_pid=
bg_pid=
trap '[ -n "$node_pid" ] && kill -9 $node_pid 2>/dev/null; [ -n "$bg_pid" ] && kill -9 $bg_pid 2>/dev/null; rm -rf "$work"' EXIT
export SHOAL_KDF_COST=min SHOAL_DEADLINE_MS=10000 # generous: CI runs this beside heavy tests
unset XDG_DATA_HOME SHOAL_NETWORK

. "$(dirname "$0")/../lib.sh"
# On failure also what the primary's background 'devices link' said.
fail() {
    echo "FAIL ($scenario): $*" >&2
    [ -f "$work/link.err" ] && echo "the primary's 'devices link' said: $(cat "$work/link.out" "$work/link.err")" >&2
    exit 1
}

init() {
    expect 0 "$shoal" init --data "$work/$1"
    sed -n 's/^Session ID: //p' "$work/out"
}

# start_link DATA [ANSWER]: `devices link` on the primary in the background (ANSWER on its
# standard input, else --yes); sets $code once the code is shown.
start_link() {
    if [ $# -gt 1 ]; then
        printf '%s\n' "$2" >"$work/answer"
        "$shoal" devices link --data "$work/$1" --network "$work/net" --wait-ms 30000 \
            <"$work/answer" >"$work/link.out" 2>"$work/link.err" &
    else
        "$shoal" devices link --data "$work/$1" --network "$work/net" --wait-ms 30000 --yes \
            </dev/null >"$work/link.out" 2>"$work/link.err" &
    fi
    bg_pid=$!
    code=
    for _ in $(seq 400); do
        code=$(grep '^SL1' "$work/link.out" 2>/dev/null || true)
        [ -n "$code" ] && break
        sleep 0.05
    done
    [ -n "$code" ] || fail "no link code: $(cat "$work/link.out" "$work/link.err")"
}
# wait_link STATUS: the background `devices link` ended with STATUS.
wait_link() {
    set +e
    wait "$bg_pid"
    got=$?
    set -e
    bg_pid=
    [ "$got" -eq "$1" ] || fail "devices link exited $got, expected $1: $(cat "$work/link.err")"
}

link_revoke() {
    start_node
    alice=$(init alice)
    bob=$(init bob)
    start_link alice
    expect 0 "$shoal" devices join "$code" --data "$work/alice2" --network "$work/net" \
        --wait-ms 30000
    grep_out "Linking to $alice"
    grep_out "Check that the primary shows: "
    grep_out "Linked as device 2 of $alice"
    emoji=$(sed -n 's/^Check that the primary shows: //p' "$work/out")
    wait_link 0
    grep -q "The new device shows: $emoji" "$work/link.out" || fail "SAS: $(cat "$work/link.out")"
    grep -q "Linked device 2" "$work/link.out" || fail "$(cat "$work/link.out")"
    expect 0 "$shoal" id --data "$work/alice2"
    grep_out "^$alice$"
    expect 0 "$shoal" devices list --data "$work/alice2"
    lines_out 2
    grep_out "device 1 (primary) added "
    grep_out "device 2 (this device, linked) added "
    expect 0 "$shoal" devices list --data "$work/alice"
    grep_out "device 1 (this device, primary)"
    # both devices of alice get bob's message; each sees what the other sent
    expect 0 "$shoal" send --data "$work/bob" --network "$work/net" "$alice" hello both
    expect 0 "$shoal" listen --data "$work/alice2" --network "$work/net" --count 1 --wait-ms 5000
    grep_out "from $bob: hello both"
    expect 0 "$shoal" send --data "$work/alice2" --network "$work/net" "$bob" from the second
    expect 0 "$shoal" listen --data "$work/bob" --network "$work/net" --count 1 --wait-ms 5000
    grep_out "from $alice: from the second"
    expect 0 "$shoal" listen --data "$work/alice" --network "$work/net" --count 2 --wait-ms 5000
    grep_out "from $bob: hello both"
    grep_out "to $bob: from the second"
    # only the primary revokes; then the second device is refused
    expect 1 "$shoal" devices revoke 1 --data "$work/alice2" --network "$work/net"
    grep_err "only the primary"
    expect 2 "$shoal" devices revoke two --data "$work/alice" --network "$work/net"
    expect 0 "$shoal" devices revoke 2 --data "$work/alice" --network "$work/net"
    grep_out "Revoked device 2"
    expect 1 "$shoal" devices revoke 2 --data "$work/alice" --network "$work/net"
    grep_err "not a linked device"
    expect 0 "$shoal" devices list --data "$work/alice"
    grep_out "device 2 revoked "
    expect 16 "$shoal" listen --data "$work/alice2" --network "$work/net" --once
    grep_err "revoked"
}

link_errors() {
    start_node
    alice=$(init alice)
    # a mistyped code
    start_link alice
    bad=$(echo "$code" | sed 's/^\(SL1.\{20\}\)\(.\)/\1\2\2/; s/^\(.\{83\}\).*/\1/')
    [ "$bad" != "$code" ] || fail "typo"
    expect 12 "$shoal" devices join "$bad" --data "$work/n1" --network "$work/net"
    grep_err "mistyped"
    expect 12 "$shoal" devices join SL1ABC --data "$work/n1" --network "$work/net"
    # the right code, in lower case: linked; used again: refused
    lower=$(echo "$code" | tr 'A-Z' 'a-z')
    expect 0 "$shoal" devices join "$lower" --data "$work/n1" --network "$work/net" --wait-ms 30000
    wait_link 0
    expect 14 "$shoal" devices join "$code" --data "$work/n2" --network "$work/net"
    grep_err "already used"
    # a folder that holds an account already
    expect 4 "$shoal" devices join "$code" --data "$work/alice" --network "$work/net"
    # the person on the primary says the emoji differ
    start_link alice no
    expect 15 "$shoal" devices join "$code" --data "$work/n3" --network "$work/net" --wait-ms 30000
    grep_err "refused"
    wait_link 15
    expect 3 "$shoal" id --data "$work/n3"
    # nobody answers: the primary gives up, and so does a device with that code
    expect 13 "$shoal" devices link --data "$work/alice" --network "$work/net" --wait-ms 1000
    grep_err "no new device"
    code=$(grep '^SL1' "$work/out")
    expect 13 "$shoal" devices join "$code" --data "$work/n4" --network "$work/net" --wait-ms 1500
    grep_err "expired or is unknown"
}

case "$scenario" in
link_revoke) link_revoke ;;
link_errors) link_errors ;;
*) fail "unknown scenario" ;;
esac
echo "ok: $scenario"
