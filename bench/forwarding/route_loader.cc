// SPDX-License-Identifier: Apache-2.0
// cw_route_loader: the control-plane half of the forwarding benchmark (bench/run-forwarding.sh).
//
// 1. FIB load time: connects to causeway-fwd's control socket with the client library and
//    sends the benchmark's route set (route_set.h; 1M IPv4 routes by default, gateways on
//    port 1's subnet with static neighbours) in batches. The time runs from the first send to
//    the reply to the last batch: the forwarder replies once both FIB copies hold the batch
//    and the new copy is published, so the last reply means the whole table is live.
//    Any rejected batch, or an "added" total other than the number sent, exits non-zero.
//    Also the CPU time the forwarder's control thread ran meanwhile (it applies the batches),
//    which tells a slow load from a control thread that other processes kept off its core.
// 2. Memory: causeway-fwd's VmRSS (/proc/PID/status) after the load.
// 3. Forwarding rate (--measure-seconds): after a warm-up, reads the forwarder's counters
//    (kGetStats) twice, a window apart, and reports the packets sent on the output port per
//    second, and busy_cycles / received packets of the workers (TSC cycles per packet spent
//    in polls that found work: rx burst, stages, tx), and the packets per CPU-second the
//    worker threads really ran (/proc/PID/task/TID/schedstat), which other load on a shared
//    machine does not move.
//
// Output is one "key=value" line per figure, for the script to parse.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "control/client.h"
#include "route_set.h"

namespace {

using causeway::IpAddress;
using causeway::IpPrefix;
using causeway::fwd::ctl::ControlClient;
using causeway::fwd::ctl::ControlClientOptions;
using causeway::fwd::ctl::RouteKind;
using causeway::fwd::ctl::RouteOp;
using causeway::fwd::ctl::RouteUpdate;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

long vmrss_kib(long pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

// CPU time (ns) the forwarder's worker threads ("rte-worker-N") actually ran, from
// /proc/PID/task/TID/schedstat: on a shared machine the rate per CPU-second of the worker
// is the figure that other processes' load does not move.
std::uint64_t worker_run_ns(long pid) {
  std::uint64_t total = 0;
  const std::filesystem::path dir = "/proc/" + std::to_string(pid) + "/task";
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator(dir, ec)) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    std::getline(comm, name);
    if (name.rfind("rte-worker-", 0) != 0) continue;
    std::ifstream sched(task.path() / "schedstat");
    std::uint64_t ns = 0;
    if (sched >> ns) total += ns;
  }
  return total;
}

// CPU time (ns) the forwarder's control thread (the main thread: TID == PID, which applies
// route batches) ran; 0 if unknown.
std::uint64_t control_run_ns(long pid) {
  if (pid <= 0) return 0;
  std::ifstream sched("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) +
                      "/schedstat");
  std::uint64_t ns = 0;
  sched >> ns;
  return ns;
}

// Time (ns) a thread spent runnable but waiting for a CPU (schedstat's second field): on a
// shared machine, how much of a wall-clock figure other processes took.
std::uint64_t run_delay_ns(const std::string& schedstat_path) {
  std::ifstream sched(schedstat_path);
  std::uint64_t run = 0, wait = 0;
  sched >> run >> wait;
  return wait;
}

// CPU time (ns) of this process.
std::uint64_t self_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ull +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

struct Sample {
  Clock::time_point at;
  std::uint64_t worker_ns = 0;
  std::uint64_t out_tx = 0;
  std::uint64_t in_rx = 0;
  std::uint64_t busy_cycles = 0;
  std::uint64_t drops = 0;
  nlohmann::json drop_reasons;
};

std::uint64_t port_counter(const nlohmann::json& stats, unsigned index, const char* key) {
  for (const auto& p : stats.at("ports")) {
    if (p.at("index").get<unsigned>() == index) return p.at(key).get<std::uint64_t>();
  }
  throw std::runtime_error("no port with index " + std::to_string(index) + " in the stats");
}

causeway::Result<Sample> sample(ControlClient& client, long pid, unsigned in_port,
                                unsigned out_port) {
  auto stats = client.get_stats();
  Sample s;
  s.at = Clock::now();
  s.worker_ns = pid > 0 ? worker_run_ns(pid) : 0;
  if (!stats) return boost::outcome_v2::failure(stats.error());
  try {
    const auto& j = stats.value();
    s.out_tx = port_counter(j, out_port, "tx_packets");
    s.in_rx = port_counter(j, in_port, "rx_packets");
    for (const auto& w : j.at("workers")) s.busy_cycles += w.at("busy_cycles").get<std::uint64_t>();
    s.drop_reasons = j.at("drops");
    for (const auto& [name, v] : s.drop_reasons.items()) s.drops += v.get<std::uint64_t>();
  } catch (const std::exception& e) {
    return causeway::fail(std::string("unexpected stats reply: ") + e.what(), EPROTO);
  }
  return s;
}

