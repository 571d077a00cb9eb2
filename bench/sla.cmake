# SPDX-License-Identifier: Apache-2.0
# SLA engine benchmark (included by bench/CMakeLists.txt): cost per probe event and per decision
# with 1000 paths, beside a floor reference (hash lookup + ring push) in the same binary.
# Run: nice build/bench/sla_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
add_executable(sla_bench ${CMAKE_CURRENT_LIST_DIR}/sla/engine_bench.cc)
target_link_libraries(sla_bench PRIVATE causeway_rt_sla benchmark::benchmark_main)

# Failover times in simulated time (median/max over start offsets), no wall clock involved.
add_executable(sla_failover_sim ${CMAKE_CURRENT_LIST_DIR}/sla/failover_sim.cc)
target_link_libraries(sla_failover_sim PRIVATE causeway_rt_sla)
