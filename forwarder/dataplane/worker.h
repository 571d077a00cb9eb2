// SPDX-License-Identifier: Apache-2.0
// Worker lcores: what each one owns and the state it shares read-only with the others.
//
// A worker polls its rx queues (one per port, chosen by RSS), runs each burst through the
// stages (process_burst), buffers the survivors per output port on its own tx queue and
// drains them at least every 100 us. Packets it cannot forward by itself are punted to the
// control thread through one multi-producer ring; packets the control thread wants sent come
// back through this worker's own inject ring. Idle workers back off (sleep, doubling up to
// idle_sleep_max_us) and go RCU-offline while they sleep.
#pragma once

#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include <atomic>
#include <cstdint>
#include <span>

#include "counters.h"
#include "fib.h"
#include "next_hop.h"
#include "wire.h"

namespace causeway::fwd {

inline constexpr unsigned kBurstSize = 32;
inline constexpr unsigned kTxBufferSize = 64;
static_assert(kBurstSize <= 32, "BurstState::tunnel_candidates is one bit per packet");

struct TunnelShared;  // tunnel_stages.h
struct TunnelWorker;

inline constexpr std::uint16_t kNoInterface = 0xffff;
inline constexpr unsigned kVlanIds = 4096;

// One L3 interface, indexed by interface index (what next hops, counters, punts and tx
// buffers call "port"): a physical port, or an 802.1Q subinterface of one. A subinterface
// has no queues of its own: its packets are received on its physical port, tagged, and sent
// on the physical port's tx buffer (`tx_port`) with the tag pushed.
struct DataplanePort {
  std::uint16_t dpdk_port = 0;  // of the physical port
  std::uint16_t mtu = 1500;
  std::uint8_t mac[6] = {};
  std::uint16_t tx_port = 0;   // interface index of the physical port (itself if physical)
  std::uint16_t vlan_tci = 0;  // subinterface: the tag to push (VLAN id, PCP 0); 0 = none
  // Physical port: VLAN id -> interface index (kNoInterface: unknown id; entry 0, priority
  // tagged frames, is the port itself). Built before workers start, read-only afterwards.
  const std::uint16_t* vlan_to_if = nullptr;
};

// Built by the runtime before workers start; read-only for workers afterwards, except the
// objects it points to, whose ownership is described where they are defined.
struct DataplaneShared {
  unsigned n_ports = 0;
  DataplanePort ports[kMaxPorts];
  NextHop* next_hops = nullptr;  // control thread writes, see next_hop.h
  std::uint32_t n_next_hops = 0;
  // The published FIB copy: the control thread stores (release) after filling a copy;
  // workers load (acquire) once per poll round. Reclamation through `qsbr`.
  std::atomic<FibCopy*>* fib = nullptr;
  // Next-hop groups by id (kMaxNextHopGroups slots; nullptr = none): the control thread stores
  // (release) a new group, workers load (acquire) per packet of a group route. next_hop.h.
  const std::atomic<const NextHopGroup*>* nh_groups = nullptr;
  rte_rcu_qsbr* qsbr = nullptr;
  // Worker -> control exception packets (multi-producer, single-consumer).
  rte_ring* punt_ring = nullptr;
  // Set by the control thread when it waits for punts; the worker that clears it writes to
  // punt_eventfd to wake it. So a burst of punts costs one syscall, not one per packet.
  std::atomic<bool>* punt_wakeup_armed = nullptr;
  int punt_eventfd = -1;
  std::atomic<bool>* quit = nullptr;       // set by the control thread at shutdown
  const TunnelShared* tunnels = nullptr;   // WireGuard listeners and path groups (or none)
  std::uint32_t idle_sleep_max_us = 1000;  // 0 = busy-poll
};

struct RxQueueRef {
  std::uint16_t port;   // our port index
  std::uint16_t queue;  // rx queue id on that port
};

struct TxBuffer {
  std::uint16_t n = 0;
  std::uint64_t bytes = 0;  // sum of pkt_len of the buffered packets
  rte_mbuf* pkts[kTxBufferSize];
};

// What the stages of one burst hand each other per packet, index-aligned with the span of
// survivors each stage returns (stages.h). What input reads of a packet it keeps here, so that
// the later stages load neither the frame nor the mbuf again (each walk over the burst that
// does costs cache and TLB misses: next_hop's TTL load and tx's pkt_len load were a third of
// their stages' time); next_hop only writes the frame.
struct BurstState {
  std::uint16_t n_v6 = 0;  // IPv6 packets among input's survivors (0: all IPv4)
  // input -> tunnel_input: bit i set if packet i is UDP to a port a tunnel listens on at the
  // receiving interface (0 for every burst when no tunnel is configured: tunnel_input returns at
  // once).
  std::uint32_t tunnel_candidates = 0;
  std::uint32_t dst4[kBurstSize];      // input -> fib_lookup: IPv4 destination, host order
  std::uint32_t nh[kBurstSize];        // fib_lookup -> next_hop: NextHopId value
  std::uint16_t out_port[kBurstSize];  // next_hop -> tx: tx buffer (physical port index)
  std::uint8_t* frame[kBurstSize];     // input -> next_hop: the Ethernet header (untagged)
  // input -> next_hop -> tx: frame length (single segment: data_len == pkt_len); next_hop
  // adds an 802.1Q tag it pushes.
  std::uint16_t len[kBurstSize];
  std::uint8_t family[kBurstSize];  // input -> fib_lookup, next_hop: 4 or 6
  // input -> next_hop: IPv4 header bytes 8..11 (TTL, protocol, header checksum), host order.
  std::uint32_t ttl_word[kBurstSize];

