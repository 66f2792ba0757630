#!/bin/sh
# The messaging commands of the built `shoal` against real shoald processes on loopback:
#   client.sh PATH_TO_SHOAL PATH_TO_SHOALD SCENARIO
# Each scenario works in its own temporary folder and checks outputs and exit codes.
set -eu
shoal=$1
shoald=$2
scenario=$3
work=$(mktemp -d "${TMPDIR:-/tmp}/shoal-client-XXXXXX")
. "$(dirname "$0")/../lib.sh"
node_pid=
bot_pid=
trap '[ -n "$node_pid" ] && kill -9 $node_pid 2>/dev/null; [ -n "$bot_pid" ] && kill -9 $bot_pid 2>/dev/null; [ -d "$work/dn" ] && "${SHOAL_DEVNET:-true}" down --dir "$work/dn" >/dev/null 2>&1; rm -rf "$work"' EXIT
export SHOAL_KDF_COST=min SHOAL_DEADLINE_MS=1000 SHOAL_RETRY_MIN_MS=0 SHOAL_RETRY_MAX_MS=0
unset XDG_DATA_HOME SHOAL_NETWORK

stop_node() { kill "$node_pid"; wait "$node_pid" || true; node_pid=; }

accounts() {
    expect 0 "$shoal" init --data "$work/alice"
    alice=$(sed -n 's/^Session ID: //p' "$work/out")
    expect 0 "$shoal" init --data "$work/bob"
    bob=$(sed -n 's/^Session ID: //p' "$work/out")
}

# Alice and Bob talk both ways; names, history, delivery states.
messaging() {
    start_node
    accounts
    expect 0 "$shoal" status --data "$work/bob" --network "$work/net"
    grep_out "network: reachable"
    grep_out "Session ID: $bob"
    expect 0 "$shoal" send --data "$work/alice" --network "$work/net" "$bob" hello bob
    input="second line from stdin
"; expect 0 "$shoal" send --data "$work/alice" --network "$work/net" "$bob"
    expect 0 "$shoal" contacts add "$alice" alice --data "$work/bob"
    expect 0 "$shoal" listen --data "$work/bob" --network "$work/net" --count 2 --wait-ms 2000
    lines_out 2
    head -1 "$work/out" | grep -q "from alice: hello bob$" || fail "first: $(cat "$work/out")"
    tail -1 "$work/out" | grep -q "from alice: second line from stdin$" || fail "$(cat "$work/out")"
    expect 0 "$shoal" send --data "$work/bob" --network "$work/net" alice "hi alice"
    expect 0 "$shoal" listen --data "$work/alice" --network "$work/net" --once
    grep_out "from $bob: hi alice"
    expect 0 "$shoal" messages --data "$work/alice" "$bob"
    lines_out 3
    grep_out " out delivered: hello bob"
    grep_out " out delivered: second line from stdin"
    grep_out " in received: hi alice"
    expect 0 "$shoal" listen --data "$work/bob" --network "$work/net" --once
    expect 0 "$shoal" messages --data "$work/bob" alice --count 1
    lines_out 1
    grep_out " out delivered: hi alice"
    # a message TTL of 50 ms: stored, gone before alice looks, "expired" on bob's side
    SHOAL_MESSAGE_TTL_MS=50 expect 0 "$shoal" send --data "$work/bob" --network "$work/net" alice "too late"
    sleep 0.2
    expect 0 "$shoal" listen --data "$work/alice" --network "$work/net" --once
    lines_out 0
    expect 0 "$shoal" listen --data "$work/bob" --network "$work/net" --once
    expect 0 "$shoal" messages --data "$work/bob" alice --count 1
    grep_out " out expired: too late"
    expect 0 "$shoal" contacts list --data "$work/bob"
    grep_out "^alice $alice$"
    expect 0 "$shoal" devices list --data "$work/bob"
    grep_out "device 1 (this device, primary)"
    expect 0 "$shoal" contacts rm alice --data "$work/bob"
    expect 8 "$shoal" contacts rm alice --data "$work/bob"
}

