# SPDX-License-Identifier: Apache-2.0
# WireGuard core benchmarks (included by bench/CMakeLists.txt). Each runs beside its reference
# in the same binary: raw EVP ChaCha20-Poly1305 for the data path, the X25519 rate for
# handshakes. Run them with bench/run-tunnels.sh.
add_executable(tun_bench
  ${CMAKE_CURRENT_LIST_DIR}/tunnels/datapath_bench.cc
  ${CMAKE_CURRENT_LIST_DIR}/tunnels/handshake_bench.cc)
target_link_libraries(tun_bench PRIVATE causeway_tun benchmark::benchmark_main)
target_include_directories(tun_bench PRIVATE ${PROJECT_SOURCE_DIR}/tunnels)

# Issue 5: one worker's process_burst with a WireGuard tunnel (encrypt-and-forward and
# decrypt-and-forward) beside the raw cipher rate, in one binary (EAL --no-huge, no devices).
add_executable(fwd_tunnel_bench ${CMAKE_CURRENT_LIST_DIR}/tunnels/forward_bench.cc)
target_link_libraries(fwd_tunnel_bench PRIVATE causeway_fwd_runtime benchmark::benchmark_main)
target_include_directories(fwd_tunnel_bench PRIVATE ${PROJECT_SOURCE_DIR}/tests/forwarder)
