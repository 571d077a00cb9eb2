#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The README's test command: installs what is missing, builds everything with -Werror and runs
# the whole CTest suite (labels unit, dpdk, netns, interop, fuzz). Run as root: the dpdk and
# netns tests need it. Extra arguments go to ctest (e.g. -L unit).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${CAUSEWAY_BUILD_DIR:-$here/build}

"$here/scripts/install-deps.sh"
cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "$(nproc)"
if [[ -x "$here/scripts/build-fuzz.sh" ]]; then
  "$here/scripts/build-fuzz.sh" "$build-fuzz"
fi
cd "$build"
ctest --output-on-failure --no-tests=error "$@"
