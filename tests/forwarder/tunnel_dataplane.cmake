# SPDX-License-Identifier: Apache-2.0
causeway_test(fwd_tunnel_dataplane_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/tunnel_dataplane_test.cc
  LIBS causeway_fwd_runtime
  LABELS dpdk)

# The traffic classifier of path-group routes (no EAL: pure matching on bytes).
causeway_test(fwd_traffic_class_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/traffic_class_test.cc
  LIBS causeway_fwd_runtime
  LABELS unit)
