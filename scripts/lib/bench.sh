# SPDX-License-Identifier: Apache-2.0
# Shared by the benchmark scripts in bench/ (source it): building what they measure.

# cw_bench_build NAME BUILD_DIR "CMAKE_ARGS" TARGET...: configure BUILD_DIR from this checkout
# with CMAKE_ARGS (words, may be empty: the directory keeps its build type) and build the
# TARGETs. Quiet when it works; when it fails, the last 40 lines of the build and "NAME: build
# failed (BUILD_DIR)" on stderr, status 1. SKIP_BUILD=1 (any value but 0) skips it.
cw_bench_build() {
  local name=$1 dir=$2 args=$3 src log
  shift 3
  [[ -n ${SKIP_BUILD:-} && ${SKIP_BUILD} != 0 ]] && return 0
  src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  log=$(mktemp /tmp/cw-bench-build.XXXXXX)
  # shellcheck disable=SC2086  # CMAKE_ARGS is a list of words
  if ! { cmake -S "$src" -B "$dir" $args && cmake --build "$dir" -j2 --target "$@"; } >"$log" 2>&1; then
    tail -40 "$log" >&2
    echo "$name: build failed ($dir)" >&2
    rm -f "$log"
    return 1
  fi
  rm -f "$log"
}
