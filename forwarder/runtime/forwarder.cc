// SPDX-License-Identifier: Apache-2.0
// Start-up, control thread and shutdown of causeway-fwd (see forwarder.h).
//
// Threads: the EAL main lcore is the control thread; it runs one Boost.Asio io_context
// (control socket, punt-ring wake-ups, mirror TAP reads, a 100 ms timer). Every other lcore
// in the EAL core list runs worker_main with its own WorkerContext.
#include "forwarder.h"

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mempool.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "control/server.h"
#include "dataplane/packet_meta.h"
#include "dataplane/wire.h"
#include "dataplane/worker.h"
#include "exception_path.h"
#include "port.h"
#include "route_table.h"
#include "tunnels.h"
#include "uapi/server.h"

namespace causeway::fwd {
namespace asio = boost::asio;
using nlohmann::json;

namespace {

static_assert(kMaxInterfaces <= kMaxPorts, "the config admits more interfaces than workers count");

constexpr unsigned kPuntRingSize = 4096;
// Per drain_punts turn: punts (ARP, ND, ICMP errors, resolution, no-session) and handshake
// messages (each may cost a Curve25519 operation or two).
constexpr unsigned kPuntBudget = 256;
constexpr unsigned kHandshakeBudget = 64;
constexpr unsigned kInjectRingSize = 1024;
constexpr unsigned kMirrorReadBatch = 64;
constexpr auto kTimerPeriod = std::chrono::milliseconds(100);

std::uint64_t monotonic_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::steady_clock::now().time_since_epoch())
                                        .count());
}

std::string device_name(const std::string& device) {
  return device.substr(0, device.find(','));
}
bool is_vdev(const std::string& device) {
  return device.rfind("net_", 0) == 0;
}

// The EAL option and value that place the main lcore and the workers. An explicit `lcores`
// with '@' or '(' is an lcore-to-CPU map (--lcores), else an -l list. Without one: lcores
// 0..workers, one CPU each (-l) when the process may run on that many CPUs; otherwise (2
// workers on a 2-CPU VM) EAL lcores are threads mapped onto the CPUs we have (--lcores):
// main lcore on the first CPU, workers round-robin from the second, so each worker gets a
// CPU of its own before any shares one.
std::pair<std::string, std::string> eal_lcores(const DpdkConfig& dpdk) {
  if (!dpdk.lcores.empty()) {
    const bool map = dpdk.lcores.find_first_of("@(") != std::string::npos;
    return {map ? "--lcores" : "-l", dpdk.lcores};
  }
  std::vector<unsigned> cpus;
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    for (unsigned c = 0; c < CPU_SETSIZE; ++c)
      if (CPU_ISSET(c, &set)) cpus.push_back(c);
  }
  if (cpus.size() > dpdk.workers) return {"-l", fmt::format("0-{}", dpdk.workers)};
  if (cpus.empty()) cpus.push_back(0);
  std::string map = fmt::format("0@{}", cpus[0]);
  for (unsigned w = 1; w <= dpdk.workers; ++w)
    map += fmt::format(",{}@{}", w, cpus[w % cpus.size()]);
  return {"--lcores", map};
}

}  // namespace

std::vector<std::string> eal_arguments(const FwdConfig& cfg,
                                       const std::vector<std::string>& extra) {
  std::vector<std::string> args{"causeway-fwd"};
  const auto [lcore_opt, lcores] = eal_lcores(cfg.dpdk);
  args.push_back(lcore_opt);
  args.push_back(lcores);
  args.push_back("--file-prefix");
  args.push_back(cfg.dpdk.file_prefix.empty() ? "causeway-" + cfg.name : cfg.dpdk.file_prefix);
  if (cfg.dpdk.no_huge) args.push_back("--no-huge");
  args.push_back("-m");
  args.push_back(std::to_string(cfg.dpdk.memory_mb));
  bool any_pci = false;
  for (const auto& p : cfg.ports) {
    if (is_vdev(p.device)) {
      std::string dev = p.device;
      // af_packet/af_xdp spread a port over `qpairs`/`queue_count` kernel queues; one per worker.
      if (dev.rfind("net_af_packet", 0) == 0 && dev.find("qpairs=") == std::string::npos) {
        dev += fmt::format(",qpairs={}", cfg.dpdk.workers);
      }
      if (dev.rfind("net_af_xdp", 0) == 0 && dev.find("queue_count=") == std::string::npos) {
        dev += fmt::format(",queue_count={}", cfg.dpdk.workers);
      }
      args.push_back("--vdev");
      args.push_back(dev);
    } else {
      any_pci = true;
      args.push_back("-a");
      args.push_back(p.device);
    }
  }
  if (!any_pci) args.push_back("--no-pci");
  args.push_back("--log-level=lib.eal:warning");
  for (const auto& a : cfg.dpdk.extra_args) args.push_back(a);
  for (const auto& a : extra) args.push_back(a);
  return args;
}

struct Forwarder::Impl final : ctl::ControlHandler {
  FwdConfig cfg;
  bool eal_up = false;
  rte_mempool* pool = nullptr;
  rte_rcu_qsbr* qsbr = nullptr;
  std::unique_ptr<RouteTable> routes;
  std::vector<PortRuntime> ports;
  std::vector<bool> port_started;
  std::unique_ptr<ExceptionPath> exception;
  std::unique_ptr<TunnelRuntime> tunnels;
  std::vector<TunnelWorker*> tunnel_workers;

  std::atomic<bool> quit{false};
  std::atomic<bool> punt_armed{true};
  bool drain_posted = false;  // a drain_punts continuation is queued on io
  int punt_eventfd = -1;
  rte_ring* punt_ring = nullptr;
  DataplaneShared shared;
  unsigned n_workers = 0;
  std::vector<unsigned> worker_lcores;
  WorkerContext* workers = nullptr;    // rte_zmalloc'ed, cache aligned
  WorkerCounters* counters = nullptr;  // n_workers + 1 (the control thread's)
  std::vector<rte_ring*> inject_rings;
  // Per physical port: VLAN id -> interface index (DataplanePort::vlan_to_if).
  std::vector<std::vector<std::uint16_t>> vlan_tables;
  bool workers_running = false;

  asio::io_context io;
  std::unique_ptr<ctl::ControlServer> server;
  // One UAPI socket per tunnel; the backends (over the tunnels' Devices) outlive the servers.
  std::vector<std::unique_ptr<uapi::Backend>> uapi_backends;
  std::vector<std::unique_ptr<uapi::UapiServer>> uapi_servers;
  std::unique_ptr<asio::posix::stream_descriptor> punt_fd;
  std::vector<std::unique_ptr<asio::posix::stream_descriptor>> mirror_fds;
  std::vector<std::unique_ptr<asio::posix::stream_descriptor>> tunnel_mirror_fds;
  std::unique_ptr<asio::steady_timer> timer;
  std::unique_ptr<asio::steady_timer> probe_timer;  // the next SLA probe due
  std::uint64_t started_ms = 0;

