// SPDX-License-Identifier: Apache-2.0
// Test seam (private to tunnels/ and its tests): reaches state that real traffic cannot reach
// in a unit test, such as a nonce counter near 2^60 or 2^64.
#pragma once

#include <cstdint>

#include "causeway/tun/device.h"

namespace causeway::tun::testing {

// Sets the next send nonce of the peer's current keypair; false if it has none.
bool set_send_counter(Device& dev, PeerId peer, std::uint64_t next_nonce);

}  // namespace causeway::tun::testing
