#!/bin/sh
# The main job (make demo): start a local Shoal network with the embedded defaults (shoal-devnet:
# one directory authority, 12 nodes in 3 swarms), create two accounts, Alice and Bob, and let them
# talk through it: every call travels a 3-hop onion path, every message is end-to-end encrypted
# with Protocol V2. Then stop the network. Usage: tools/demo.sh BUILD_DIR. Exits non-zero when
# anything fails; the devnet is stopped and temporary folders removed in every case.
set -eu
build=$1
shoal="$build/src/shoal/shoal"
devnet="$build/src/shoal-devnet/shoal-devnet"
work=$(mktemp -d "${TMPDIR:-/tmp}/shoal-demo-XXXXXX")
net="$work/devnet/network"
cleanup() {
    "$devnet" down --dir "$work/devnet" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { printf '\n== %s\n' "$*"; }

"$shoal" --version
step "1. shoal-devnet up: a local network on 127.0.0.1 (1 authority, 12 nodes)"
"$devnet" up --dir "$work/devnet"

step "2. shoal init: two accounts, Alice and Bob (keys only: no phone number, no email)"
"$shoal" init --data "$work/alice" >"$work/alice.out"
alice=$(sed -n 's/^Session ID: //p' "$work/alice.out")
"$shoal" init --data "$work/bob" >"$work/bob.out"
bob=$(sed -n 's/^Session ID: //p' "$work/bob.out")
echo "Alice: $alice"
echo "Bob:   $bob"
"$shoal" contacts add --data "$work/alice" "$bob" bob
"$shoal" contacts add --data "$work/bob" "$alice" alice

step "3. shoal status: each publishes its device keys in its own swarm, through onion paths"
"$shoal" status --data "$work/alice" --network "$net"
"$shoal" status --data "$work/bob" --network "$net"

step "4. Alice sends Bob a message"
"$shoal" send --data "$work/alice" --network "$net" bob "Hi Bob, this went through three onion hops."
"$shoal" listen --data "$work/bob" --network "$net" --count 1 --wait-ms 10000 --paths

step "5. Bob replies"
"$shoal" send --data "$work/bob" --network "$net" alice "Hi Alice! Nobody on the way saw both of us."
"$shoal" listen --data "$work/alice" --network "$net" --count 1 --wait-ms 10000 --paths
"$shoal" listen --data "$work/bob" --network "$net" --once >/dev/null

step "6. Alice's conversation with Bob (delivery states)"
"$shoal" messages --data "$work/alice" bob

step "7. shoal-devnet down"
"$devnet" down --dir "$work/devnet"
echo
echo "demo: OK: Alice and Bob talked through a local Shoal network"