  // Packet `from`'s values become packet `to`'s (a stage that drops packets compacts).
  void move(unsigned to, unsigned from) noexcept {
    dst4[to] = dst4[from];
    frame[to] = frame[from];
    len[to] = len[from];
    family[to] = family[from];
    ttl_word[to] = ttl_word[from];
  }
  // Packet i is the IPv4 (v4) or IPv6 frame at `eth`, `frame_len` bytes, its header checked.
  void set(unsigned i, std::uint8_t* eth, std::uint16_t frame_len, bool v4) noexcept {
    frame[i] = eth;
    len[i] = frame_len;
    family[i] = v4 ? 4 : 6;
    dst4[i] = v4 ? wire::load_be32(eth + wire::kEthHeaderLen + wire::kIp4OffDst) : 0;
    ttl_word[i] = v4 ? wire::load_be32(eth + wire::kEthHeaderLen + wire::kIp4OffTtl) : 0;
  }
};

struct alignas(64) WorkerContext {
  unsigned id = 0;  // worker index == RCU thread id == tx queue on every port
  const DataplaneShared* shared = nullptr;
  WorkerCounters* counters = nullptr;
  rte_ring* inject_ring = nullptr;  // control -> this worker (single producer/consumer)
  RxQueueRef rxq[kMaxPorts];
  unsigned n_rxq = 0;

  // Per poll round / per burst state.
  FibCopy* fib = nullptr;
  std::uint16_t in_port = 0;
  std::uint16_t n_punt = 0;
  std::uint16_t n_dropped = 0;
  rte_mbuf* punt[kBurstSize];
  rte_mbuf* dropped[kBurstSize];
  BurstState burst;
  TxBuffer tx[kMaxPorts];
  // Packets routed into a path group this burst (next_hop stage -> tunnel_output).
  std::uint16_t n_tunnel_out = 0;
  rte_mbuf* tunnel_out[kBurstSize];
  std::uint32_t tunnel_out_nh[kBurstSize];  // NextHopId value (the path group) of each
  TunnelWorker* tunnel = nullptr;           // this worker's tunnel scratch (tunnel_stages.h)
  // The burst was handed off by another worker to this one, the owner of its tunnel peers:
  // tunnel_input decrypts without looking the owner up again.
  bool handed_off = false;
};

// Runs one received burst (all from port `in_port`) through every stage; survivors end in
// the tx buffers, punts in the punt ring, drops are counted and freed.
void process_burst(WorkerContext& ctx, std::uint16_t in_port, rte_mbuf** pkts,
                   std::uint16_t n) noexcept;

// Takes what other workers handed to this one (the owner of their tunnel peers,
// tunnel_stages.h) from its two hand-off rings and runs it through the remaining stages;
// returns how many packets it took.
unsigned process_handoffs(WorkerContext& ctx) noexcept;

// Queue one packet for transmission on `port`; flushes when the buffer fills.
void tx_enqueue(WorkerContext& ctx, std::uint16_t port, rte_mbuf* m) noexcept;
// Queue a finished frame (Ethernet header written, untagged) for interface `ifx`: pushes the
// subinterface's 802.1Q tag, then queues it on the physical port. False (not queued, not
// freed) if the mbuf has no headroom for the tag.
bool tx_enqueue_interface(WorkerContext& ctx, std::uint16_t ifx, rte_mbuf* m) noexcept;
// Queue pkts[i] (lens[i] bytes) on ports[i], each run of one port copied at once.
void tx_enqueue_burst(WorkerContext& ctx, std::span<rte_mbuf*> pkts, const std::uint16_t* ports,
                      const std::uint16_t* lens) noexcept;
void tx_flush(WorkerContext& ctx, std::uint16_t port) noexcept;
void tx_flush_all(WorkerContext& ctx) noexcept;

// The lcore entry point (rte_eal_remote_launch); `arg` is a WorkerContext*.
int worker_main(void* arg);

}  // namespace causeway::fwd
