// SPDX-License-Identifier: Apache-2.0
// uapi::Backend (forwarder/uapi/backend.h) for one forwarder tunnel: `wg set` requests applied
// all or nothing to the tunnel's control-side tun::Device, `wg show` answered from it (real
// handshake times and byte counters: the data path counts them in the Device's per-peer state).
// Control thread only, like the Device.
//
// Validation before any change: the private key may not be removed (all zeros: a running tunnel
// keeps its identity), the listen port cannot change at run time (the workers' listeners are
// fixed at start-up: EOPNOTSUPP unless it is the current port), every peer the request would
// create must have a usable public key (Device::check_peer). What `wg` treats as no-ops stays a
// no-op: removing an absent peer, update_only for an absent peer, removing an allowed IP the
// peer does not have.
#pragma once

#include <cstdint>
#include <functional>

#include "causeway/tun/device.h"
#include "uapi/backend.h"

namespace causeway::fwd {

class DeviceBackend final : public uapi::Backend {
 public:
  // on_change runs after every applied set (the forwarder republishes its path groups, whose
  // members name peers).
  DeviceBackend(tun::Device& device, std::uint16_t listen_port,
                std::function<void()> on_change = {})
      : device_(device), listen_port_(listen_port), on_change_(std::move(on_change)) {}

  [[nodiscard]] uapi::DeviceView get() override;
  [[nodiscard]] Result<void> set(const uapi::SetRequest& request) override;

 private:
  [[nodiscard]] Result<void> validate(const uapi::SetRequest& request) const;

  tun::Device& device_;
  std::uint16_t listen_port_;
  std::uint32_t fwmark_ = 0;  // kept for `wg showconf`; the forwarder does not mark packets
  std::function<void()> on_change_;
};

}  // namespace causeway::fwd
