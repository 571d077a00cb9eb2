# SPDX-License-Identifier: Apache-2.0
# WireGuard UAPI (forwarder/uapi): codec and session (unit), socket server (unit: temporary
# directory), the real `wg` tool against the server (needs root for /var/run/wireguard: netns),
# and a libFuzzer target for the request parser.
causeway_test(uapi_codec_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/uapi_codec_test.cc
  LIBS causeway_uapi
  LABELS unit)

causeway_test(uapi_session_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/uapi_session_test.cc
  LIBS causeway_uapi
  LABELS unit)
target_include_directories(uapi_session_test PRIVATE ${CMAKE_CURRENT_LIST_DIR})

causeway_test(uapi_server_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/uapi_server_test.cc
  LIBS causeway_uapi
  LABELS unit)
target_include_directories(uapi_server_test PRIVATE ${CMAKE_CURRENT_LIST_DIR})

# The real `wg` against the server: needs root (wg only looks in /var/run/wireguard).
causeway_test(uapi_wg_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/uapi_wg_test.cc
  LIBS causeway_uapi
  LABELS netns
  TIMEOUT 120)
target_include_directories(uapi_wg_test PRIVATE ${CMAKE_CURRENT_LIST_DIR})

# libFuzzer target (clang; scripts/build-fuzz.sh builds every *_fuzz target and runs ctest -L fuzz).
if(CAUSEWAY_FUZZ)
  set(CAUSEWAY_FUZZ_SECONDS 20 CACHE STRING "Run time of each fuzz target under ctest")
  target_compile_options(causeway_uapi PRIVATE -fsanitize=fuzzer-no-link,address)
  target_link_options(causeway_uapi INTERFACE -fsanitize=address)
  file(GLOB _uapi_seeds ${CMAKE_CURRENT_LIST_DIR}/fuzz/uapi_seeds/*.txt)
  string(REPLACE ";" "," _uapi_seeds "${_uapi_seeds}")
  add_executable(uapi_request_fuzz ${CMAKE_CURRENT_LIST_DIR}/fuzz/uapi_request_fuzz.cc)
  target_include_directories(uapi_request_fuzz PRIVATE ${CMAKE_CURRENT_LIST_DIR})
  target_compile_options(uapi_request_fuzz PRIVATE -fsanitize=fuzzer,address)
  target_link_options(uapi_request_fuzz PRIVATE -fsanitize=fuzzer,address)
  target_link_libraries(uapi_request_fuzz PRIVATE causeway_uapi)
  add_test(NAME uapi_request_fuzz
    COMMAND uapi_request_fuzz -max_total_time=${CAUSEWAY_FUZZ_SECONDS} -rss_limit_mb=2048
            -print_final_stats=1 -dict=${CMAKE_CURRENT_LIST_DIR}/fuzz/uapi.dict
            -seed_inputs=${_uapi_seeds})
  set_tests_properties(uapi_request_fuzz PROPERTIES LABELS fuzz TIMEOUT 600)
endif()
