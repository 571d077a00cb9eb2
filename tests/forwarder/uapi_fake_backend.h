// SPDX-License-Identifier: Apache-2.0
// A stateful uapi::Backend for tests: applies a SetRequest all or nothing with the semantics
// of the kernel and wireguard-go (replace_peers, update_only, remove, replace_allowed_ips,
// cryptokey routing moves a prefix to the peer that last claimed it), and refuses on demand.
// A mutex guards everything: the server calls it from its io thread, tests read it from theirs.
#pragma once

#include <algorithm>
#include <cerrno>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>

#include "uapi/backend.h"

namespace causeway::fwd::uapi::test {

class FakeBackend final : public Backend {
 public:
  DeviceView get() override {
    std::lock_guard lock(mu_);
    ++get_calls_;
    if (throw_on_get_) throw std::runtime_error("injected get failure");
    return view_;
  }

  Result<void> set(const SetRequest& request) override {
    std::lock_guard lock(mu_);
    ++set_calls_;
    if (request.listen_port && busy_ports_.count(*request.listen_port)) {
      return fail("port " + std::to_string(*request.listen_port) + " in use", EADDRINUSE);
    }
    DeviceView next = view_;  // all or nothing: work on a copy
    if (request.private_key) {
      if (*request.private_key == Key32{}) {
        next.private_key.reset();
      } else {
        next.private_key = request.private_key;
      }
    }
    if (request.listen_port) next.listen_port = *request.listen_port;
    if (request.fwmark) next.fwmark = *request.fwmark;
    if (request.replace_peers) next.peers.clear();
    for (const PeerChange& c : request.peers) {
      auto it = std::find_if(next.peers.begin(), next.peers.end(),
                             [&](const PeerView& p) { return p.public_key == c.public_key; });
      if (c.remove) {
        if (it != next.peers.end()) next.peers.erase(it);
        continue;
      }
      if (it == next.peers.end()) {
        if (c.update_only) continue;
        if (next.peers.size() >= max_peers_) return fail("too many peers", ENOSPC);
        it = next.peers.insert(next.peers.end(), PeerView{});
        it->public_key = c.public_key;
      }
      PeerView& p = *it;
      if (c.preshared_key) p.preshared_key = *c.preshared_key;
      if (c.endpoint) p.endpoint = c.endpoint;
      if (c.persistent_keepalive) p.persistent_keepalive = *c.persistent_keepalive;
      if (c.replace_allowed_ips) p.allowed_ips.clear();
      for (const IpPrefix& a : c.remove_allowed_ips) std::erase(p.allowed_ips, a);
      for (const IpPrefix& a : c.add_allowed_ips) {
        for (PeerView& other : next.peers) std::erase(other.allowed_ips, a);
        p.allowed_ips.push_back(a);
      }
    }
    view_ = std::move(next);
    ++applied_;
    return boost::outcome_v2::success();
  }

  // ---- test controls ----
  void refuse_port(std::uint16_t port) {
    std::lock_guard lock(mu_);
    busy_ports_.insert(port);
  }
  void set_max_peers(std::size_t n) {
    std::lock_guard lock(mu_);
    max_peers_ = n;
  }
  void throw_on_get(bool on) {
    std::lock_guard lock(mu_);
    throw_on_get_ = on;
  }
  template <typename F>
  void edit(F&& f) {
    std::lock_guard lock(mu_);
    f(view_);
  }
  DeviceView snapshot() {
    std::lock_guard lock(mu_);
    return view_;
  }
  int set_calls() {
    std::lock_guard lock(mu_);
    return set_calls_;
  }
  int applied() {
    std::lock_guard lock(mu_);
    return applied_;
  }
  int get_calls() {
    std::lock_guard lock(mu_);
    return get_calls_;
  }

 private:
  std::mutex mu_;  // guards everything below
  DeviceView view_;
  std::set<std::uint16_t> busy_ports_;
  std::size_t max_peers_ = 1000;
  bool throw_on_get_ = false;
  int set_calls_ = 0;
  int applied_ = 0;
  int get_calls_ = 0;
};

}  // namespace causeway::fwd::uapi::test
