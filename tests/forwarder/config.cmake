# SPDX-License-Identifier: Apache-2.0
# forwarder/config: YAML loader and validation (no DPDK, no root).
causeway_test(config_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/config_test.cc
  LIBS causeway_fwd_config
  LABELS unit)