  ~Impl() override;
  Result<void> init(const std::vector<std::string>& eal_extra);
  Result<void> init_ports();
  Result<void> init_subinterface(const PortConfig& pc, PortRuntime& p);
  Result<void> init_routes();
  Result<void> init_workers();
  Result<void> start_uapi();
  void stop_uapi();
  void start_control();
  void shutdown();

  bool inject(rte_mbuf* m);
  void drain_punts();
  void wait_punts();
  void read_mirror(asio::posix::stream_descriptor& sd, int fd, std::uint16_t offset,
                   std::function<void(rte_mbuf*)> deliver);
  void arm_timer();
  void arm_probe_timer();

  // ControlHandler
  ctl::Reply handle(ctl::MsgType type, std::span<const std::uint8_t> payload) override;
  ctl::Reply route_batch(std::span<const std::uint8_t> payload);
  json stats_json() const;
  json routes_json(const json& req) const;
  json ports_json() const;
  json neighbors_json() const;
  ctl::Reply set_neighbor(const json& req);
  ctl::Reply set_path_group(const json& req);
  ctl::Reply set_nexthop_group(const json& req);
  ctl::Reply delete_nexthop_group(const json& req);
  json nexthop_groups_json() const;
  ctl::Reply get_probe_events(const json& req) const;
  ctl::Reply set_probe_interval(const json& req);
  ctl::Reply set_traffic_classes(const json& req);
  std::optional<std::uint16_t> port_by_name(const std::string& name) const {
    for (const auto& p : ports)
      if (p.name == name) return p.index;
    return std::nullopt;
  }
};

Result<void> Forwarder::Impl::init(const std::vector<std::string>& eal_extra) {
  auto args = eal_arguments(cfg, eal_extra);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  spdlog::info("EAL: {}", fmt::join(args, " "));
  if (rte_eal_init(static_cast<int>(argv.size()), argv.data()) < 0) {
    // The usual cause on small VMs: -l names lcores that are not CPUs of this machine.
    const bool list = std::find(args.begin(), args.end(), "-l") != args.end();
    return fail(fmt::format("DPDK EAL initialisation failed: {}{}", rte_strerror(rte_errno),
                            list ? " (if dpdk.lcores names more lcores than there are CPUs, "
                                   "map them: \"0@0,1@1,2@1\", or leave it empty)"
                                 : ""),
                rte_errno);
  }
  eal_up = true;
  unsigned lcore;
  RTE_LCORE_FOREACH_WORKER(lcore) worker_lcores.push_back(lcore);
  if (worker_lcores.size() < cfg.dpdk.workers) {
    return fail(fmt::format("dpdk.workers is {} but the EAL core list gives {} worker lcores "
                            "(the first lcore is the control thread)",
                            cfg.dpdk.workers, worker_lcores.size()),
                EINVAL);
  }
  n_workers = cfg.dpdk.workers;
  worker_lcores.resize(n_workers);

  std::uint32_t max_mtu = 0;
  for (const auto& p : cfg.ports) max_mtu = std::max<std::uint32_t>(max_mtu, p.mtu);
  const std::uint32_t room = RTE_PKTMBUF_HEADROOM + max_mtu + 14 + 8;
  pool = rte_pktmbuf_pool_create(
      "cw_pkts", cfg.dpdk.mbufs, 256, kPacketMetaSize,
      static_cast<std::uint16_t>(std::max<std::uint32_t>(room, RTE_MBUF_DEFAULT_BUF_SIZE)),
      static_cast<int>(rte_socket_id()));
  if (!pool) {
    return fail(fmt::format("cannot create the packet pool ({} mbufs): {} (raise dpdk.memory_mb)",
                            cfg.dpdk.mbufs, rte_strerror(rte_errno)),
                rte_errno);
  }
  const std::size_t qsz = rte_rcu_qsbr_get_memsize(n_workers);
  qsbr = static_cast<rte_rcu_qsbr*>(rte_zmalloc("cw_qsbr", qsz, RTE_CACHE_LINE_SIZE));
  if (!qsbr || rte_rcu_qsbr_init(qsbr, n_workers) != 0) return fail("cannot set up RCU", ENOMEM);

  auto rt = RouteTable::create(cfg.fib, static_cast<unsigned>(cfg.ports.size()),
                               static_cast<int>(rte_socket_id()), qsbr);
  if (!rt) return rt.error();
  routes = std::move(rt.value());

  counters = static_cast<WorkerCounters*>(
      rte_zmalloc("cw_counters", sizeof(WorkerCounters) * (n_workers + 1), RTE_CACHE_LINE_SIZE));
  if (!counters) return fail("cannot allocate counters", ENOMEM);
  for (unsigned i = 0; i <= n_workers; ++i) new (&counters[i]) WorkerCounters();

  if (auto r = init_ports(); !r) return r;
  exception = std::make_unique<ExceptionPath>(
      ports, *routes, pool, counters[n_workers], cfg.neighbor,
      [this](rte_mbuf* m) { return inject(m); }, monotonic_ms);
  if (auto r = init_routes(); !r) return r;
  if (!cfg.tunnels.empty()) {
    auto t =
        TunnelRuntime::create(cfg, ports, *routes, *exception, pool, qsbr, counters[n_workers]);
    if (!t) return t.error();
    tunnels = std::move(t.value());
    exception->set_tunnel_handler([this](rte_mbuf* m) { tunnels->handle_punt(m); });
  }
  if (auto r = init_workers(); !r) return r;
  return boost::outcome_v2::success();
}

