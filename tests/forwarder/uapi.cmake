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
