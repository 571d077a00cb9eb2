// SPDX-License-Identifier: Apache-2.0
// UAPI backend over a tun::Device (see uapi_backend.h): validate the whole request, then apply.
#include "uapi_backend.h"

#include <cerrno>
#include <set>

#include <fmt/format.h>

namespace causeway::fwd {
namespace {

bool is_zero(const tun::Key32& k) {
  for (auto b : k) {
    if (b != 0) return false;
  }
  return true;
}

}  // namespace

uapi::DeviceView DeviceBackend::get() {
  uapi::DeviceView v;
  v.private_key = device_.private_key();
  v.listen_port = listen_port_;
  v.fwmark = fwmark_;
  for (tun::PeerId id : device_.peers()) {
    auto st = device_.peer_status(id);
    if (!st) continue;
    const tun::PeerStatus& s = st.value();
    uapi::PeerView p;
    p.public_key = s.public_key;
    p.preshared_key = s.preshared_key;
    p.endpoint = s.endpoint;
    p.allowed_ips = s.allowed_ips;
    p.persistent_keepalive = s.persistent_keepalive;
    p.last_handshake = s.last_handshake;
    p.rx_bytes = s.rx_bytes;
    p.tx_bytes = s.tx_bytes;
    v.peers.push_back(std::move(p));
  }
  return v;
}

Result<void> DeviceBackend::validate(const uapi::SetRequest& r) const {
  if (r.private_key && is_zero(*r.private_key)) {
    return fail("removing the private key of a running tunnel is not supported", EINVAL);
  }
  if (r.listen_port && *r.listen_port != listen_port_) {
    return fail(fmt::format("listen port {} is fixed while the forwarder runs (asked for {})",
                            listen_port_, *r.listen_port),
                EOPNOTSUPP);
  }
  // Which peers exist at each step of the request, as far as creation is concerned.
  std::set<tun::Key32> present;
  if (!r.replace_peers) {
    for (tun::PeerId id : device_.peers()) {
      if (auto st = device_.peer_status(id)) present.insert(st.value().public_key);
    }
  }
  for (std::size_t i = 0; i < r.peers.size(); ++i) {
    const uapi::PeerChange& c = r.peers[i];
    if (c.remove) {
      present.erase(c.public_key);
      continue;
    }
    if (present.count(c.public_key) != 0 || c.update_only) continue;
    tun::PeerConfig pc;
    pc.public_key = c.public_key;
    // A peer that exists now (removed earlier in this request) has a key known to be good.
    if (!device_.find_peer(c.public_key)) {
      if (auto ok = device_.check_peer(pc); !ok) {
        return fail(fmt::format("peer {}: {}", i, ok.error().message), ok.error().code);
      }
    }
    present.insert(c.public_key);
  }
  return boost::outcome_v2::success();
}

Result<void> DeviceBackend::set(const uapi::SetRequest& r) {
  if (auto ok = validate(r); !ok) return ok;
  // Nothing below can be refused by the Device for the reasons checked above; a failure here
  // would be an internal error and is reported as EIO.
  auto check = [](Result<void> res) -> Result<void> {
    if (!res) return fail("applying a validated request failed: " + res.error().message, EIO);
    return boost::outcome_v2::success();
  };
  if (r.private_key && *r.private_key != device_.private_key()) {
    if (auto ok = check(device_.set_private_key(*r.private_key)); !ok) return ok;
  }
  if (r.fwmark) fwmark_ = *r.fwmark;
  if (r.replace_peers) {
    for (tun::PeerId id : device_.peers()) {
      if (auto ok = check(device_.remove_peer(id)); !ok) return ok;
    }
  }
  for (const uapi::PeerChange& c : r.peers) {
    std::optional<tun::PeerId> id = device_.find_peer(c.public_key);
    if (c.remove) {
      if (id) {
        if (auto ok = check(device_.remove_peer(*id)); !ok) return ok;
      }
      continue;
    }
    if (!id) {
      if (c.update_only) continue;
      tun::PeerConfig pc;
      pc.public_key = c.public_key;
      auto added = device_.add_peer(pc);
      if (!added) return fail("applying a validated request failed: " + added.error().message, EIO);
      id = added.value();
    }
    if (c.preshared_key) {
      if (auto ok = check(device_.set_preshared_key(*id, *c.preshared_key)); !ok) return ok;
    }
    if (c.endpoint) {
      if (auto ok = check(device_.set_endpoint(*id, *c.endpoint)); !ok) return ok;
    }
    if (c.persistent_keepalive) {
      if (auto ok = check(device_.set_persistent_keepalive(*id, *c.persistent_keepalive)); !ok) {
        return ok;
      }
    }
    if (c.replace_allowed_ips) {
      auto st = device_.peer_status(*id);
      if (st) {
        for (const IpPrefix& p : st.value().allowed_ips) {
          if (auto ok = check(device_.remove_allowed_ip(*id, p)); !ok) return ok;
        }
      }
    }
    for (const IpPrefix& p : c.add_allowed_ips) {
      if (auto ok = check(device_.add_allowed_ip(*id, p)); !ok) return ok;
    }
    for (const IpPrefix& p : c.remove_allowed_ips) {
      (void)device_.remove_allowed_ip(*id, p);  // absent: a no-op, as in wireguard-go
    }
  }
  if (on_change_) on_change_();
  return boost::outcome_v2::success();
}

}  // namespace causeway::fwd