Result<void> Forwarder::Impl::init_ports() {
  port_started.assign(cfg.ports.size(), false);
  for (std::size_t i = 0; i < cfg.ports.size(); ++i) {
    const PortConfig& pc = cfg.ports[i];
    PortRuntime p;
    p.index = static_cast<std::uint16_t>(i);
    p.name = pc.name;
    p.device = pc.device;
    p.mtu = pc.mtu;
    p.addresses = pc.addresses;
    if (pc.is_vlan()) {
      if (auto r = init_subinterface(pc, p); !r) return r;
      continue;
    }
    const std::string dev = device_name(pc.device);
    std::uint16_t pid;
    if (rte_eth_dev_get_port_by_name(dev.c_str(), &pid) != 0) {
      return fail(fmt::format("ports[{}] ({}): DPDK has no device '{}'", i, pc.name, dev), ENODEV);
    }
    p.dpdk_port = pid;
    rte_eth_dev_info info;
    if (int rc = rte_eth_dev_info_get(pid, &info); rc != 0) {
      return fail(fmt::format("port {}: cannot read device info: {}", pc.name, rte_strerror(-rc)),
                  -rc);
    }
    p.rx_queues = static_cast<std::uint16_t>(std::min<unsigned>(n_workers, info.max_rx_queues));
    p.tx_queues = static_cast<std::uint16_t>(n_workers);
    if (info.max_tx_queues < n_workers) {
      return fail(fmt::format("port {}: device {} has {} tx queues, {} workers need one each",
                              pc.name, dev, info.max_tx_queues, n_workers),
                  EINVAL);
    }
    rte_eth_conf conf{};
    if (p.rx_queues > 1 && info.flow_type_rss_offloads) {
      conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
      conf.rx_adv_conf.rss_conf.rss_hf =
          (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP) & info.flow_type_rss_offloads;
    }
    if (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM) {
      conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_IPV4_CKSUM;
    }
    if (int rc = rte_eth_dev_configure(pid, p.rx_queues, p.tx_queues, &conf); rc != 0) {
      return fail(fmt::format("port {}: configure failed: {}", pc.name, rte_strerror(-rc)), -rc);
    }
    if (int rc = rte_eth_dev_set_mtu(pid, pc.mtu); rc != 0 && rc != -ENOTSUP) {
      spdlog::warn("port {}: cannot set MTU {} on the device: {}", pc.name, pc.mtu,
                   rte_strerror(-rc));
    }
    std::uint16_t rxd = pc.rx_desc, txd = pc.tx_desc;
    rte_eth_dev_adjust_nb_rx_tx_desc(pid, &rxd, &txd);
    const int socket = rte_eth_dev_socket_id(pid) < 0 ? static_cast<int>(rte_socket_id())
                                                      : rte_eth_dev_socket_id(pid);
    for (std::uint16_t q = 0; q < p.rx_queues; ++q) {
      if (int rc =
              rte_eth_rx_queue_setup(pid, q, rxd, static_cast<unsigned>(socket), nullptr, pool);
          rc != 0) {
        return fail(fmt::format("port {}: rx queue {}: {}", pc.name, q, rte_strerror(-rc)), -rc);
      }
    }
    for (std::uint16_t q = 0; q < p.tx_queues; ++q) {
      if (int rc = rte_eth_tx_queue_setup(pid, q, txd, static_cast<unsigned>(socket), nullptr);
          rc != 0) {
        return fail(fmt::format("port {}: tx queue {}: {}", pc.name, q, rte_strerror(-rc)), -rc);
      }
    }
    rte_ether_addr mac;
    if (pc.mac) {
      std::memcpy(mac.addr_bytes, pc.mac->bytes.data(), 6);
      if (int rc = rte_eth_dev_default_mac_addr_set(pid, &mac); rc != 0) {
        spdlog::warn("port {}: device refused MAC {}: {} (the data path uses it anyway)", pc.name,
                     pc.mac->str(), rte_strerror(-rc));
      }
    } else {
      rte_eth_macaddr_get(pid, &mac);
    }
    std::memcpy(p.mac.bytes.data(), mac.addr_bytes, 6);
    p.link_local = eui64_link_local(p.mac);
    if (int rc = rte_eth_dev_start(pid); rc != 0) {
      return fail(fmt::format("port {}: start failed: {}", pc.name, rte_strerror(-rc)), -rc);
    }
    port_started[i] = true;
    rte_eth_allmulticast_enable(pid);  // ND solicited-node multicast; best effort

    const std::string mirror = pc.mirror.empty() ? "cw-" + pc.name : pc.mirror;
    auto m = Mirror::create(mirror, p.mac, pc.mtu, pc.addresses);
    if (!m) return fail(fmt::format("port {}: {}", pc.name, m.error().message), m.error().code);
    p.mirror = std::move(m.value());
    spdlog::info(
        "port {} ({}): dpdk port {}, mac {}, mtu {}, {} rx / {} tx queues, mirror {} "
        "(ifindex {})",
        p.name, pc.device, pid, p.mac.str(), p.mtu, p.rx_queues, p.tx_queues, p.mirror->name(),
        p.mirror->ifindex());
    ports.push_back(std::move(p));
  }
  return boost::outcome_v2::success();
}

// A VLAN subinterface: no DPDK queues of its own (its frames arrive on, and leave through,
// its physical port, which comes earlier in `ports`); its own mirror and addresses.
Result<void> Forwarder::Impl::init_subinterface(const PortConfig& pc, PortRuntime& p) {
  const PortRuntime& base = ports[pc.parent];
  p.dpdk_port = base.dpdk_port;
  p.device = base.device;
  p.mac = base.mac;
  p.link_local = base.link_local;
  p.vlan_id = pc.vlan_id;
  p.parent = base.index;
  p.rx_queues = 0;
  p.tx_queues = 0;
  auto m = Mirror::create(pc.mirror, p.mac, pc.mtu, pc.addresses);
  if (!m) return fail(fmt::format("{}: {}", pc.name, m.error().message), m.error().code);
  p.mirror = std::move(m.value());
  spdlog::info("subinterface {}: port {} VLAN {}, mtu {}, mirror {} (ifindex {})", p.name,
               base.name, p.vlan_id, p.mtu, p.mirror->name(), p.mirror->ifindex());
  ports.push_back(std::move(p));
  return boost::outcome_v2::success();
}

