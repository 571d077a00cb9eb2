# SPDX-License-Identifier: Apache-2.0
causeway_test(fwd_dataplane_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/dataplane_test.cc
  LIBS causeway_fwd_runtime
  LABELS dpdk)
target_include_directories(fwd_dataplane_test PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