causeway::Result<ControlClient> connect_with_deadline(const std::string& path,
                                                      ControlClientOptions options,
                                                      double timeout_s) {
  const auto t0 = Clock::now();
  for (;;) {
    auto c = ControlClient::connect(path, options);
    if (c) {
      if (auto h = c.value().hello("cw_route_loader"); h) return c;
    }
    if (seconds_since(t0) > timeout_s) {
      return causeway::fail("no answer on " + path + " within " + std::to_string(timeout_s) + " s",
                            ETIMEDOUT);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "cw_route_loader: load the benchmark FIB over the control socket, time it, "
      "and measure the forwarding rate"};
  std::string socket_path = "/run/causeway/fwd.sock";
  std::size_t n_routes = 1000000;
  std::uint64_t seed = causeway::bench::kDefaultRouteSeed;
  std::size_t batch = 16384;
  unsigned out_port = 1, in_port = 0;
  std::vector<std::string> gateway_texts{"10.99.1.2", "10.99.1.3", "10.99.1.4", "10.99.1.5"};
  long pid = 0;
  double connect_timeout = 30, warmup = 2, window = 0;
  std::string order = "random";
  app.add_option("-s,--socket", socket_path, "causeway-fwd control socket");
  app.add_option("--routes", n_routes, "routes to load (0: only measure)")
      ->check(CLI::Range(0, 1 << 24));
  app.add_option("--seed", seed, "route set seed (must match cw_pcap_gen's)");
  app.add_option("--batch", batch, "routes per kRouteBatch request")->check(CLI::Range(1, 1 << 20));
  app.add_option("--in-port", in_port, "port index the traffic arrives on");
  app.add_option("--out-port", out_port, "port index of the gateways (the routes' output port)");
  app.add_option("--gateway", gateway_texts, "gateway addresses, used round robin");
  app.add_option("--pid", pid, "causeway-fwd PID for VmRSS (default: from the hello reply)");
  app.add_option("--order", order,
                 "send the routes in random order or sorted by prefix (as a RIB dump would be)")
      ->check(CLI::IsMember({"random", "sorted"}));
  app.add_option("--connect-timeout", connect_timeout, "seconds to wait for the socket");
  app.add_option("--warmup-seconds", warmup, "pause between the load and the rate window");
  app.add_option("--measure-seconds", window, "rate window (0: no rate measurement)");
  CLI11_PARSE(app, argc, argv);

  std::vector<IpAddress> gateways;
  for (const auto& t : gateway_texts) {
    auto a = IpAddress::parse(t);
    if (!a || !a->is_v4()) {
      std::fprintf(stderr, "cw_route_loader: bad --gateway %s\n", t.c_str());
      return 2;
    }
    gateways.push_back(*a);
  }

  ControlClientOptions options;
  options.timeout = std::chrono::milliseconds(60000);
  options.max_batch_records = batch;
  auto connected = connect_with_deadline(socket_path, options, connect_timeout);
  if (!connected) {
    std::fprintf(stderr, "cw_route_loader: %s\n", connected.error().message.c_str());
    return 1;
  }
  ControlClient client = std::move(connected).value();
  if (pid == 0) {
    auto hello = client.hello("cw_route_loader");
    if (hello) pid = hello.value().pid;
  }

  if (n_routes > 0) {
    auto set = causeway::bench::make_bench_routes(n_routes, seed);
    if (order == "sorted") {
      std::sort(set.begin(), set.end(), [](const auto& a, const auto& b) {
        return a.network != b.network ? a.network < b.network : a.length < b.length;
      });
    }
    std::vector<RouteUpdate> updates;
    updates.reserve(set.size());
    for (std::size_t i = 0; i < set.size(); ++i) {
      RouteUpdate u;
      u.op = RouteOp::kAdd;
      u.prefix = IpPrefix{IpAddress::v4(set[i].network), set[i].length};
      u.kind = RouteKind::kGateway;
      u.gateway = gateways[i % gateways.size()];
      u.port = static_cast<std::uint16_t>(out_port);
      updates.push_back(u);
    }
    // One send_routes() call per batch, so that the batch size is ours whatever the client's
    // own splitting does; each call is one request and waits for its reply.
    std::uint64_t added = 0;
    std::size_t batches = 0;
    const std::span<const RouteUpdate> all(updates);
    const std::uint64_t control_ns0 = control_run_ns(pid);
    const std::string control_sched =
        "/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/schedstat";
    const std::uint64_t control_wait0 = pid > 0 ? run_delay_ns(control_sched) : 0;
    const std::uint64_t self_wait0 = run_delay_ns("/proc/thread-self/schedstat");
    const std::uint64_t self_cpu0 = self_cpu_ns();
    const auto t0 = Clock::now();
    for (std::size_t first = 0; first < all.size(); first += batch) {
      const auto part = all.subspan(first, std::min(batch, all.size() - first));
      auto r = client.send_routes(part);
      if (!r) {
        std::fprintf(stderr, "cw_route_loader: batch %zu (routes %zu..%zu): %s\n", batches, first,
                     first + part.size() - 1, r.error().message.c_str());
        return 1;
      }
      added += r.value().added;
      ++batches;
    }
    const double load_s = seconds_since(t0);
    const double control_s = static_cast<double>(control_run_ns(pid) - control_ns0) / 1e9;
    const double control_wait_s =
        pid > 0 ? static_cast<double>(run_delay_ns(control_sched) - control_wait0) / 1e9 : 0;
    const double loader_s = static_cast<double>(self_cpu_ns() - self_cpu0) / 1e9;
    const double loader_wait_s =
        static_cast<double>(run_delay_ns("/proc/thread-self/schedstat") - self_wait0) / 1e9;
    // Wall time = the two sides' CPU, one after the other (a batch is sent, applied, answered)
    // + the time each waited for a CPU that other processes held + message passing.
    std::printf(
        "fib_load routes=%zu order=%s batches=%zu batch_size=%zu added=%llu seconds=%.3f "
        "routes_per_second=%.0f control_cpu_seconds=%.3f control_wait_seconds=%.3f "
        "loader_cpu_seconds=%.3f loader_wait_seconds=%.3f\n",
        updates.size(), order.c_str(), batches, batch, static_cast<unsigned long long>(added),
        load_s, static_cast<double>(updates.size()) / load_s, control_s, control_wait_s, loader_s,
        loader_wait_s);
    if (added != updates.size()) {
      std::fprintf(stderr, "cw_route_loader: the forwarder added %llu routes of %zu\n",
                   static_cast<unsigned long long>(added), updates.size());
      return 1;
    }
    auto stats = client.get_stats();
    if (stats && stats.value().contains("fib")) {
      std::printf("fib routes_total=%llu next_hops=%llu\n",
                  stats.value()["fib"].value("routes", 0ull),
                  stats.value()["fib"].value("next_hops", 0ull));
    }
  }
  if (pid > 0) std::printf("rss pid=%ld vmrss_kib=%ld\n", pid, vmrss_kib(pid));

  if (window > 0) {
    std::this_thread::sleep_for(std::chrono::duration<double>(warmup));
    auto a = sample(client, pid, in_port, out_port);
    if (!a) {
      std::fprintf(stderr, "cw_route_loader: stats: %s\n", a.error().message.c_str());
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(window));
    auto b = sample(client, pid, in_port, out_port);
    if (!b) {
      std::fprintf(stderr, "cw_route_loader: stats: %s\n", b.error().message.c_str());
      return 1;
    }
    const double secs = std::chrono::duration<double>(b.value().at - a.value().at).count();
    const std::uint64_t tx = b.value().out_tx - a.value().out_tx;
    const std::uint64_t rx = b.value().in_rx - a.value().in_rx;
    const std::uint64_t cycles = b.value().busy_cycles - a.value().busy_cycles;
    const double cpu_s = static_cast<double>(b.value().worker_ns - a.value().worker_ns) / 1e9;
    std::printf(
        "forward seconds=%.3f rx_packets=%llu tx_packets=%llu drops=%llu mpps=%.3f "
        "busy_cycles_per_packet=%.1f worker_cpu_seconds=%.3f mpps_per_worker_cpu=%.3f\n",
        secs, static_cast<unsigned long long>(rx), static_cast<unsigned long long>(tx),
        static_cast<unsigned long long>(b.value().drops - a.value().drops),
        static_cast<double>(tx) / secs / 1e6,
        rx ? static_cast<double>(cycles) / static_cast<double>(rx) : 0.0, cpu_s,
        cpu_s > 0 ? static_cast<double>(tx) / cpu_s / 1e6 : 0.0);
    for (const auto& [name, v] : b.value().drop_reasons.items()) {
      const std::uint64_t before = a.value().drop_reasons.value(name, 0ull);
      if (v.get<std::uint64_t>() != before) {
        std::printf("drop reason=%s count=%llu\n", name.c_str(),
                    static_cast<unsigned long long>(v.get<std::uint64_t>() - before));
      }
    }
    if (tx == 0) {
      std::fprintf(stderr, "cw_route_loader: nothing was forwarded in the window\n");
      return 1;
    }
  }
  return 0;
}
