#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The README's test command: installs what is missing, builds everything with -Werror and runs
# the whole suite: the libFuzzer targets (label fuzz, a second build tree with clang, each for a
# bounded time) and then every CTest test of the main build (labels unit, dpdk, netns,
# interop). Run as root: the dpdk and netns tests need it. Extra arguments go to the main
# ctest (e.g. -L unit); CAUSEWAY_SKIP_FUZZ=1 skips the fuzz stage.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${CAUSEWAY_BUILD_DIR:-$here/build}

"$here/scripts/install-deps.sh"
cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "$(nproc)"

fuzz_rc=0
if [[ -z ${CAUSEWAY_SKIP_FUZZ:-} && -x "$here/scripts/build-fuzz.sh" ]]; then
  "$here/scripts/build-fuzz.sh" "$build-fuzz" || fuzz_rc=$?
fi
main_rc=0
(cd "$build" && ctest --output-on-failure --no-tests=error "$@") || main_rc=$?
if ((fuzz_rc != 0)); then
  echo "test.sh: the fuzz stage failed (exit $fuzz_rc)" >&2
fi
exit $((main_rc != 0 || fuzz_rc != 0))
