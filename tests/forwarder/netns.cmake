# SPDX-License-Identifier: Apache-2.0
# Forwarder integration tests in network namespaces (root).
causeway_script_test(fwd_netns_forwarding
  SCRIPT ${CMAKE_CURRENT_SOURCE_DIR}/netns_forwarding_test.sh
  ARGS $<TARGET_FILE:causeway-fwd> $<TARGET_FILE:causewayctl>
  LABELS netns SERIAL)
# WireGuard in the forwarder against wireguard-go (root, namespaces, Debian wireguard-go).
causeway_script_test(fwd_netns_tunnel_wireguard_go
  SCRIPT ${CMAKE_CURRENT_SOURCE_DIR}/netns_tunnel_wireguard_go_test.sh
  ARGS $<TARGET_FILE:causeway-fwd> $<TARGET_FILE:causewayctl>
  LABELS netns interop SERIAL)
# Two causeway-fwd PoPs, two WAN links, path group switching (root, namespaces).
causeway_script_test(fwd_netns_two_pops
  SCRIPT ${CMAKE_CURRENT_SOURCE_DIR}/netns_two_pops_test.sh
  ARGS $<TARGET_FILE:causeway-fwd> $<TARGET_FILE:causewayctl>
  LABELS netns SERIAL)
# The same with the ports on net_af_xdp (the PMD of the tunnel benchmark, bench/run-tunnel-e2e.sh).
causeway_script_test(fwd_netns_two_pops_af_xdp
  SCRIPT ${CMAKE_CURRENT_SOURCE_DIR}/netns_two_pops_test.sh
  ARGS $<TARGET_FILE:causeway-fwd> $<TARGET_FILE:causewayctl> af_xdp
  LABELS netns SERIAL)

causeway_script_test(fwd_netns_forwarding_vlan
  SCRIPT ${CMAKE_CURRENT_SOURCE_DIR}/netns_vlan_test.sh
  ARGS $<TARGET_FILE:causeway-fwd> $<TARGET_FILE:causewayctl>
  LABELS netns SERIAL)

causeway_script_test(fwd_netns_forwarding_workers
  SCRIPT ${CMAKE_CURRENT_SOURCE_DIR}/netns_workers_test.sh
  ARGS $<TARGET_FILE:causeway-fwd> $<TARGET_FILE:causewayctl>
  LABELS netns SERIAL)

# A tunnel on an 802.1Q subinterface against wireguard-go (root, namespaces, wireguard-go).
causeway_script_test(fwd_netns_tunnel_vlan
  SCRIPT ${CMAKE_CURRENT_SOURCE_DIR}/netns_tunnel_vlan_test.sh
  ARGS $<TARGET_FILE:causeway-fwd> $<TARGET_FILE:causewayctl>
  LABELS netns interop SERIAL)
# The overlay between two PoPs: tunnel mirrors (kernel ping + TCP between overlay addresses),
# SLA probes with delay/loss from impair_link.py on one WAN link (root, namespaces, tcpdump).
causeway_script_test(fwd_netns_overlay
  SCRIPT ${CMAKE_CURRENT_SOURCE_DIR}/netns_overlay_test.sh
  ARGS $<TARGET_FILE:causeway-fwd> $<TARGET_FILE:causewayctl>
  LABELS netns SERIAL)
# Two PoPs with two workers each: tunnel peers owned by one worker, packets handed off between
# workers (root, namespaces, iperf3).
causeway_script_test(fwd_netns_tunnel_workers
  SCRIPT ${CMAKE_CURRENT_SOURCE_DIR}/netns_tunnel_workers_test.sh
  ARGS $<TARGET_FILE:causeway-fwd> $<TARGET_FILE:causewayctl>
  LABELS netns SERIAL)