Result<void> Forwarder::Impl::init_routes() {
  std::vector<RouteChange> iface;
  auto local = [&](const IpAddress& a, std::uint8_t len) {
    RouteChange c;
    c.spec.prefix = IpPrefix{a, len}.masked();
    c.spec.kind = NextHopKind::kLocal;
    iface.push_back(c);
  };
  for (const auto& p : ports) {
    for (const auto& a : p.addresses) {
      local(a.addr, static_cast<std::uint8_t>(a.max_len()));
      if (a.len < a.max_len()) {
        RouteChange c;
        c.spec.prefix = a.masked();
        c.spec.kind = NextHopKind::kConnected;
        c.spec.port = p.index;
        iface.push_back(c);
      }
      if (a.addr.is_v4() && a.len <= 30) {  // directed broadcast
        IpAddress bcast = IpAddress::v4(a.masked().addr.v4_host_order() | (0xffffffffu >> a.len));
        local(bcast, 32);
      }
    }
  }
  // The PoP's overlay addresses (tunnels[].address) are the kernel's too: packets from a LAN
  // reach them through the port's mirror (from a tunnel, tunnel_input takes them first).
  for (const auto& t : cfg.tunnels) {
    for (const auto& a : t.address) local(a.addr, static_cast<std::uint8_t>(a.max_len()));
  }
  // Multicast, limited broadcast and link-local destinations belong to the kernel.
  local(*IpAddress::parse("224.0.0.0"), 4);
  local(*IpAddress::parse("255.255.255.255"), 32);
  local(*IpAddress::parse("ff00::"), 8);
  local(*IpAddress::parse("fe80::"), 10);
  // Two interfaces on one subnet give duplicate connected routes; keep the first.
  std::sort(iface.begin(), iface.end(), [](const RouteChange& a, const RouteChange& b) {
    return a.spec.prefix < b.spec.prefix;
  });
  iface.erase(std::unique(iface.begin(), iface.end(),
                          [](const RouteChange& a, const RouteChange& b) {
                            return a.spec.prefix == b.spec.prefix;
                          }),
              iface.end());
  if (auto r = routes->apply(RouteSource::kInterface, iface); !r) return r.error();

  std::vector<RouteChange> configured;
  for (std::size_t i = 0; i < cfg.routes.size(); ++i) {
    const RouteConfig& rc = cfg.routes[i];
    RouteChange c;
    c.spec.prefix = rc.prefix;
    if (rc.blackhole) {
      c.spec.kind = NextHopKind::kBlackhole;
    } else if (rc.path_group) {
      c.spec.kind = NextHopKind::kPathGroup;
      c.spec.port = *rc.path_group;
    } else {
      auto port = port_by_name(rc.port);
      if (!port)
        return fail(fmt::format("routes[{}].port: no port named \"{}\"", i, rc.port), EINVAL);
      c.spec.port = *port;
      if (rc.via) {
        c.spec.kind = NextHopKind::kGateway;
        c.spec.gateway = *rc.via;
      } else {
        c.spec.kind = NextHopKind::kConnected;
      }
    }
    configured.push_back(c);
  }
  if (auto r = routes->apply(RouteSource::kConfig, configured); !r) {
    return fail("routes: " + r.error().message, r.error().code);
  }
  for (std::size_t i = 0; i < cfg.neighbors.size(); ++i) {
    const NeighborConfig& n = cfg.neighbors[i];
    auto port = port_by_name(n.port);
    if (!port)
      return fail(fmt::format("neighbors[{}].port: no port named \"{}\"", i, n.port), EINVAL);
    if (auto r = exception->add_static_neighbor(*port, n.address, n.mac); !r) {
      return fail(fmt::format("neighbors[{}]: {}", i, r.error().message), r.error().code);
    }
  }
  spdlog::info("FIB: {} routes, {} next hops", routes->size(), routes->next_hops_in_use());
  return boost::outcome_v2::success();
}

Result<void> Forwarder::Impl::init_workers() {
  punt_eventfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (punt_eventfd < 0) return fail(std::string("eventfd: ") + std::strerror(errno), errno);
  punt_ring =
      rte_ring_create("cw_punt", kPuntRingSize, static_cast<int>(rte_socket_id()), RING_F_SC_DEQ);
  if (!punt_ring) return fail("cannot create the punt ring", ENOMEM);

  shared.n_ports = static_cast<unsigned>(ports.size());
  for (const auto& p : ports) {
    DataplanePort& dp = shared.ports[p.index];
    dp.dpdk_port = p.dpdk_port;
    dp.mtu = p.mtu;
    std::memcpy(dp.mac, p.mac.bytes.data(), 6);
    dp.tx_port = p.is_vlan() ? p.parent : p.index;
    dp.vlan_tci = p.vlan_id;
  }
  vlan_tables.resize(ports.size());
  for (const auto& p : ports) {
    if (p.is_vlan()) continue;
    auto& table = vlan_tables[p.index];
    table.assign(kVlanIds, kNoInterface);
    table[0] = p.index;  // priority-tagged frames belong to the port itself
    for (const auto& sub : ports)
      if (sub.is_vlan() && sub.parent == p.index) table[sub.vlan_id] = sub.index;
    shared.ports[p.index].vlan_to_if = table.data();
  }
  shared.next_hops = routes->next_hop_array();
  shared.n_next_hops = routes->next_hop_capacity();
  shared.fib = routes->published();
  shared.nh_groups = routes->group_slots();
  shared.qsbr = qsbr;
  shared.punt_ring = punt_ring;
  shared.punt_wakeup_armed = &punt_armed;
  shared.punt_eventfd = punt_eventfd;
  shared.quit = &quit;
  shared.idle_sleep_max_us = cfg.idle_sleep_max_us;  // 0 = busy-poll
  shared.tunnels = tunnels ? tunnels->shared() : nullptr;

  workers = static_cast<WorkerContext*>(
      rte_zmalloc("cw_workers", sizeof(WorkerContext) * n_workers, RTE_CACHE_LINE_SIZE));
  if (!workers) return fail("cannot allocate worker contexts", ENOMEM);
  for (unsigned w = 0; w < n_workers; ++w) {
    WorkerContext* ctx = new (&workers[w]) WorkerContext();
    ctx->id = w;
    ctx->shared = &shared;
    ctx->counters = &counters[w];
    if (tunnels) {
      void* mem = rte_zmalloc("cw_tunnel_worker", sizeof(TunnelWorker), RTE_CACHE_LINE_SIZE);
      if (!mem) return fail("cannot allocate tunnel worker state", ENOMEM);
      ctx->tunnel = new (mem) TunnelWorker();
      tunnel_workers.push_back(ctx->tunnel);
    }
    rte_ring* r = rte_ring_create(fmt::format("cw_inject{}", w).c_str(), kInjectRingSize,
                                  static_cast<int>(rte_socket_id()), RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (!r) return fail("cannot create an inject ring", ENOMEM);
    inject_rings.push_back(r);
    ctx->inject_ring = r;
    for (const auto& p : ports) {
      for (std::uint16_t q = static_cast<std::uint16_t>(w); q < p.rx_queues;
           q = static_cast<std::uint16_t>(q + n_workers)) {
        ctx->rxq[ctx->n_rxq++] = RxQueueRef{p.index, q};
      }
    }
  }
  return boost::outcome_v2::success();
}

bool Forwarder::Impl::inject(rte_mbuf* m) {
  const std::uint16_t port = meta(m).out_port;
  rte_ring* r = inject_rings[port % n_workers];
  if (rte_ring_sp_enqueue(r, m) != 0) {
    counters[n_workers].count_drop(DropReason::inject_queue_full);
    return false;
  }
  return true;
}

// One turn over the punt and handshake rings, bounded (kPuntBudget, kHandshakeBudget) so that a
// flood cannot hold the control thread: what is left waits for a continuation posted behind the
// handlers already ready (timers, control socket, UAPI, mirrors). The wake-up flag stays cleared
// while work is left, so the workers make no eventfd syscalls meanwhile.
void Forwarder::Impl::drain_punts() {
  void* objs[kBurstSize];
  bool more = false;
  for (unsigned done = 0;;) {
    const unsigned n = rte_ring_sc_dequeue_burst(punt_ring, objs, kBurstSize, nullptr);
    if (n == 0) break;
    for (unsigned i = 0; i < n; ++i) exception->handle_punt(static_cast<rte_mbuf*>(objs[i]));
    if ((done += n) >= kPuntBudget) {
      more = true;
      break;
    }
  }
  if (tunnels && tunnels->poll_handshakes(kHandshakeBudget)) more = true;
  if (!more) {
    // Re-arm, then look once more: a worker may have enqueued after our last dequeue and seen
    // the flag still cleared.
    punt_armed.store(true, std::memory_order_seq_cst);
    if (rte_ring_count(punt_ring) == 0 && !(tunnels && tunnels->handshakes_waiting())) return;
    punt_armed.store(false, std::memory_order_relaxed);
  }
  if (drain_posted) return;
  drain_posted = true;
  asio::post(io, [this] {
    drain_posted = false;
    drain_punts();
  });
}

void Forwarder::Impl::wait_punts() {
  punt_fd->async_wait(asio::posix::stream_descriptor::wait_read, [this](const auto& ec) {
    if (ec) return;
    eventfd_t v;
    eventfd_read(punt_eventfd, &v);
    drain_punts();
    wait_punts();
  });
}

// Reads what the kernel wrote into a mirror (at most kMirrorReadBatch packets per wake-up),
// each into an mbuf `offset` bytes from its data start, hands it to `deliver`, waits again.
void Forwarder::Impl::read_mirror(asio::posix::stream_descriptor& sd, int fd, std::uint16_t offset,
                                  std::function<void(rte_mbuf*)> deliver) {
  sd.async_wait(asio::posix::stream_descriptor::wait_read,
                [this, &sd, fd, offset, deliver = std::move(deliver)](const auto& ec) mutable {
                  if (ec) return;
                  for (unsigned i = 0; i < kMirrorReadBatch; ++i) {
                    rte_mbuf* m = rte_pktmbuf_alloc(pool);
                    if (!m) {
                      counters[n_workers].count_drop(DropReason::no_buffer);
                      char discard[16];
                      if (read(fd, discard, sizeof(discard)) < 0) break;
                      continue;
                    }
                    const std::uint16_t room = rte_pktmbuf_tailroom(m);
                    ssize_t n = read(fd, rte_pktmbuf_mtod_offset(m, char*, offset), room - offset);
                    if (n <= 0) {
                      rte_pktmbuf_free(m);
                      break;
                    }
                    rte_pktmbuf_append(m, static_cast<std::uint16_t>(n + offset));
                    deliver(m);
                  }
                  read_mirror(sd, fd, offset, std::move(deliver));
                });
}

void Forwarder::Impl::arm_timer() {
  timer->expires_after(kTimerPeriod);
  timer->async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    exception->on_timer();
    if (tunnels) tunnels->on_timer();
    drain_punts();       // in case a wake-up was lost to a full eventfd counter
    routes->try_sync();  // the other FIB copy, if a route change left it behind
    arm_timer();
  });
}

