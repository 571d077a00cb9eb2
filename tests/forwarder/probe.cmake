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
