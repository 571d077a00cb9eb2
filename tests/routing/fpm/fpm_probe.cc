// SPDX-License-Identifier: Apache-2.0
// Test host for the namespace test: runs the FPM listener (routing/fpm Server) and, after
// every batch and every settle, rewrites OUT atomically with the table (one route per line,
// as describe() prints it) followed by "# name value" counter lines. Stops on SIGTERM/SIGINT.
// Usage: rt_fpm_probe ADDRESS PORT QUIET_MS OUT
#include <boost/asio/signal_set.hpp>

#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>

#include "fpm/server.h"
#include "fpm_test_util.h"

using namespace causeway::rt::fpm;

namespace {

class FileSink final : public RouteSink {
 public:
  void apply(std::span<const RouteChange>) override { dirty = true; }
  bool dirty = true;
};

void write_table(const Server& server, const std::string& out) {
  std::string tmp = out + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    for (const auto& line : test::describe(server.core().routes())) f << line << '\n';
    for (std::size_t i = 0; i < kCounterCount; ++i) {
      auto c = static_cast<Counter>(i);
      f << "# " << counter_info(c).name << ' ' << server.core().counters()[c] << '\n';
    }
    f << "# snapshot_open " << server.core().state().snapshot_open() << '\n';
    f << "# connected " << server.connected() << '\n';
  }
  std::rename(tmp.c_str(), out.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::cerr << "usage: rt_fpm_probe ADDRESS PORT QUIET_MS OUT\n";
    return 2;
  }
  boost::asio::io_context io;
  FileSink sink;
  ServerOptions options{argv[1], static_cast<std::uint16_t>(std::stoi(argv[2])),
                        CoreOptions{std::chrono::milliseconds(std::stoi(argv[3]))}};
  auto server = Server::start(io, sink, options);
  if (!server) {
    std::cerr << server.error().message << '\n';
    return 1;
  }
  std::string out = argv[4];
  boost::asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code&, int) { io.stop(); });
  // The server runs on this io_context; a 50 ms poll publishes what changed (the file is
  // for the test's eyes only, the sink is what routed would use).
  boost::asio::steady_timer poll(io);
  bool last_open = true, last_connected = false;
  std::uint64_t last_frames = ~0ull;
  std::function<void()> arm = [&] {
    poll.expires_after(std::chrono::milliseconds(50));
    poll.async_wait([&](const boost::system::error_code& ec) {
      if (ec) return;
      const Server& s = *server.value();
      std::uint64_t frames = s.core().counters()[Counter::kFrames];
      bool open = s.core().state().snapshot_open();
      if (sink.dirty || frames != last_frames || open != last_open ||
          s.connected() != last_connected) {
        write_table(s, out);
        sink.dirty = false;
        last_frames = frames;
        last_open = open;
        last_connected = s.connected();
      }
      arm();
    });
  };
  arm();
  io.run();
  server.value()->stop();
  return 0;
}
