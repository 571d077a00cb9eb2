// SPDX-License-Identifier: Apache-2.0
// cw_io_ceiling: the I/O ceiling of the forwarding benchmark (bench/run-forwarding.sh), i.e.
// how many packets per second one lcore can move between the benchmark's virtual devices
// when it does nothing to them. causeway-fwd's rate is reported as a fraction of this one,
// measured in the same run, on the same devices, with the same EAL options.
//
// Why this exists: the issue names `dpdk-testpmd --forward-mode=io` as the reference, but
// Debian 12 does not package dpdk-testpmd (the `dpdk` package ships only the devbind,
// hugepages and pmdinfo scripts, and no other package has it). So this program does what
// testpmd's io engine does (DPDK app/test-pmd/iofwd.c, pkt_burst_io_forward(): receive a
// burst on the stream's rx port, transmit the same mbufs on its tx port, free what the tx
// queue refused; no access to packet data), with testpmd's defaults for this set-up: bursts
// of 32, one forwarding lcore, ports paired 0 <-> 1 (the 1 -> 0 stream polls port 1, which
// the benchmark opens with no-rx=1, exactly as causeway-fwd's worker polls it).
//
// Usage: cw_io_ceiling <EAL arguments> -- [--seconds S] [--warmup-seconds W] [--mbufs N] ...
// The EAL arguments are those causeway-fwd logged for the same run (its "EAL:" line): the
// first lcore is the main one (timing and reporting), the second forwards.
// Output: "io_ceiling key=value ..." lines for the script: the rate over the window, and per
// CPU-second the forwarding thread really ran (the figure other load on the machine does not
// move; compare it with cw_route_loader's mpps_per_worker_cpu).
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include <pthread.h>
#include <time.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

namespace {

constexpr std::uint16_t kMaxBurst = 512;

struct Options {
  double seconds = 10;
  double warmup = 2;
  unsigned mbufs = 32768;
  unsigned mbuf_cache = 256;  // causeway-fwd's pool uses the same
  std::uint16_t rx_desc = 1024;
  std::uint16_t tx_desc = 1024;
  std::uint16_t burst = 32;  // testpmd's default --burst
};

// One forwarding stream, as testpmd's struct fwd_stream: rx port -> tx port, queue 0.
// The counters are written by the forwarding lcore only and read by the main lcore.
struct alignas(64) Stream {
  std::uint16_t rx_port = 0;
  std::uint16_t tx_port = 0;
  std::atomic<std::uint64_t> rx_packets{0};
  std::atomic<std::uint64_t> tx_packets{0};
  std::atomic<std::uint64_t> dropped{0};  // refused by the tx queue, freed
};

struct Shared {
  Stream streams[2];
  unsigned n_streams = 0;
  std::uint16_t burst = 32;
  std::atomic<bool> quit{false};  // written by the main lcore (or a signal), read by the loop
  // The forwarding thread's CPU-time clock, published by that thread before it forwards.
  std::atomic<bool> clock_ready{false};
  clockid_t fwd_cpu_clock{};
};

Shared g_shared;

void on_signal(int) {
  g_shared.quit.store(true, std::memory_order_relaxed);
}

void bump(std::atomic<std::uint64_t>& c, std::uint64_t n) {
  c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);  // single writer
}

int forward_loop(void* arg) {
  auto& sh = *static_cast<Shared*>(arg);
  rte_mbuf* pkts[kMaxBurst];
  if (pthread_getcpuclockid(pthread_self(), &sh.fwd_cpu_clock) == 0) {
    sh.clock_ready.store(true, std::memory_order_release);
  }
  while (!sh.quit.load(std::memory_order_relaxed)) {
    for (unsigned s = 0; s < sh.n_streams; ++s) {
      Stream& fs = sh.streams[s];
      const std::uint16_t nb_rx = rte_eth_rx_burst(fs.rx_port, 0, pkts, sh.burst);
      if (nb_rx == 0) continue;
      bump(fs.rx_packets, nb_rx);
      const std::uint16_t nb_tx = rte_eth_tx_burst(fs.tx_port, 0, pkts, nb_rx);
      bump(fs.tx_packets, nb_tx);
      if (nb_tx < nb_rx) {
        bump(fs.dropped, nb_rx - nb_tx);
        rte_pktmbuf_free_bulk(pkts + nb_tx, nb_rx - nb_tx);
      }
    }
  }
  return 0;
}

bool parse_app_args(int argc, char** argv, Options& o) {
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (a == "--seconds" && (v = value())) {
      o.seconds = std::atof(v);
    } else if (a == "--warmup-seconds" && (v = value())) {
      o.warmup = std::atof(v);
    } else if (a == "--mbufs" && (v = value())) {
      o.mbufs = static_cast<unsigned>(std::atol(v));
    } else if (a == "--rx-desc" && (v = value())) {
      o.rx_desc = static_cast<std::uint16_t>(std::atoi(v));
    } else if (a == "--tx-desc" && (v = value())) {
      o.tx_desc = static_cast<std::uint16_t>(std::atoi(v));
    } else if (a == "--burst" && (v = value())) {
      o.burst = static_cast<std::uint16_t>(std::atoi(v));
    } else {
      std::fprintf(stderr, "cw_io_ceiling: unknown or incomplete option %s\n", a.c_str());
      return false;
    }
  }
  return o.seconds > 0 && o.warmup >= 0 && o.burst > 0 && o.burst <= kMaxBurst && o.mbufs >= 1024;
}

