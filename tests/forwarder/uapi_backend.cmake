# SPDX-License-Identifier: Apache-2.0
# The UAPI backend of a forwarder tunnel over a real tun::Device (no DPDK, no root).
causeway_test(fwd_uapi_backend_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/uapi_backend_test.cc
  LIBS causeway_fwd_uapi_backend
  LABELS unit)