# Each bad input: a clear message, its exit code, and nothing lost from the outbox.
bad_input() {
    start_node
    accounts
    expect 9 "$shoal" send --data "$work/alice" --network "$work/net" 05abc hi
    grep_err "not a valid Session ID"
    expect 9 "$shoal" send --data "$work/alice" --network "$work/net" "15${bob#05}" hi
    expect 8 "$shoal" send --data "$work/alice" --network "$work/net" carol hi
    grep_err "'carol' is neither a contact nor a Session ID"
    expect 9 "$shoal" contacts add 05zz carol --data "$work/alice"
    expect 2 "$shoal" send --data "$work/alice" --network "$work/nonexistent" "$bob" hi
    grep_err "network file"
    expect 2 "$shoal" send --data "$work/alice" "$bob" hi
    grep_err "no network"
    expect 2 "$shoal" send --data "$work/alice" --network "$work/net" "$bob"
    grep_err "no text"
    expect 2 "$shoal" send --data "$work/alice" --network "$work/net"
    expect 3 "$shoal" send --data "$work/nobody" --network "$work/net" "$bob" hi
    # bob never ran shoal: not on the network; the message stays queued
    expect 11 "$shoal" send --data "$work/alice" --network "$work/net" "$bob" early
    grep_err "has published no device list"
    expect 0 "$shoal" messages --data "$work/alice" "$bob"
    grep_out " out queued: early"
    # the network goes away: exit 7, queued; it goes out once the node is back
    expect 0 "$shoal" status --data "$work/bob" --network "$work/net"
    stop_node
    expect 7 "$shoal" send --data "$work/alice" --network "$work/net" "$bob" while down
    grep_err "cannot be reached"
    grep_err "stays queued"
    expect 7 "$shoal" status --data "$work/alice" --network "$work/net"
    grep_out "outbox: 2 waiting"
    start_node "$port"
    expect 0 "$shoal" listen --data "$work/alice" --network "$work/net" --once
    expect 0 "$shoal" messages --data "$work/alice" "$bob"
    grep_out " out stored-1/1: early"
    grep_out " out stored-1/1: while down"
    expect 0 "$shoal" listen --data "$work/bob" --network "$work/net" --once
    lines_out 2
    head -1 "$work/out" | grep -q "early$" || fail "order: $(cat "$work/out")"
    # a damaged database
    printf 'garbage that is not SQLite, long enough to be read as a header...........' \
        >"$work/bob/client.db"
    rm -f "$work/bob/client.db-wal" "$work/bob/client.db-shm"
    expect 10 "$shoal" messages --data "$work/bob" "$alice"
    grep_err "not a shoal client database"
}

# An account with a passphrase: its client database needs the same one.
passphrase() {
    start_node
    printf 'right horse\n' >"$work/pass"
    printf 'wrong horse\n' >"$work/bad"
    expect 0 "$shoal" init --data "$work/carol" --passphrase-file "$work/pass"
    expect 0 "$shoal" contacts add 05d2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72 \
        dave --data "$work/carol" --passphrase-file "$work/pass"
    expect 5 "$shoal" contacts list --data "$work/carol" --passphrase-file "$work/bad"
    expect 5 "$shoal" contacts list --data "$work/carol"
    grep_err "give it with --passphrase-file"
    expect 0 "$shoal" contacts list --data "$work/carol" --passphrase-file "$work/pass"
    grep_out "^dave 05d2ad"
    [ ! -e "$work/carol/client.key" ] || fail "a key file was made for a passphrase account"
}

# Through a whole local network (shoal-devnet: an authority and 8 nodes): the client fetches the
# map from the authority and every call travels a 3-hop onion path.
devnet() {
    devnet_exe=${SHOAL_DEVNET:-}
    [ -x "$devnet_exe" ] || exit 77
    expect 0 "$devnet_exe" up --dir "$work/dn" --nodes 8 --swarm-target 2 --timeout 90
    accounts
    expect 0 "$shoal" status --data "$work/bob" --network "$work/dn/network"
    grep_out "swarm: onion paths (3 hops)"
    grep_out "network: reachable"
    expect 0 "$shoal" send --data "$work/alice" --network "$work/dn/network" "$bob" hello over onion
    grep_out "path: onion paths (3 hops) to node [0-9a-f]* of 8 nodes; last: guard 127.0.0.1:[0-9]* -> middle 127.0.0.1:[0-9]* -> swarm node 127.0.0.1:[0-9]*"
    expect 0 "$shoal" messages --data "$work/alice" "$bob"
    grep_out " out stored-[2-9]/[2-9]: hello over onion" # verified receipts of 2+ of bob's swarm
    expect 0 "$shoal" listen --data "$work/bob" --network "$work/dn/network" --count 1 --wait-ms 3000 --paths
    grep_out "from $alice: hello over onion"
    grep_out "  fetched through onion paths (3 hops) .*; last: guard 127.0.0.1"
    expect 0 "$shoal" send --data "$work/bob" --network "$work/dn/network" "$alice" and back
    expect 0 "$shoal" listen --data "$work/alice" --network "$work/dn/network" --count 1 --wait-ms 3000
    grep_out "from $bob: and back"
    expect 0 "$shoal" listen --data "$work/bob" --network "$work/dn/network" --once
    expect 0 "$shoal" messages --data "$work/alice" "$bob"
    grep_out " out delivered: hello over onion"
    expect 0 "$devnet_exe" down --dir "$work/dn"
    expect 7 "$shoal" send --data "$work/alice" --network "$work/dn/network" "$bob" after the end
    grep_err "stays queued"
}

