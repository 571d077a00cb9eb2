#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the libFuzzer targets in a separate clang build (CAUSEWAY_FUZZ=ON, benchmarks off) and
# runs them through `ctest -L fuzz`, each for a bounded time (CAUSEWAY_FUZZ_SECONDS, default
# 20). Exits non-zero if a target crashes, leaks or fails to build.
# Usage: scripts/build-fuzz.sh DIR
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:?usage: build-fuzz.sh DIR}
seconds=${CAUSEWAY_FUZZ_SECONDS:-20}

cmake -S "$here" -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCAUSEWAY_FUZZ=ON -DCAUSEWAY_BENCH=OFF \
  -DCAUSEWAY_FUZZ_SECONDS="$seconds" >/dev/null
# Fuzz targets are the build targets whose name ends in _fuzz (one per module convention).
# (Parsed from the generator's target list; works for Makefiles and Ninja.)
mapfile -t targets < <(cmake --build "$build" --target help | grep -oE '\b[A-Za-z0-9_]+_fuzz\b' | sort -u || true)
if ((${#targets[@]} == 0)); then
  echo "build-fuzz: no *_fuzz targets" >&2
  exit 1
fi
cmake --build "$build" -j2 --target "${targets[@]}"
cd "$build"
ctest -L fuzz --output-on-failure --no-tests=error
