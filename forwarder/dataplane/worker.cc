// SPDX-License-Identifier: Apache-2.0
// The worker poll loop and the one function that lists the stage order (process_burst).
// See worker.h for ownership; docs/life-of-a-packet.md for the walk-through.
#include "worker.h"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <sys/eventfd.h>

#include "packet_meta.h"
#include "stage_helpers.h"
#include "stages.h"
#include "tunnel_stages.h"

namespace causeway::fwd {
namespace {

constexpr unsigned kIdleRoundsBeforeSleep = 64;
constexpr std::uint64_t kDrainIntervalUs = 100;

void hand_punts_to_control(WorkerContext& ctx) noexcept {
  const DataplaneShared& sh = *ctx.shared;
  unsigned sent = rte_ring_mp_enqueue_burst(sh.punt_ring, reinterpret_cast<void**>(ctx.punt),
                                            ctx.n_punt, nullptr);
  ctx.counters->punted.add(sent);
  if (sent < ctx.n_punt) {
    ctx.counters->count_drop(DropReason::punt_queue_full, ctx.n_punt - sent);
    rte_pktmbuf_free_bulk(ctx.punt + sent, ctx.n_punt - sent);
  }
  ctx.n_punt = 0;
  if (sent) wake_control(sh);
}

// The stages after tunnel_input, and what a burst leaves for the control thread and the bin.
void route_and_send(WorkerContext& ctx, std::span<rte_mbuf*> s) noexcept {
  s = s.first(fib_lookup(ctx, s));
  s = s.first(next_hop(ctx, s));
  tx_enqueue_burst(ctx, s, ctx.burst.out_port, ctx.burst.len);
  if (ctx.n_tunnel_out) tunnel_output(ctx);  // next_hop's path-group packets

  if (ctx.n_punt) hand_punts_to_control(ctx);
  if (ctx.n_dropped) {
    rte_pktmbuf_free_bulk(ctx.dropped, ctx.n_dropped);
    ctx.n_dropped = 0;
  }
}

}  // namespace

void process_burst(WorkerContext& ctx, std::uint16_t in_port, rte_mbuf** pkts,
                   std::uint16_t n) noexcept {
  ctx.in_port = in_port;
  std::span<rte_mbuf*> s(pkts, n);
  s = s.first(input(ctx, s));
  s = s.first(tunnel_input(ctx, s));  // returns at once for a burst input marked nothing in
  route_and_send(ctx, s);
}

unsigned process_handoffs(WorkerContext& ctx) noexcept {
  const TunnelShared& ts = *ctx.shared->tunnels;
  rte_mbuf* pkts[kBurstSize];
  // Datagrams to decrypt: input ran on the worker that received them; in runs of one port.
  const unsigned nr = rte_ring_sc_dequeue_burst(
      ts.handoff_rx[ctx.id], reinterpret_cast<void**>(pkts), kBurstSize, nullptr);
  for (unsigned i = 0; i < nr;) {
    const std::uint16_t port = meta(pkts[i]).in_port;
    unsigned j = i + 1;
    while (j < nr && meta(pkts[j]).in_port == port) ++j;
    ctx.in_port = port;
    std::span<rte_mbuf*> s(pkts + i, j - i);
    route_and_send(ctx, s.first(tunnel_input_handed_off(ctx, s)));
    i = j;
  }
  // Inner packets to encrypt: their member is chosen and their TTL decremented.
  const unsigned nt = rte_ring_sc_dequeue_burst(
      ts.handoff_tx[ctx.id], reinterpret_cast<void**>(pkts), kBurstSize, nullptr);
  if (nt) {
    tunnel_output_handed_off(ctx, std::span(pkts, nt));
    route_and_send(ctx, {});
  }
  ctx.counters->handoff_received.add(nr + nt);
  return nr + nt;
}

void tx_flush(WorkerContext& ctx, std::uint16_t port) noexcept {
  TxBuffer& b = ctx.tx[port];
  if (b.n == 0) return;
  std::uint64_t bytes = b.bytes;
  const std::uint16_t sent = rte_eth_tx_burst(ctx.shared->ports[port].dpdk_port,
                                              static_cast<std::uint16_t>(ctx.id), b.pkts, b.n);
  PortCounters& pc = ctx.counters->port[port];
  if (sent < b.n) {
    for (std::uint16_t i = sent; i < b.n; ++i) bytes -= b.pkts[i]->pkt_len;
    pc.tx_dropped.add(b.n - sent);
    ctx.counters->count_drop(DropReason::tx_full, b.n - sent);
    rte_pktmbuf_free_bulk(b.pkts + sent, b.n - sent);
  }
  pc.tx_packets.add(sent);
  pc.tx_bytes.add(bytes);
  b.n = 0;
  b.bytes = 0;
}

void tx_enqueue(WorkerContext& ctx, std::uint16_t port, rte_mbuf* m) noexcept {
  TxBuffer& b = ctx.tx[port];
  const std::uint16_t n = b.n;
  b.pkts[n] = m;
  b.bytes += m->pkt_len;
  b.n = static_cast<std::uint16_t>(n + 1);
  if (n + 1 == kTxBufferSize) tx_flush(ctx, port);
}

bool tx_enqueue_interface(WorkerContext& ctx, std::uint16_t ifx, rte_mbuf* m) noexcept {
  const DataplanePort& p = ctx.shared->ports[ifx];
  if (p.vlan_tci != 0 && !push_vlan_tag(m, p.vlan_tci)) return false;
  tx_enqueue(ctx, p.tx_port, m);
  return true;
}

void tx_enqueue_burst(WorkerContext& ctx, std::span<rte_mbuf*> pkts, const std::uint16_t* ports,
                      const std::uint16_t* lens) noexcept {
  std::size_t i = 0;
  while (i < pkts.size()) {
    const std::uint16_t port = ports[i];
    TxBuffer& b = ctx.tx[port];
    std::uint16_t n = b.n;
    std::uint64_t bytes = b.bytes;
    for (; i < pkts.size() && ports[i] == port; ++i) {
      b.pkts[n++] = pkts[i];
      bytes += lens[i];
      if (n == kTxBufferSize) {
        b.n = n;
        b.bytes = bytes;
        tx_flush(ctx, port);
        n = 0;
        bytes = 0;
      }
    }
    b.n = n;
    b.bytes = bytes;
  }
}

void tx_flush_all(WorkerContext& ctx) noexcept {
  for (unsigned p = 0; p < ctx.shared->n_ports; ++p) tx_flush(ctx, static_cast<std::uint16_t>(p));
}

int worker_main(void* arg) {
  auto& ctx = *static_cast<WorkerContext*>(arg);
  const DataplaneShared& sh = *ctx.shared;
  WorkerCounters& wc = *ctx.counters;
  rte_rcu_qsbr_thread_register(sh.qsbr, ctx.id);
  rte_rcu_qsbr_thread_online(sh.qsbr, ctx.id);

  const std::uint64_t drain_tsc = rte_get_tsc_hz() * kDrainIntervalUs / 1000000;
  // One TSC read per poll round: a round runs from the end of the previous one to `now`.
  std::uint64_t round_start = rte_rdtsc();
  std::uint64_t last_drain = round_start;
  unsigned idle_rounds = 0;
  std::uint32_t sleep_us = 1;
  rte_mbuf* pkts[kBurstSize];

  while (!sh.quit->load(std::memory_order_relaxed)) {
    ctx.fib = sh.fib->load(std::memory_order_acquire);
    unsigned total = 0;
    for (unsigned q = 0; q < ctx.n_rxq; ++q) {
      const RxQueueRef rq = ctx.rxq[q];
      const std::uint16_t n =
          rte_eth_rx_burst(sh.ports[rq.port].dpdk_port, rq.queue, pkts, kBurstSize);
      if (n == 0) continue;
      process_burst(ctx, rq.port, pkts, n);
      total += n;
    }
    // Tunnel packets other workers handed to this one, the owner of their peers.
    if (sh.tunnels != nullptr && sh.tunnels->n_workers > 1) total += process_handoffs(ctx);
    // Packets the control thread finished (resolved neighbours, its own replies).
    const unsigned ni = rte_ring_sc_dequeue_burst(ctx.inject_ring, reinterpret_cast<void**>(pkts),
                                                  kBurstSize, nullptr);
    for (unsigned i = 0; i < ni; ++i) {
      if (!tx_enqueue_interface(ctx, meta(pkts[i]).out_port, pkts[i])) {
        wc.count_drop(DropReason::no_buffer);
        rte_pktmbuf_free(pkts[i]);
      }
    }
    total += ni;

    const std::uint64_t now = rte_rdtsc();
    if (total == 0 || now - last_drain >= drain_tsc) {
      tx_flush_all(ctx);
      last_drain = now;
    }
    rte_rcu_qsbr_quiescent(sh.qsbr, ctx.id);

    const std::uint64_t round_cycles = now - round_start;
    round_start = now;
    if (total) {
      wc.busy_polls.add();
      wc.busy_cycles.add(round_cycles);
      idle_rounds = 0;
      sleep_us = 1;
      continue;
    }
    wc.idle_polls.add();
    if (sh.idle_sleep_max_us == 0 || ++idle_rounds < kIdleRoundsBeforeSleep) continue;
    // Adaptive back-off: nothing is buffered (flushed above) and no FIB copy is held.
    wc.sleeps.add();
    rte_rcu_qsbr_thread_offline(sh.qsbr, ctx.id);
    rte_delay_us_sleep(sleep_us);
    rte_rcu_qsbr_thread_online(sh.qsbr, ctx.id);
    sleep_us = std::min(sleep_us * 2, sh.idle_sleep_max_us);
    round_start = rte_rdtsc();
  }
  tx_flush_all(ctx);
  rte_rcu_qsbr_thread_offline(sh.qsbr, ctx.id);
  rte_rcu_qsbr_thread_unregister(sh.qsbr, ctx.id);
  return 0;
}

}  // namespace causeway::fwd