int setup_port(std::uint16_t port, rte_mempool* pool, const Options& o) {
  rte_eth_conf conf{};
  if (int rc = rte_eth_dev_configure(port, 1, 1, &conf); rc != 0) return rc;
  std::uint16_t rxd = o.rx_desc, txd = o.tx_desc;
  rte_eth_dev_adjust_nb_rx_tx_desc(port, &rxd, &txd);
  const int sock = rte_eth_dev_socket_id(port) < 0 ? static_cast<int>(rte_socket_id())
                                                   : rte_eth_dev_socket_id(port);
  if (int rc = rte_eth_rx_queue_setup(port, 0, rxd, static_cast<unsigned>(sock), nullptr, pool);
      rc != 0) {
    return rc;
  }
  if (int rc = rte_eth_tx_queue_setup(port, 0, txd, static_cast<unsigned>(sock), nullptr);
      rc != 0) {
    return rc;
  }
  return rte_eth_dev_start(port);
}

struct Totals {
  std::uint64_t rx = 0, tx = 0, dropped = 0, tsc = 0;
  double cpu_s = 0;  // CPU time the forwarding thread ran; 0 if unknown
};

Totals snapshot(const Shared& sh) {
  Totals t;
  t.tsc = rte_rdtsc();
  timespec ts{};
  if (sh.clock_ready.load(std::memory_order_acquire) && clock_gettime(sh.fwd_cpu_clock, &ts) == 0) {
    t.cpu_s = static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
  }
  for (unsigned s = 0; s < sh.n_streams; ++s) {
    t.rx += sh.streams[s].rx_packets.load(std::memory_order_relaxed);
    t.tx += sh.streams[s].tx_packets.load(std::memory_order_relaxed);
    t.dropped += sh.streams[s].dropped.load(std::memory_order_relaxed);
  }
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  const int eal_used = rte_eal_init(argc, argv);
  if (eal_used < 0) {
    std::fprintf(stderr, "cw_io_ceiling: EAL initialisation failed: %s\n", rte_strerror(rte_errno));
    return 1;
  }
  Options o;
  // rte_eal_init consumed argv[1..eal_used-1] and the "--"; the rest are ours.
  if (!parse_app_args(argc - eal_used - 1, argv + eal_used + 1, o)) {
    std::fprintf(stderr,
                 "usage: cw_io_ceiling <EAL args> -- [--seconds S] [--warmup-seconds W] "
                 "[--mbufs N] [--rx-desc N] [--tx-desc N] [--burst N]\n");
    rte_eal_cleanup();
    return 2;
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);

  if (rte_eth_dev_count_avail() != 2) {
    std::fprintf(stderr, "cw_io_ceiling: expected 2 ports, EAL has %u\n",
                 rte_eth_dev_count_avail());
    rte_eal_cleanup();
    return 1;
  }
  const unsigned fwd_lcore = rte_get_next_lcore(rte_get_main_lcore(), 1, 0);
  if (fwd_lcore >= RTE_MAX_LCORE) {
    std::fprintf(stderr, "cw_io_ceiling: the EAL core list needs a second lcore to forward on\n");
    rte_eal_cleanup();
    return 1;
  }
  rte_mempool* pool =
      rte_pktmbuf_pool_create("cw_io_pkts", o.mbufs, o.mbuf_cache, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                              static_cast<int>(rte_socket_id()));
  if (!pool) {
    std::fprintf(stderr, "cw_io_ceiling: cannot create the mbuf pool: %s\n",
                 rte_strerror(rte_errno));
    rte_eal_cleanup();
    return 1;
  }
  std::uint16_t ports[2];
  unsigned n = 0;
  std::uint16_t pid;
  RTE_ETH_FOREACH_DEV(pid) ports[n++] = pid;
  for (std::uint16_t p : ports) {
    if (int rc = setup_port(p, pool, o); rc != 0) {
      std::fprintf(stderr, "cw_io_ceiling: port %u: %s\n", p, rte_strerror(-rc));
      rte_eal_cleanup();
      return 1;
    }
  }
  g_shared.burst = o.burst;
  g_shared.n_streams = 2;
  g_shared.streams[0].rx_port = ports[0];
  g_shared.streams[0].tx_port = ports[1];
  g_shared.streams[1].rx_port = ports[1];
  g_shared.streams[1].tx_port = ports[0];

  rte_eal_remote_launch(forward_loop, &g_shared, fwd_lcore);
  std::this_thread::sleep_for(std::chrono::duration<double>(o.warmup));
  const Totals a = snapshot(g_shared);
  const auto t0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(o.seconds));
  const Totals b = snapshot(g_shared);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const bool interrupted = g_shared.quit.exchange(true);
  rte_eal_wait_lcore(fwd_lcore);

  const std::uint64_t tx = b.tx - a.tx;
  const double tsc_hz = static_cast<double>(rte_get_tsc_hz());
  std::printf(
      "io_ceiling fwd_lcore=%u burst=%u seconds=%.3f rx_packets=%llu tx_packets=%llu "
      "tx_refused=%llu mpps=%.3f tsc_hz=%.0f cycles_per_packet=%.1f fwd_cpu_seconds=%.3f "
      "mpps_per_fwd_cpu=%.3f\n",
      fwd_lcore, o.burst, secs, static_cast<unsigned long long>(b.rx - a.rx),
      static_cast<unsigned long long>(tx), static_cast<unsigned long long>(b.dropped - a.dropped),
      static_cast<double>(tx) / secs / 1e6, tsc_hz,
      tx ? static_cast<double>(b.tsc - a.tsc) / static_cast<double>(tx) : 0.0, b.cpu_s - a.cpu_s,
      b.cpu_s > a.cpu_s ? static_cast<double>(tx) / (b.cpu_s - a.cpu_s) / 1e6 : 0.0);
  for (std::uint16_t p : ports) {
    rte_eth_dev_stop(p);
    rte_eth_dev_close(p);
  }
  rte_eal_cleanup();
  if (interrupted) return 130;
  return tx > 0 ? 0 : 1;
}
