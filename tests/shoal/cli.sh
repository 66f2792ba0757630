#!/bin/sh
# Runs the built `shoal` binary as separate processes, one scenario per meson test:
#   cli.sh PATH_TO_SHOAL SCENARIO
# Each scenario works in its own temporary folder and checks outputs, files and exit codes.
set -eu
shoal=$1
scenario=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/shoal-cli-XXXXXX")
. "$(dirname "$0")/../lib.sh"
trap 'rm -rf "$work"' EXIT
export SHOAL_KDF_COST=min
unset XDG_DATA_HOME

# The Session ID of seed 0123456789abcdef0123456789abcdef (Session's "identity" vector).
VECTOR_ID=05d2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72
VECTOR_PHRASE="vexed enjoy pigment films adept voted vexed enjoy pigment films adept voted adept"

id_line() { sed -n 's/^Session ID: //p' "$work/out"; }
phrase_line() { sed -n '/^Recovery phrase/{n;p;}' "$work/out"; }
mode_of() { stat -c %a "$1"; }

roundtrip() {
    expect 0 "$shoal" init --data "$work/a"
    id=$(id_line)
    phrase=$(phrase_line)
    [ ${#id} -eq 66 ] || fail "bad Session ID '$id'"
    [ "$(echo "$phrase" | wc -w)" -eq 13 ] || fail "bad phrase '$phrase'"
    expect 0 "$shoal" id --data "$work/a"
    [ "$(cat "$work/out")" = "$id" ] || fail "shoal id printed $(cat "$work/out"), not $id"
    input=$phrase; expect 0 "$shoal" restore --data "$work/b"
    [ "$(id_line)" = "$id" ] || fail "restored ID $(id_line) differs from $id"
    expect 0 "$shoal" --data "$work/b" id
    [ "$(cat "$work/out")" = "$id" ] || fail "restored account has ID $(cat "$work/out")"
    expect 0 "$shoal" phrase --data "$work/b" --yes
    [ "$(cat "$work/out")" = "$phrase" ] || fail "shoal phrase printed another phrase"
    input="no"; expect 1 "$shoal" phrase --data "$work/b"
    grep_err "not confirmed"
    [ ! -s "$work/out" ] || fail "the phrase was shown without confirmation"
    input="yes"; expect 0 "$shoal" phrase --data "$work/b"
    [ "$(cat "$work/out")" = "$phrase" ] || fail "confirmed phrase differs"
}

force() {
    expect 0 "$shoal" init --data "$work/a"
    id=$(id_line)
    expect 4 "$shoal" init --data "$work/a"
    grep_err "already holds an account (Session ID $id)"
    input=$VECTOR_PHRASE; expect 4 "$shoal" restore --data "$work/a"
    expect 0 "$shoal" id --data "$work/a"
    [ "$(cat "$work/out")" = "$id" ] || fail "the refused init changed the account"
    expect 0 "$shoal" init --data "$work/a" --force
    [ "$(id_line)" != "$id" ] || fail "--force did not make a new account"
    input=$VECTOR_PHRASE; expect 0 "$shoal" restore --force --data "$work/a"
    [ "$(id_line)" = "$VECTOR_ID" ] || fail "restore --force gave $(id_line)"
}

stdin_phrase() {
    # Session's identity vector, typed carelessly: case, 3-letter stubs, typos, line breaks.
    input="  VEXED enj pigmentt films
adept voted	vexed enjoy PIG fil adept voted adeptly
"; expect 0 "$shoal" restore --data "$work/a"
    [ "$(id_line)" = "$VECTOR_ID" ] || fail "restored $(id_line), expected $VECTOR_ID"
    # The phrase is never taken from the command line.
    expect 2 "$shoal" restore --data "$work/b" $VECTOR_PHRASE
    grep_err "unexpected argument 'vexed'"
    [ ! -e "$work/b" ] || fail "a phrase on the command line created an account"
}

passphrase() {
    printf 'hunter2 is long enough\n' >"$work/pass"
    printf 'not it\n' >"$work/wrong"
    expect 0 "$shoal" init --data "$work/a" --passphrase-file "$work/pass"
    id=$(id_line)
    phrase=$(phrase_line)
    expect 0 "$shoal" id --data "$work/a"
    [ "$(cat "$work/out")" = "$id" ] || fail "id of a protected account"
    expect 5 "$shoal" phrase --data "$work/a" --yes
    grep_err "protected by a passphrase"
    expect 5 "$shoal" phrase --data "$work/a" --yes --passphrase-file "$work/wrong"
    grep_err "wrong passphrase"
    expect 0 "$shoal" phrase --data "$work/a" --yes --passphrase-file "$work/pass"
    [ "$(cat "$work/out")" = "$phrase" ] || fail "phrase of a protected account"
    input=$phrase; expect 0 "$shoal" restore --data "$work/b" --passphrase-file "$work/pass" \
        --kdf-cost min
    [ "$(id_line)" = "$id" ] || fail "restore with a passphrase"
    # The cost recorded in the file wins over the environment's.
    expect 0 env SHOAL_KDF_COST=sensitive "$shoal" phrase --data "$work/b" --yes \
        --passphrase-file "$work/pass"
    : >"$work/empty"
    expect 1 "$shoal" init --data "$work/c" --passphrase-file "$work/empty"
    grep_err "is empty"
    expect 1 "$shoal" init --data "$work/c" --passphrase-file "$work/missing"
    grep_err "passphrase file"
}

bad_phrase() {
    input="vexed enjoy pigment films adept voted vexed enjoy pigment films adept voted zzzzz"; \
        expect 6 "$shoal" restore --data "$work/a"
    grep_err "word 13, 'zzzzz', is not in the word list"
    input="vexed enjoy pigment films adept voted vexed enjoy pigment films adept voted voted"; \
        expect 6 "$shoal" restore --data "$work/a"
    grep_err "checksum word"
    input="vexed enjoy pigment"; expect 6 "$shoal" restore --data "$work/a"
    grep_err "has 13 words; this one has 3"
    input="abbey abbey zoom abbey abbey abbey abbey abbey abbey abbey abbey abbey abbey"; \
        expect 6 "$shoal" restore --data "$work/a"
    grep_err "words 1 to 3"
    input=""; expect 6 "$shoal" restore --data "$work/a"
    [ ! -e "$work/a/seed" ] || fail "a rejected phrase created an account"
}

file_mode() {
    umask 000
    expect 0 "$shoal" init --data "$work/deep/a"
    [ "$(mode_of "$work/deep/a/seed")" = 600 ] || fail "seed file mode $(mode_of "$work/deep/a/seed")"
    [ "$(mode_of "$work/deep/a")" = 700 ] || fail "data folder mode $(mode_of "$work/deep/a")"
    chmod 644 "$work/deep/a/seed"
    expect 0 "$shoal" id --data "$work/deep/a"
    grep_err "can be read by other users"
}

default_dir() {
    expect 0 env XDG_DATA_HOME="$work/xdg" "$shoal" init
    [ -f "$work/xdg/shoal/seed" ] || fail "no seed under \$XDG_DATA_HOME/shoal"
    expect 0 env HOME="$work/home" "$shoal" init
    [ -f "$work/home/.local/share/shoal/seed" ] || fail "no seed under ~/.local/share/shoal"
    expect 0 env HOME="$work/home" "$shoal" id
}

usage() {
    expect 0 "$shoal" --help
    grep_out "usage: shoal"
    grep_out "restore"
    expect 0 "$shoal" --version
    grep_out "^shoal "
    expect 0 "$shoal" init --help
    grep_out "usage: shoal init"
    expect 0 "$shoal" help phrase
    grep_out "usage: shoal phrase"
    expect 2 "$shoal"
    expect 2 "$shoal" frobnicate
    grep_err "'frobnicate' is not a shoal command"
    expect 2 "$shoal" id --force
    grep_err "unknown option '--force'"
    expect 2 "$shoal" init --kdf-cost cheap
    expect 2 "$shoal" --data
    grep_err "needs a folder"
    expect 3 "$shoal" id --data "$work/none"
    grep_err "there is no account in"
    printf 'SHOALSEED\002' >"$work/seed-v2"
    mkdir "$work/v2" && cp "$work/seed-v2" "$work/v2/seed"
    expect 1 "$shoal" id --data "$work/v2"
}

case $scenario in
roundtrip | force | stdin_phrase | passphrase | bad_phrase | file_mode | default_dir | usage)
    $scenario ;;
*) fail "no scenario '$scenario'" ;;
esac
echo "ok: $scenario"
