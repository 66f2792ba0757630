#!/bin/sh
# The main job (make demo). Until the network exists it is an account round trip with the programs
# of a build folder: create an account, show its Session ID, restore it from the printed recovery
# phrase (fed on standard input) into a second data folder, and check that both IDs match.
# Usage: tools/demo.sh BUILD_DIR. Exits non-zero when anything fails; temporary folders are removed.
set -eu
build=$1
shoal="$build/src/shoal/shoal"
work=$(mktemp -d "${TMPDIR:-/tmp}/shoal-demo-XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

"$shoal" --version
echo
echo "== 1. shoal init: a new account (a throwaway one, in $work/first)"
"$shoal" init --data "$work/first" | tee "$work/init.out"
id=$(sed -n 's/^Session ID: //p' "$work/init.out")
phrase=$(sed -n '/^Recovery phrase/{n;p;}' "$work/init.out")
echo
echo "== 2. shoal id"
"$shoal" id --data "$work/first"
echo
echo "== 3. shoal restore: the printed phrase, on standard input, into a second folder"
printf '%s\n' "$phrase" | "$shoal" restore --data "$work/second"
restored=$("$shoal" id --data "$work/second")
echo
if [ -n "$id" ] && [ "$restored" = "$id" ]; then
    echo "demo: OK: the restored account has the same Session ID"
    echo "      $id"
else
    echo "demo: FAILED: created '$id' but restored '$restored'" >&2
    exit 1
fi