void Forwarder::Impl::arm_probe_timer() {
  if (!tunnels) return;
  const std::uint64_t next = tunnels->next_probe_ns();
  if (next == ProbeBook::kNever) {
    probe_timer->cancel();
    return;
  }
  probe_timer->expires_at(
      asio::steady_timer::time_point(std::chrono::nanoseconds(static_cast<std::int64_t>(next))));
  probe_timer->async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    tunnels->on_probe_timer();
    arm_probe_timer();
  });
}

void Forwarder::Impl::start_control() {
  punt_fd = std::make_unique<asio::posix::stream_descriptor>(io, dup(punt_eventfd));
  wait_punts();
  for (const auto& p : ports) {
    mirror_fds.push_back(std::make_unique<asio::posix::stream_descriptor>(io, dup(p.mirror->fd())));
    const std::uint16_t port = p.index;
    read_mirror(*mirror_fds.back(), p.mirror->fd(), 0,
                [this, port](rte_mbuf* m) { exception->handle_mirror_frame(port, m); });
  }
  if (tunnels) {
    for (const auto& [tunnel, fd] : tunnels->mirror_fds()) {
      tunnel_mirror_fds.push_back(std::make_unique<asio::posix::stream_descriptor>(io, dup(fd)));
      // Bare IP packets: room for an Ethernet header in front, as the stages expect.
      read_mirror(*tunnel_mirror_fds.back(), fd, wire::kEthHeaderLen,
                  [this, t = tunnel](rte_mbuf* m) { tunnels->handle_mirror_packet(t, m); });
    }
  }
  timer = std::make_unique<asio::steady_timer>(io);
  arm_timer();
  probe_timer = std::make_unique<asio::steady_timer>(io);
  arm_probe_timer();
}

// `wg show` / `wg set` for every tunnel (DESIGN.md section 3), on the control thread's
// io_context. A socket a live server answers on (another forwarder, a wireguard-go) is a
// start-up error naming the path; a stale one is replaced (uapi::UapiServer::start).
Result<void> Forwarder::Impl::start_uapi() {
  if (!tunnels || !cfg.uapi.enabled) return boost::outcome_v2::success();
  for (const TunnelConfig& tc : cfg.tunnels) {
    auto backend = tunnels->make_uapi_backend(tc.name);
    if (!backend) return fail("tunnel " + tc.name + ": no UAPI backend", ENOENT);
    uapi::UapiServerOptions opts;
    opts.interface_name = tc.name;
    opts.socket_dir = cfg.uapi.socket_dir;
    auto srv = uapi::UapiServer::start(io, *backend, std::move(opts));
    if (!srv) {
      stop_uapi();
      return fail(fmt::format("uapi: tunnel {}: {} (uapi.socket_dir or --uapi-socket-dir names "
                              "another directory)",
                              tc.name, srv.error().message),
                  srv.error().code);
    }
    spdlog::info("tunnel {}: UAPI socket {}", tc.name, srv.value()->path().string());
    uapi_backends.push_back(std::move(backend));
    uapi_servers.push_back(std::move(srv.value()));
  }
  return boost::outcome_v2::success();
}

