# SPDX-License-Identifier: Apache-2.0
# Forwarding benchmark (included by bench/CMakeLists.txt): 64-byte IPv4 over a 1M-route FIB
# through causeway-fwd, beside the I/O ceiling of the same devices measured in the same run.
# bench/run-forwarding.sh builds these and runs them; docs/benchmarks.md has the figures.
#   cw_pcap_gen      the input pcap (random routed destinations, replayed by net_pcap)
#   cw_route_loader  loads and times the FIB over the control socket; reads the rates
#   cw_io_ceiling    testpmd's io forwarding mode, the reference (testpmd is not in Debian 12)
#   cw_fib_insert_bench  rte_fib fill time, random vs sorted order (evidence for the FIB load)
pkg_check_modules(PCAP REQUIRED IMPORTED_TARGET libpcap)

add_executable(cw_pcap_gen ${CMAKE_CURRENT_LIST_DIR}/forwarding/pcap_gen.cc)
target_link_libraries(cw_pcap_gen PRIVATE causeway_common PkgConfig::PCAP CLI11::CLI11)

add_executable(cw_route_loader ${CMAKE_CURRENT_LIST_DIR}/forwarding/route_loader.cc)
target_link_libraries(cw_route_loader PRIVATE causeway_fwd_control CLI11::CLI11)

add_executable(cw_io_ceiling ${CMAKE_CURRENT_LIST_DIR}/forwarding/io_ceiling.cc)
target_link_libraries(cw_io_ceiling PRIVATE PkgConfig::DPDK)

# Profiling aid for the FIB load target: one rte_fib copy filled in random vs sorted order.
add_executable(cw_fib_insert_bench ${CMAKE_CURRENT_LIST_DIR}/forwarding/fib_insert_bench.cc)
target_link_libraries(cw_fib_insert_bench PRIVATE causeway_common PkgConfig::DPDK)

# Traffic classification of path-group packets, per packet, beside the flow hash it joins.
# Run: nice build/bench/traffic_class_bench --benchmark_repetitions=5
#        --benchmark_report_aggregates_only=true
add_executable(traffic_class_bench ${CMAKE_CURRENT_LIST_DIR}/forwarding/traffic_class_bench.cc)
target_link_libraries(traffic_class_bench PRIVATE causeway_fwd_runtime benchmark::benchmark)
