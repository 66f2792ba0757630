#!/bin/sh
# The main job (make demo): runs the programs of a build folder. Usage: tools/demo.sh BUILD_DIR
set -eu
build=$1
"$build/src/shoal/shoal" --version