// Removes the socket files; before the tunnels go, as the backends use their Devices.
void Forwarder::Impl::stop_uapi() {
  for (auto& s : uapi_servers) s->stop();
  uapi_servers.clear();
  uapi_backends.clear();
}

Forwarder::Impl::~Impl() {
  shutdown();
}

void Forwarder::Impl::shutdown() {
  quit.store(true);
  if (workers_running) {
    rte_eal_mp_wait_lcore();
    workers_running = false;
  }
  if (server) {
    server->stop();
    server.reset();
  }
  stop_uapi();
  mirror_fds.clear();
  tunnel_mirror_fds.clear();
  punt_fd.reset();
  timer.reset();
  probe_timer.reset();
  void* obj;
  if (punt_ring) {
    while (rte_ring_dequeue(punt_ring, &obj) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(obj));
  }
  for (rte_ring* r : inject_rings) {
    while (rte_ring_dequeue(r, &obj) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(obj));
    rte_ring_free(r);
  }
  inject_rings.clear();
  tunnels.reset();  // workers are stopped: nothing reads the published tunnel state any more
  for (TunnelWorker* tw : tunnel_workers) rte_free(tw);
  tunnel_workers.clear();
  exception.reset();
  for (std::size_t i = 0; i < ports.size(); ++i) {
    if (port_started[i]) {
      rte_eth_dev_stop(ports[i].dpdk_port);
      rte_eth_dev_close(ports[i].dpdk_port);
      port_started[i] = false;
    }
  }
  ports.clear();  // removes the mirror TAPs
  routes.reset();
  if (punt_ring) rte_ring_free(punt_ring), punt_ring = nullptr;
  if (punt_eventfd >= 0) close(punt_eventfd), punt_eventfd = -1;
  if (workers) rte_free(workers), workers = nullptr;
  if (counters) rte_free(counters), counters = nullptr;
  if (qsbr) rte_free(qsbr), qsbr = nullptr;
  if (pool) rte_mempool_free(pool), pool = nullptr;
  if (eal_up) {
    rte_eal_cleanup();
    eal_up = false;
  }
}

ctl::Reply Forwarder::Impl::handle(ctl::MsgType type, std::span<const std::uint8_t> payload) {
  using ctl::MsgType;
  using ctl::Reply;
  if (type == MsgType::kRouteBatch) return route_batch(payload);
  auto req = ctl::parse_request_json(payload);
  if (!req) return Reply::error(EINVAL, req.error().message);
  switch (type) {
    case MsgType::kHello:
      return Reply::ok(json{{"version", ctl::kVersion},
                            {"name", cfg.name},
                            {"pid", getpid()},
                            {"uptime_s", (monotonic_ms() - started_ms) / 1000}});
    case MsgType::kGetStats:
      return Reply::ok(stats_json());
    case MsgType::kGetRoutes:
      return Reply::ok(routes_json(req.value()));
    case MsgType::kGetNeighbors:
      return Reply::ok(neighbors_json());
    case MsgType::kSetNeighbor:
      return set_neighbor(req.value());
    case MsgType::kGetPorts:
      return Reply::ok(ports_json());
    case MsgType::kGetTunnels:
      return Reply::ok(json{{"tunnels", tunnels ? tunnels->tunnels_json() : json::array()}});
    case MsgType::kGetPathGroups:
      return Reply::ok(
          json{{"path_groups", tunnels ? tunnels->path_groups_json() : json::array()},
               {"traffic_classes", tunnels ? tunnels->traffic_classes_json() : json::array()}});
    case MsgType::kSetPathGroup:
      return set_path_group(req.value());
    case MsgType::kGetProbeEvents:
      return get_probe_events(req.value());
    case MsgType::kSetProbeInterval:
      return set_probe_interval(req.value());
    case MsgType::kSetTrafficClasses:
      return set_traffic_classes(req.value());
    case MsgType::kSetNextHopGroup:
      return set_nexthop_group(req.value());
    case MsgType::kDeleteNextHopGroup:
      return delete_nexthop_group(req.value());
    case MsgType::kFlushRoutes: {
      const std::string source = req.value().value("source", "control");
      if (source != "control" && source != "routed") {
        return Reply::error(EINVAL, "source: only \"control\" (alias \"routed\") can be flushed");
      }
      auto r = routes->flush(RouteSource::kControl);
      if (!r) return Reply::error(r.error().code ? r.error().code : EIO, r.error().message);
      return Reply::ok(json{{"deleted", r.value().removed}});
    }
    default:
      return Reply::error(EOPNOTSUPP, "unsupported request");
  }
}

ctl::Reply Forwarder::Impl::route_batch(std::span<const std::uint8_t> payload) {
  auto batch = ctl::decode_route_batch(payload);
  if (!batch) return ctl::Reply::error(EINVAL, batch.error().message);
  std::vector<RouteChange> changes;
  changes.reserve(batch.value().size());
  for (std::size_t i = 0; i < batch.value().size(); ++i) {
    const ctl::RouteUpdate& u = batch.value()[i];
    if (u.table != 0) {
      return ctl::Reply::error(EOPNOTSUPP, fmt::format("record {}: table {}: only the default "
                                                       "table (0) exists in this version",
                                                       i, u.table));
    }
    RouteChange c;
    c.remove = u.op == ctl::RouteOp::kDelete;
    c.spec.prefix = u.prefix;
    c.spec.kind = u.kind;
    c.spec.port = u.port;
    if (u.gateway) c.spec.gateway = *u.gateway;
    changes.push_back(c);
  }
  auto r = routes->apply(RouteSource::kControl, changes);
  if (!r) return ctl::Reply::error(r.error().code ? r.error().code : EINVAL, r.error().message);
  // The unpublished FIB copy catches up once the reply is on its way (RouteTable::sync).
  asio::post(io, [this] { routes->try_sync(); });
  return ctl::Reply::ok(json{{"added", r.value().added},
                             {"deleted", r.value().removed},
                             {"missing", r.value().missing},
                             {"fib_changes", r.value().fib_ops}});
}

