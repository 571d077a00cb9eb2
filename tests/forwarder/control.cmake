# SPDX-License-Identifier: Apache-2.0
# Control socket and causewayctl tests (unit: no root, temporary UNIX sockets only).
causeway_test(control_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/control_test.cc ${CMAKE_CURRENT_LIST_DIR}/steering_codec_test.cc
          ${CMAKE_CURRENT_LIST_DIR}/nexthop_group_codec_test.cc
  LIBS causeway_fwd_control
  LABELS unit)
target_include_directories(control_test PRIVATE ${CMAKE_CURRENT_LIST_DIR})

causeway_test(control_ctl_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/control_ctl_test.cc
  LIBS causeway_ctl
  LABELS unit)
target_include_directories(control_ctl_test PRIVATE ${CMAKE_CURRENT_LIST_DIR})
target_compile_definitions(control_ctl_test PRIVATE
  CAUSEWAY_CTL_BINARY="$<TARGET_FILE:causewayctl>")
add_dependencies(control_ctl_test causewayctl)
