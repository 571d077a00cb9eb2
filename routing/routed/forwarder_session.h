// SPDX-License-Identifier: Apache-2.0
// The control-socket connections of causeway-routed to the forwarder (docs/routed.md,
// "Forwarder connections").
//
// open_forwarder_connection(): connect + hello, what every connection starts with.
//
// The FIB builder uses only that: its connection sits behind ForwarderLink (the builder's unit
// tests use a fake link), it paces its own attempts in process(now), a connection counts
// (`forwarder_connects`) only once the ports and next-hop groups are read, and its hello
// doubles as the idle keepalive.
//
// ForwarderSession: one connection as the path programmer and the probe feed keep it.
//  - connect_when_due(now): a usable client is kept; without one, a connection (connect +
//    hello with the owner's client name) is tried at most once per reconnect interval. The
//    owner learns when the connection is new (kNew; hello() then holds the forwarder's reply,
//    e.g. its pid) and does its own start-of-connection work;
//  - lost(error): a request failed on the transport: counted, logged once as
//    "<owner>: forwarder: <error>; reconnecting", the client dropped (the next
//    connect_when_due() reconnects when due);
//  - the owner's counters `connects` and `errors` are counted here (its exported names stay
//    the owner's).
//
// Threads: one thread uses a session (the owner's I/O thread); it has no lock of its own. The
// counters are atomics that other threads may read.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "causeway/common/result.h"
#include "control/client.h"

namespace causeway::rt {

struct ForwarderConnection {
  fwd::ctl::ControlClient client;
  fwd::ctl::HelloInfo hello;  // the forwarder's reply (its pid tells a new process)
};

// Connects to `socket_path` and says hello as `client_name`; either error as it came.
[[nodiscard]] Result<ForwarderConnection> open_forwarder_connection(
    std::string_view socket_path, std::string_view client_name,
    fwd::ctl::ControlClientOptions options = {});

class ForwarderSession {
 public:
  enum class State : std::uint8_t {
    kDown,  // no usable client: not due yet, or the attempt failed
    kUp,    // the client of an earlier call is usable
    kNew,   // connected now (hello() has the reply)
  };

  // `owner` prefixes the log lines ("path programmer"); `client_name` goes in the hello.
  ForwarderSession(std::string owner, std::string socket_path, std::string client_name,
                   std::chrono::milliseconds reconnect_interval,
                   std::atomic<std::uint64_t>& connects, std::atomic<std::uint64_t>& errors,
                   fwd::ctl::ControlClientOptions options = {});

  [[nodiscard]] State connect_when_due(std::chrono::steady_clock::time_point now);
  void lost(const Error& error);

  // After kUp or kNew only (until lost()).
  [[nodiscard]] fwd::ctl::ControlClient& client() { return conn_->client; }
  [[nodiscard]] const fwd::ctl::HelloInfo& hello() const { return conn_->hello; }

 private:
  std::string owner_;
  std::string path_;
  std::string client_name_;
  std::chrono::milliseconds reconnect_interval_;
  std::atomic<std::uint64_t>& connects_;
  std::atomic<std::uint64_t>& errors_;
  fwd::ctl::ControlClientOptions options_;

  std::optional<ForwarderConnection> conn_;
  std::chrono::steady_clock::time_point next_connect_{};
};

}  // namespace causeway::rt