json Forwarder::Impl::stats_json() const {
  json jports = json::array();
  for (const auto& p : ports) {
    std::uint64_t rxp = 0, rxb = 0, txp = 0, txb = 0, txd = 0;
    for (unsigned w = 0; w <= n_workers; ++w) {
      const PortCounters& c = counters[w].port[p.index];
      rxp += c.rx_packets.get();
      rxb += c.rx_bytes.get();
      txp += c.tx_packets.get();
      txb += c.tx_bytes.get();
      txd += c.tx_dropped.get();
    }
    rte_eth_stats es{};
    if (!p.is_vlan()) rte_eth_stats_get(p.dpdk_port, &es);
    jports.push_back(json{{"index", p.index},
                          {"name", p.name},
                          {"rx_packets", rxp},
                          {"rx_bytes", rxb},
                          {"tx_packets", txp},
                          {"tx_bytes", txb},
                          {"tx_dropped", txd},
                          {"rx_dropped", es.imissed + es.rx_nombuf},
                          {"rx_errors", es.ierrors},
                          {"tx_errors", es.oerrors}});
  }
  json drops = json::object();
  for (std::size_t r = 0; r < kDropReasonCount; ++r) {
    std::uint64_t v = 0;
    for (unsigned w = 0; w <= n_workers; ++w) v += counters[w].drop[r].get();
    drops[std::string(kDropReasonInfo[r].name)] = v;
  }
  json jworkers = json::array();
  for (unsigned w = 0; w < n_workers; ++w) {
    const WorkerCounters& c = counters[w];
    std::uint64_t rxp = 0, txp = 0;  // physical ports only: a subinterface's are in its port's
    for (const auto& p : ports) {
      if (p.is_vlan()) continue;
      rxp += c.port[p.index].rx_packets.get();
      txp += c.port[p.index].tx_packets.get();
    }
    jworkers.push_back(json{{"worker", w},
                            {"rx_packets", rxp},
                            {"tx_packets", txp},
                            {"lcore", worker_lcores[w]},
                            {"busy_polls", c.busy_polls.get()},
                            {"idle_polls", c.idle_polls.get()},
                            {"busy_cycles", c.busy_cycles.get()},
                            {"sleeps", c.sleeps.get()},
                            {"punted", c.punted.get()},
                            {"probes_reflected", c.probes_reflected.get()},
                            {"handoff_sent", c.handoff_sent.get()},
                            {"handoff_received", c.handoff_received.get()}});
  }
  return json{{"ports", jports},
              {"drops", drops},
              {"workers", jworkers},
              {"fib", {{"routes", routes->size()}, {"next_hops", routes->next_hops_in_use()}}}};
}

json Forwarder::Impl::routes_json(const json& req) const {
  const unsigned family = req.value("family", 0u);
  const std::size_t limit = req.value("limit", static_cast<std::size_t>(100000));
  json out = json::array();
  routes->for_each(family, limit, [&](const RouteView& r) {
    json j{{"prefix", r.prefix.str()},
           {"kind", std::string(ctl::to_string(r.next_hop->kind))},
           {"source", route_source_name(r.source)},
           {"table", 0}};
    if (r.next_hop->kind == NextHopKind::kGateway) j["via"] = r.next_hop->gateway.str();
    if (r.next_hop->kind == NextHopKind::kPathGroup) {
      j["path_group"] = r.next_hop->port;  // a path group's next hop keeps the group id there
    } else if (r.next_hop->kind == NextHopKind::kNextHopGroup) {
      j["nexthop_group"] = r.next_hop->port;  // so does a next-hop group's
    } else if (r.next_hop->port < ports.size()) {
      j["port"] = ports[r.next_hop->port].name;
    }
    out.push_back(std::move(j));
  });
  return json{
      {"routes", out}, {"total", routes->size()}, {"nexthop_groups", nexthop_groups_json()}};
}

json Forwarder::Impl::nexthop_groups_json() const {
  json out = json::array();
  for (const GroupView& g : routes->groups()) {
    json members = json::array();
    for (const GroupMemberView& m : g.members) {
      const bool resolved = (m.next_hop->dst_mac.load(std::memory_order_relaxed) & kMacValid) != 0;
      members.push_back(json{{"port", ports[m.spec.port].name},
                             {"port_index", m.spec.port},
                             {"gateway", m.spec.gateway.str()},
                             {"resolved", resolved},
                             {"packets", m.packets}});
    }
    out.push_back(json{{"id", g.id}, {"routes", g.routes}, {"members", members}});
  }
  return out;
}

ctl::Reply Forwarder::Impl::set_nexthop_group(const json& req) {
  auto parsed = ctl::parse_nexthop_group(req);
  if (!parsed) return ctl::Reply::error(EINVAL, parsed.error().message);
  std::vector<GroupMemberSpec> members;
  for (std::size_t i = 0; i < parsed.value().members.size(); ++i) {
    const ctl::NextHopMember& m = parsed.value().members[i];
    GroupMemberSpec spec;
    spec.gateway = m.gateway;
    if (m.port_index) {
      if (*m.port_index >= ports.size()) {
        return ctl::Reply::error(ENODEV,
                                 fmt::format("members[{}].port: no port {}", i, *m.port_index));
      }
      spec.port = *m.port_index;
    } else if (auto p = port_by_name(m.port_name)) {
      spec.port = *p;
    } else {
      return ctl::Reply::error(ENODEV, fmt::format("members[{}].port: no port {}", i, m.port_name));
    }
    members.push_back(spec);
  }
  auto r = routes->set_group(parsed.value().id, members);
  if (!r) return ctl::Reply::error(r.error().code ? r.error().code : EINVAL, r.error().message);
  asio::post(io, [this] { routes->try_sync(); });
  return ctl::Reply::ok(json{{"id", parsed.value().id}, {"members", members.size()}});
}

ctl::Reply Forwarder::Impl::delete_nexthop_group(const json& req) {
  auto id = ctl::parse_nexthop_group_id(req);
  if (!id) return ctl::Reply::error(EINVAL, id.error().message);
  auto r = routes->delete_group(id.value());
  if (!r) return ctl::Reply::error(r.error().code ? r.error().code : EINVAL, r.error().message);
  asio::post(io, [this] { routes->try_sync(); });
  return ctl::Reply::ok(json{{"id", id.value()}});
}

json Forwarder::Impl::ports_json() const {
  json out = json::array();
  for (const auto& p : ports) {
    rte_eth_link link{};
    rte_eth_link_get_nowait(p.dpdk_port, &link);
    json addrs = json::array();
    for (const auto& a : p.addresses) addrs.push_back(a.str());
    out.push_back(json{{"index", p.index},
                       {"name", p.name},
                       {"device", p.device},
                       {"mac", p.mac.str()},
                       {"mtu", p.mtu},
                       {"mirror", p.mirror->name()},
                       {"mirror_ifindex", p.mirror->ifindex()},
                       {"addresses", addrs},
                       {"link", link.link_status ? "up" : "down"},
                       {"rx_queues", p.rx_queues},
                       {"tx_queues", p.tx_queues}});
    if (p.is_vlan()) {
      out.back()["vlan"] = p.vlan_id;
      out.back()["parent"] = ports[p.parent].name;
    }
  }
  return json{{"ports", out}};
}

