#!/bin/sh
# Runs shoal-devnet (with the shoald and shoal-dir built beside it) as a user would, one scenario
# per meson test:  devnet.sh PATH_TO_SHOAL_DEVNET SCENARIO
#   usage    --help, --version, usage errors, commands on a folder with no devnet
#   cycle    up (5 nodes, swarm target 2), status, a second up refused, kill and start a node,
#            down; afterwards no process of the devnet is left
#   ctrl-c   up --foreground stopped by SIGINT leaves no process behind
set -eu
devnet=$1
scenario=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/shoal-devnet-XXXXXX")
. "$(dirname "$0")/../lib.sh"
dir=$work/net
trap 'pkill -9 -f "$work" 2>/dev/null || true; rm -rf "$work"' EXIT

procs_left() { pgrep -f "$dir" | wc -l; }

usage() {
    expect 0 "$devnet" --version
    grep_out "^shoal-devnet 0.1.0$"
    expect 0 "$devnet" --help
    grep_out "usage: shoal-devnet up"
    expect 2 "$devnet"
    expect 2 "$devnet" fly
    grep_err "'fly' is not a command"
    expect 2 "$devnet" up --nodes 0
    grep_err "bad number '0'"
    expect 2 "$devnet" up --set novalue
    grep_err "KEY=VALUE"
    expect 2 "$devnet" kill --dir "$dir"
    grep_err "name one process"
    expect 1 "$devnet" status --dir "$dir"
    grep_err "no devnet in"
    expect 1 "$devnet" down --dir "$dir"
}

cycle() {
    expect 0 "$devnet" up --dir "$dir" --nodes 5 --swarm-target 2 --timeout 60
    grep_out "every node holds map version"
    grep_out "devnet: up in"
    [ -s "$dir/network" ] || fail "no network file"
    [ "$(procs_left)" -eq 6 ] || fail "expected 6 processes, found $(procs_left)"

    expect 0 "$devnet" status --dir "$dir"
    grep_out "n5   127.0.0.1:[0-9]* *running"
    grep_out "map version [0-9]*: 5 nodes"

    port=$(sed -n 's/^  n3   127.0.0.1:\([0-9]*\).*/\1/p' "$work/out")
    [ -n "$port" ] || fail "no port for n3 in: $(cat "$work/out")"

    expect 1 "$devnet" up --dir "$dir" --nodes 5
    grep_err "already runs in"
    expect 0 "$devnet" kill n3 --dir "$dir"
    grep_out "n3 killed"
    expect 1 "$devnet" kill n3 --dir "$dir"
    grep_err "n3 is not running"
    expect 0 "$devnet" status --dir "$dir"
    grep_out "n3   127.0.0.1:$port *stopped"
    expect 1 "$devnet" kill n9 --dir "$dir"
    grep_err "no process 'n9'"

    expect 0 "$devnet" start n3 --dir "$dir"
    grep_out "n3 listening on 127.0.0.1:$port"
    expect 1 "$devnet" start n3 --dir "$dir"
    grep_err "already running"

    expect 0 "$devnet" down --dir "$dir"
    grep_out "stopped"
    [ "$(procs_left)" -eq 0 ] || fail "$(procs_left) processes left after down"
    expect 1 "$devnet" up --dir "$dir" --nodes 3
    grep_err "stopped devnet; give --force"
}

ctrl_c() {
    "$devnet" up --foreground --dir "$dir" --nodes 3 --swarm-target 2 >"$work/out" 2>"$work/err" &
    up=$!
    i=0
    until grep -q "devnet: running" "$work/out"; do
        i=$((i + 1))
        [ $i -lt 600 ] || fail "foreground devnet not up: $(cat "$work/out" "$work/err")"
        kill -0 $up 2>/dev/null || fail "foreground devnet ended: $(cat "$work/err")"
        sleep 0.1
    done
    kill -INT $up
    wait $up || fail "up --foreground exited $? after SIGINT"
    grep_out "devnet: stopped"
    [ "$(procs_left)" -eq 0 ] || fail "$(procs_left) processes left after Ctrl-C"
}

case $scenario in
usage) usage ;;
cycle) cycle ;;
ctrl-c) ctrl_c ;;
*) fail "unknown scenario" ;;
esac
echo "ok $scenario"
