# SPDX-License-Identifier: Apache-2.0
# FPM core benchmarks (included by bench/CMakeLists.txt): routes/s through the whole core
# (framer + validation + libnl + table) beside libnl's rtnl_route_parse alone, the
# reference, in the same binary. Run: bench/run-fpm.sh.
add_executable(rt_fpm_bench ${CMAKE_CURRENT_LIST_DIR}/routing/fpm_bench.cc)
target_link_libraries(rt_fpm_bench PRIVATE causeway_rt_fpm benchmark::benchmark_main)
target_include_directories(rt_fpm_bench PRIVATE ${PROJECT_SOURCE_DIR}/tests/routing/fpm)