json Forwarder::Impl::neighbors_json() const {
  json out = json::array();
  for (const auto& n : exception->neighbors()) {
    json j{{"port", ports[n.port].name},
           {"address", n.address.str()},
           {"state", neighbor_state_name(n.state)},
           {"age_s", n.age_ms / 1000},
           {"queued", n.queued}};
    j["mac"] = n.mac ? n.mac->str() : "";
    out.push_back(std::move(j));
  }
  return json{{"neighbors", out}};
}

ctl::Reply Forwarder::Impl::set_neighbor(const json& req) {
  const std::string op = req.value("op", "");
  auto port = port_by_name(req.value("port", ""));
  auto addr = IpAddress::parse(req.value("address", ""));
  if (!port) return ctl::Reply::error(EINVAL, "port: no such port");
  if (!addr) return ctl::Reply::error(EINVAL, "address: not an IP address");
  if (op == "add") {
    auto mac = MacAddress::parse(req.value("mac", ""));
    if (!mac) return ctl::Reply::error(EINVAL, "mac: not a MAC address (aa:bb:cc:dd:ee:ff)");
    auto r = exception->add_static_neighbor(*port, *addr, *mac);
    if (!r) return ctl::Reply::error(r.error().code, r.error().message);
    return ctl::Reply::ok();
  }
  if (op == "del") {
    auto r = exception->remove_neighbor(*port, *addr);
    if (!r) return ctl::Reply::error(r.error().code, r.error().message);
    return ctl::Reply::ok();
  }
  return ctl::Reply::error(EINVAL, "op: must be \"add\" or \"del\"");
}

Result<std::unique_ptr<Forwarder>> Forwarder::create(const FwdConfig& config,
                                                     const std::vector<std::string>& eal_extra) {
  auto impl = std::make_unique<Impl>();
  impl->cfg = config;
  if (auto r = impl->init(eal_extra); !r) return r.error();
  ctl::ControlServerOptions opts;
  opts.path = config.control_socket;
  auto server = ctl::ControlServer::start(impl->io, *impl, opts);
  if (!server) return server.error();
  impl->server = std::move(server.value());
  if (auto r = impl->start_uapi(); !r) return r.error();
  return std::unique_ptr<Forwarder>(new Forwarder(std::move(impl)));
}

Forwarder::Forwarder(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Forwarder::~Forwarder() = default;

int Forwarder::run() {
  Impl& s = *impl_;
  s.started_ms = monotonic_ms();
  for (unsigned w = 0; w < s.n_workers; ++w) {
    if (int rc = rte_eal_remote_launch(worker_main, &s.workers[w], s.worker_lcores[w]); rc != 0) {
      spdlog::critical("cannot launch worker {} on lcore {}: {}", w, s.worker_lcores[w],
                       rte_strerror(-rc));
      s.quit.store(true);
      return 1;
    }
  }
  s.workers_running = true;
  // Running: from now on the mirrors outlive this process (mirror.h says why).
  for (const auto& port : s.ports) {
    if (!port.mirror) continue;
    if (auto r = port.mirror->persist(); !r) spdlog::warn("{}", r.error().message);
  }
  if (s.tunnels) s.tunnels->persist_mirrors();
  s.start_control();
  asio::signal_set signals(s.io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    spdlog::info("signal {}: stopping", sig);
    s.io.stop();
  });
  spdlog::info("{}: forwarding with {} worker(s); control socket {}", s.cfg.name, s.n_workers,
               s.cfg.control_socket);
  s.io.run();
  s.shutdown();
  return 0;
}

ctl::Reply Forwarder::Impl::set_path_group(const json& req) {
  if (!tunnels) return ctl::Reply::error(ENOENT, "no tunnels are configured");
  auto parsed = ctl::parse_path_group(req, kMaxPathGroups);
  if (!parsed) return ctl::Reply::error(EINVAL, parsed.error().message);
  auto r = tunnels->set_path_group(parsed.value());
  if (!r) return ctl::Reply::error(r.error().code ? r.error().code : EINVAL, r.error().message);
  return ctl::Reply::ok(json{{"id", parsed.value().id}});
}

ctl::Reply Forwarder::Impl::set_traffic_classes(const json& req) {
  if (!tunnels) return ctl::Reply::error(ENOENT, "no tunnels are configured");
  auto parsed = ctl::parse_traffic_classes(req);
  if (!parsed) return ctl::Reply::error(EINVAL, parsed.error().message);
  const std::size_t n = parsed.value().size();
  auto r = tunnels->set_traffic_classes(std::move(parsed).value());
  if (!r) return ctl::Reply::error(r.error().code ? r.error().code : EINVAL, r.error().message);
  return ctl::Reply::ok(json{{"classes", n}});
}

}  // namespace causeway::fwd

namespace causeway::fwd {

ctl::Reply Forwarder::Impl::get_probe_events(const json& req) const {
  std::uint64_t cursor = 0;
  if (req.contains("cursor")) {
    if (!req["cursor"].is_number_unsigned()) {
      return ctl::Reply::error(EINVAL, "cursor: expected a non-negative integer");
    }
    cursor = req["cursor"].get<std::uint64_t>();
  }
  if (!tunnels)
    return ctl::Reply::ok(json{{"cursor", 0}, {"missed", 0}, {"events", json::array()}});
  return ctl::Reply::ok(tunnels->probe_events_json(cursor));
}

ctl::Reply Forwarder::Impl::set_probe_interval(const json& req) {
  if (!req.contains("interval_ms") || !req["interval_ms"].is_number_unsigned()) {
    return ctl::Reply::error(EINVAL, "interval_ms: expected 0 (off) or 10..60000");
  }
  const auto ms = req["interval_ms"].get<std::uint64_t>();
  if (ms != 0 && (ms < kMinProbeIntervalMs || ms > kMaxProbeIntervalMs)) {
    return ctl::Reply::error(EINVAL, fmt::format("interval_ms: {} is out of range (0 = off, or "
                                                 "{}..{})",
                                                 ms, kMinProbeIntervalMs, kMaxProbeIntervalMs));
  }
  if (!tunnels) return ctl::Reply::ok(json{{"peers", 0}});
  const std::size_t n = tunnels->set_probe_interval(static_cast<std::uint32_t>(ms));
  if (probe_timer) arm_probe_timer();
  spdlog::info("probe interval {} ms on {} peers", ms, n);
  return ctl::Reply::ok(json{{"peers", n}});
}

}  // namespace causeway::fwd
