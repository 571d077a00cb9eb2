# SPDX-License-Identifier: Apache-2.0
# Forwarder integration tests in network namespaces (root).
add_test(NAME fwd_netns_forwarding
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/netns_forwarding_test.sh
          $<TARGET_FILE:causeway-fwd> $<TARGET_FILE:causewayctl>)
set_tests_properties(fwd_netns_forwarding PROPERTIES LABELS "netns" TIMEOUT 300 RUN_SERIAL TRUE)
# WireGuard in the forwarder against wireguard-go (root, namespaces, Debian wireguard-go).
add_test(NAME fwd_netns_tunnel_wireguard_go
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/netns_tunnel_wireguard_go_test.sh
          $<TARGET_FILE:causeway-fwd> $<TARGET_FILE:causewayctl>)
set_tests_properties(fwd_netns_tunnel_wireguard_go PROPERTIES LABELS "netns;interop" TIMEOUT 300
  RUN_SERIAL TRUE)
# Two causeway-fwd PoPs, two WAN links, path group switching (root, namespaces).
add_test(NAME fwd_netns_two_pops
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/netns_two_pops_test.sh
          $<TARGET_FILE:causeway-fwd> $<TARGET_FILE:causewayctl>)
set_tests_properties(fwd_netns_two_pops PROPERTIES LABELS "netns" TIMEOUT 300 RUN_SERIAL TRUE)

add_test(NAME fwd_netns_forwarding_vlan
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/netns_vlan_test.sh
          $<TARGET_FILE:causeway-fwd> $<TARGET_FILE:causewayctl>)
set_tests_properties(fwd_netns_forwarding_vlan PROPERTIES LABELS "netns" TIMEOUT 300 RUN_SERIAL TRUE)

add_test(NAME fwd_netns_forwarding_workers
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/netns_workers_test.sh
          $<TARGET_FILE:causeway-fwd> $<TARGET_FILE:causewayctl>)
set_tests_properties(fwd_netns_forwarding_workers PROPERTIES LABELS "netns" TIMEOUT 300 RUN_SERIAL TRUE)

# A tunnel on an 802.1Q subinterface against wireguard-go (root, namespaces, wireguard-go).
add_test(NAME fwd_netns_tunnel_vlan
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/netns_tunnel_vlan_test.sh
          $<TARGET_FILE:causeway-fwd> $<TARGET_FILE:causewayctl>)
set_tests_properties(fwd_netns_tunnel_vlan PROPERTIES LABELS "netns;interop" TIMEOUT 300
  RUN_SERIAL TRUE)
# The overlay between two PoPs: tunnel mirrors (kernel ping + TCP between overlay addresses),
# SLA probes with netem delay/loss on one WAN link (root, namespaces, tcpdump, tc).
add_test(NAME fwd_netns_overlay
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/netns_overlay_test.sh
          $<TARGET_FILE:causeway-fwd> $<TARGET_FILE:causewayctl>)
set_tests_properties(fwd_netns_overlay PROPERTIES LABELS "netns" TIMEOUT 300 RUN_SERIAL TRUE)
# Two PoPs with two workers each: tunnel peers owned by one worker, packets handed off between
# workers (root, namespaces, iperf3).
add_test(NAME fwd_netns_tunnel_workers
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/netns_tunnel_workers_test.sh
          $<TARGET_FILE:causeway-fwd> $<TARGET_FILE:causewayctl>)
set_tests_properties(fwd_netns_tunnel_workers PROPERTIES LABELS "netns" TIMEOUT 300 RUN_SERIAL TRUE)