# The echo bot of docs/examples answers alice.
bot() {
    command -v python3 >/dev/null || exit 77
    start_node
    accounts
    PATH="$(dirname "$shoal"):$PATH" python3 "$SHOAL_SOURCE_DIR/docs/examples/echo-bot.py" \
        --data "$work/bob" --network "$work/net" 2>"$work/bot.log" &
    bot_pid=$!
    for _ in $(seq 300); do
        grep -q "is listening" "$work/bot.log" 2>/dev/null && break
        sleep 0.05
    done
    grep -q "is listening" "$work/bot.log" || fail "the bot did not start: $(cat "$work/bot.log")"
    expect 0 "$shoal" send --data "$work/alice" --network "$work/net" "$bob" 'ping "quoted" é'
    expect 0 "$shoal" listen --data "$work/alice" --network "$work/net" --count 1 --wait-ms 5000
    grep_out "from $bob: echo: ping \"quoted\" é"
    kill "$bot_pid"
    bot_pid=
    input='{"cmd":"status","id":"1"}
{"cmd":"nonsense"}
not json
{"cmd":"send","to":"carol","text":"x"}
{"cmd":"messages","to":"'"$alice"'","id":"m"}
{"cmd":"contact_add","name":"al","to":"'"$alice"'","id":"ca"}
{"cmd":"contact_add","name":"x","to":"05zz","id":"cb"}
{"cmd":"contacts","id":"cl"}
{"cmd":"contact_rm","name":"nobody","id":"cr"}
{"cmd":"devices","id":"d"}
{"cmd":"revoke","device":"7","id":"r1"}
{"cmd":"revoke","device":"x","id":"r2"}
{"cmd":"quit"}
'; expect 0 "$shoal" bot --data "$work/bob" --network "$work/net"
    grep_out '^{"event":"ready","session_id":"'"$bob"'","device":1}$'
    grep_out '^{"id":"1","ok":true,"session_id":"'"$bob"'","device":1,"outbox":0}$'
    grep_out '"ok":false,"error":"unknown command .nonsense.*"code":2}$'
    grep_out '"ok":false,"error":"bad JSON at column 1'
    grep_out '"code":8}$'
    grep_out '^{"id":"m","ok":true,"messages":\[{"direction":"in","from":"'"$alice"'"'
    grep_out '"text":"echo: ping \\"quoted\\" é"}\]}$'
    grep_out '^{"id":"ca","ok":true}$'
    grep_out '^{"id":"cb","ok":false,"error":".*not a valid Session ID.*"code":9}$'
    grep_out '^{"id":"cl","ok":true,"contacts":\[{"name":"al","session_id":"'"$alice"'"}\]}$'
    grep_out '^{"id":"cr","ok":false,.*"code":8}$'
    grep_out '^{"id":"d","ok":true,"devices":\[{"device":1,"primary":true,"self":true,"revoked":false,"since_ms":[0-9]*}\]}$'
    grep_out '^{"id":"r1","ok":false,.*"code":1}$'
    grep_out '^{"id":"r2","ok":false,"error":".*device number.*"code":2}$'
    expect 0 "$shoal" contacts list --data "$work/bob"
    grep_out "^al $alice\$"
    # sends read together go out in one flush; each is answered, in the commands' order
    input='{"cmd":"send","to":"'"$alice"'","text":"one","id":"s1"}
{"cmd":"send","to":"'"$alice"'","text":"two","id":"s2"}
{"cmd":"send","to":"'"$alice"'","text":"three","id":"s3"}
{"cmd":"status","id":"after"}
{"cmd":"quit"}
'; expect 0 "$shoal" bot --data "$work/bob" --network "$work/net"
    answers=$(grep -o '"id":"[a-z0-9]*","ok":true,[a-z":]*' "$work/out" | tr '\n' ' ')
    [ "$answers" = '"id":"s1","ok":true,"state":"stored" "id":"s2","ok":true,"state":"stored" "id":"s3","ok":true,"state":"stored" "id":"after","ok":true,"session ' ] ||
        fail "queued sends: $answers; $(cat "$work/out")"
    grep_out '"outbox":0}$'
    expect 0 "$shoal" listen --data "$work/alice" --network "$work/net" --count 3 --wait-ms 5000
    grep_out "from $bob: one$"
    grep_out "from $bob: three$"
}

[ -n "${CLIENT_SH_DEBUG:-}" ] && set -x
"$scenario"
