# SPDX-License-Identifier: Apache-2.0
# SLA probe wire format (include/causeway/fwd/probe.h) and the forwarder's probe book
# (forwarder/runtime/probes.h): no DPDK, no root.
causeway_test(fwd_probe_codec_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/probe_codec_test.cc
  LIBS causeway_common
  LABELS unit)
causeway_test(fwd_probe_book_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/probe_book_test.cc
  LIBS causeway_fwd_probes
  LABELS unit)

# libFuzzer target (clang; scripts/build-fuzz.sh builds every *_fuzz target, ctest -L fuzz).
if(CAUSEWAY_FUZZ)
  set(CAUSEWAY_FUZZ_SECONDS 20 CACHE STRING "Run time of each fuzz target under ctest")
  file(GLOB _probe_seeds ${CMAKE_CURRENT_LIST_DIR}/fuzz/probe_seeds/*.bin)
  string(REPLACE ";" "," _probe_seeds "${_probe_seeds}")
  add_executable(probe_fuzz ${CMAKE_CURRENT_LIST_DIR}/fuzz/probe_fuzz.cc)
  target_compile_options(probe_fuzz PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_options(probe_fuzz PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(probe_fuzz PRIVATE causeway_common)
  add_test(NAME probe_fuzz
    COMMAND probe_fuzz -max_total_time=${CAUSEWAY_FUZZ_SECONDS} -rss_limit_mb=2048
            -print_final_stats=1 -seed_inputs=${_probe_seeds})
  set_tests_properties(probe_fuzz PROPERTIES LABELS fuzz TIMEOUT 600)
endif()
