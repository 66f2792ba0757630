#!/bin/sh
# Installs the Debian 12 packages Shoal needs that are missing. Usage: tools/install-deps.sh [build|ci]
#   build: what `make demo` and `make test` need; ci: also clang/libFuzzer and valgrind for .ci/run.
# Runs apt-get as root (or through sudo without a password); otherwise says what to install.
set -eu

BUILD="meson ninja-build pkg-config gcc python3 libsodium-dev libsqlite3-dev libuv1-dev \
libprotobuf-c-dev protobuf-c-compiler libjansson-dev"
CI="clang libclang-rt-14-dev libfuzzer-14-dev valgrind"

want="$BUILD"
[ "${1:-build}" = ci ] && want="$BUILD $CI"

missing=""
for p in $want; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

echo "install-deps: installing missing Debian packages:$missing"
if [ "$(id -u)" = 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
else
    echo "install-deps: these packages are missing and I am not root:$missing" >&2
    echo "install-deps: run as root: apt-get install -y$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq || echo "install-deps: apt-get update failed; trying the cached package lists" >&2
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
