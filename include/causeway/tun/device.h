// SPDX-License-Identifier: Apache-2.0
// The WireGuard protocol core: one local identity (private key), its peers, their handshakes,
// keypairs, timers and cryptokey routing. Sans-I/O (DESIGN.md section 3): the caller passes
// datagrams, inner packets and the current monotonic time; the core answers through an
// ActionSink (send this datagram, deliver this inner packet) and through per-packet result
// codes on the batch data path. Randomness and the wall clock (for TAI64N) are injected.
//
// Flows:
//   receive(datagram)      type 1 -> cookie check -> Noise -> response sent, keypair "next"
//                          type 2 -> Noise -> keypair "current", keepalive/staged data sent
//                          type 3 -> cookie stored for mac2 of the next initiation
//                          type 4 -> decrypt_burst of one packet -> deliver
//   send(inner packet)     allowed IPs -> peer -> encrypt (or stage + initiate handshake)
//   tick(now)              expired protocol timers fire (retry, keepalive, rekey, zeroing)
//   encrypt_burst/decrypt_burst   the forwarder's data path: in place, no allocation, noexcept
//
// Threading (DESIGN.md section 2): the Device object itself is the control side (configuration,
// handshakes, cookies, timers) and is used by one control thread. Its DataPath (data_path()) is
// the worker side: encrypt_burst/decrypt_burst/route may run on worker threads concurrently with
// the control thread. Workers read an immutable snapshot (peers, keypairs, receiver indices,
// allowed IPs) that the control side republishes with one pointer swap; what it replaces is freed
// through the injected Reclaimer once no worker can still hold it. Per-peer mutable data state
// (send nonce: atomic; replay window and send cipher context: one thread each) and the events the
// timers need (data sent/received times, rekey wanted, keypair confirmed, roamed endpoint) are
// written by workers with atomics and absorbed by the control side in tick(). Nothing locks.
// Contract: for one peer, at most one thread encrypts and at most one thread decrypts at a time
// (the forwarder gives each peer one owner worker). Device::encrypt_burst/decrypt_burst (without a
// Counters argument) are the single-threaded form: data path on the control thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "causeway/common/ip.h"
#include "causeway/common/result.h"
#include "causeway/common/strong_id.h"
#include "causeway/tun/allowed_ips.h"
#include "causeway/tun/constants.h"
#include "causeway/tun/counters.h"
#include "causeway/tun/messages.h"

namespace causeway::tun {

class Device;
namespace testing {
bool set_send_counter(Device& dev, PeerId peer, std::uint64_t next_nonce);  // device_testing.h
}  // namespace testing

// Outer UDP endpoint of a peer.
struct Endpoint {
  IpAddress addr;
  std::uint16_t port = 0;
  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

// Injected randomness (ephemeral keys, session indices, cookie secrets, timer jitter).
class Rng {
 public:
  virtual ~Rng() = default;
  virtual void fill(std::span<std::uint8_t> out) = 0;
};

// Injected wall clock, used only for TAI64N handshake timestamps and "latest handshake".
class WallClock {
 public:
  virtual ~WallClock() = default;
  virtual std::chrono::system_clock::time_point wall_now() = 0;
};

// Injected grace-period reclamation: free() must run only after every data-path thread has
// passed a quiescent point (finished the burst it was processing) after retire() was called. The
// control side calls retire() only after publishing the snapshot that no longer references what
// free() releases. The forwarder implements it with rte_rcu_qsbr; a Device used from one thread
// uses immediate_reclaimer().
class Reclaimer {
 public:
  virtual ~Reclaimer() = default;
  virtual void retire(std::function<void()> free) = 0;
};

// Default implementations for production use (RAND_bytes, system_clock) and the reclaimer of a
// single-threaded Device (frees at once).
Rng& system_rng();
WallClock& system_wall_clock();
Reclaimer& immediate_reclaimer();

// What the core asks its host to do. Spans are valid only during the call.
class ActionSink {
 public:
  virtual ~ActionSink() = default;
  virtual void send_datagram(const Endpoint& to, std::span<const std::uint8_t> datagram) = 0;
  virtual void deliver(PeerId from, std::span<const std::uint8_t> inner_packet) = 0;
};

struct DeviceConfig {
  Key32 private_key{};
  // Handshake messages per second above which the responder demands a valid mac2 (cookie mode,
  // whitepaper section 5.3). wireguard-go's trigger is queue depth; ours is a rate. 0 = always
  // demand mac2 (every handshake goes through a cookie round trip).
  std::uint32_t under_load_handshakes_per_second = 1000;
  // Under load, handshake messages accepted per source address per second (token bucket).
  std::uint32_t per_source_handshakes_per_second = 20;
  std::uint32_t per_source_burst = 5;
};

struct PeerConfig {
  Key32 public_key{};
  Key32 preshared_key{};  // all zeros = none (section 5.2)
  std::optional<Endpoint> endpoint;
  std::vector<IpPrefix> allowed_ips;
  std::chrono::seconds persistent_keepalive{0};  // 0 = off
};

struct PeerStatus {
  Key32 public_key{};
  Key32 preshared_key{};  // all zeros = none
  std::optional<Endpoint> endpoint;
  std::vector<IpPrefix> allowed_ips;
  std::optional<std::chrono::system_clock::time_point> last_handshake;
  std::uint64_t rx_bytes = 0;
  std::uint64_t tx_bytes = 0;
  bool has_current_keypair = false;
  std::chrono::seconds persistent_keepalive{0};
};

// One packet of a data-path burst. Encrypt: data points at the inner packet; at least
// kEncryptHeadroom bytes before it and kEncryptTailroom after data+len must be writable.
// On success data/len describe the whole transport message (data moved back 16 bytes).
// Decrypt: data/len describe the received datagram; on success data/len describe the inner
// packet (trimmed to its IP length; len 0 = keepalive) and peer is set. from is the outer
// source (for roaming) and is read on decrypt only.
struct PacketBuf {
  std::uint8_t* data = nullptr;
  std::uint32_t len = 0;
  std::uint32_t headroom = 0;
  std::uint32_t tailroom = 0;
  Endpoint from;
  PeerId peer;
  DropReason result = DropReason::kNone;
};
inline constexpr std::uint32_t kEncryptHeadroom = TransportHeader::kSize;  // 16
inline constexpr std::uint32_t kEncryptTailroom = kMaxTrailer;             // 31

// The worker side of a Device. Every call is noexcept, allocation-free and lock-free; counters
// go to the caller's (per-worker) block. See the threading contract above.
class DataPath {
 public:
  // Encrypts pkts for one peer in place with its current keypair (see Device::encrypt_burst).
  std::size_t encrypt_burst(Nanos now, PeerId peer, std::span<PacketBuf> pkts,
                            Counters& counters) noexcept;
  // Decrypts received transport messages in place (see Device::decrypt_burst).
  std::size_t decrypt_burst(Nanos now, std::span<PacketBuf> pkts, Counters& counters) noexcept;
  // Cryptokey routing: the peer whose allowed IPs cover dst.
  [[nodiscard]] PeerId route(const IpAddress& dst) const noexcept;
  // The peer's published endpoint (where its transport messages go); false if none.
  [[nodiscard]] bool endpoint(PeerId peer, Endpoint& out) const noexcept;
  // Whether the peer has a session to encrypt with now (a packet may be queued otherwise).
  [[nodiscard]] bool can_send(Nanos now, PeerId peer) const noexcept;
  // Receiver index of a transport message -> its peer (for handing a packet to the peer's
  // owner worker before decrypting); invalid if unknown.
  [[nodiscard]] PeerId peer_of_index(std::uint32_t receiver_index) const noexcept;

 private:
  friend class Device;
  struct Impl;
  Impl* impl_ = nullptr;
};

class Device {
 public:
  explicit Device(Rng& rng = system_rng(), WallClock& wall = system_wall_clock(),
                  Reclaimer& reclaimer = immediate_reclaimer());
  ~Device();
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  // ---- configuration (control path) ----
  [[nodiscard]] Result<void> configure(const DeviceConfig& config);
  [[nodiscard]] Result<void> set_private_key(const Key32& private_key);
  [[nodiscard]] const Key32& public_key() const;
  // The configured private key (UAPI `get`); none before configure/set_private_key.
  [[nodiscard]] std::optional<Key32> private_key() const;
  // What add_peer would refuse for this configuration (duplicate key, low-order public key),
  // without changing anything: lets a caller validate a whole request before applying it.
  [[nodiscard]] Result<void> check_peer(const PeerConfig& config) const;
  [[nodiscard]] Result<PeerId> add_peer(const PeerConfig& config);
  [[nodiscard]] Result<void> remove_peer(PeerId peer);
  [[nodiscard]] Result<void> set_endpoint(PeerId peer, const Endpoint& endpoint);
  [[nodiscard]] Result<void> add_allowed_ip(PeerId peer, const IpPrefix& prefix);
  [[nodiscard]] Result<void> remove_allowed_ip(PeerId peer, const IpPrefix& prefix);
  [[nodiscard]] Result<void> set_persistent_keepalive(PeerId peer, std::chrono::seconds every);
  // All zeros = no preshared key. Takes effect from the next handshake (whitepaper 5.2).
  [[nodiscard]] Result<void> set_preshared_key(PeerId peer, const Key32& preshared_key);
  [[nodiscard]] std::optional<PeerId> find_peer(const Key32& public_key) const;
  [[nodiscard]] std::vector<PeerId> peers() const;
  [[nodiscard]] Result<PeerStatus> peer_status(PeerId peer) const;

  // ---- protocol (control path; the data-message branch uses the data path) ----
  // Any received datagram. Data messages are decrypted in place in datagram.
  void receive(Nanos now, const Endpoint& from, std::span<std::uint8_t> datagram, ActionSink& out);
  // An inner packet from the host: routed by its destination through allowed IPs, encrypted
  // and sent, or staged (copied) while a handshake is started.
  void send(Nanos now, std::span<const std::uint8_t> inner_packet, ActionSink& out);
  void send_to_peer(Nanos now, PeerId peer, std::span<const std::uint8_t> inner_packet,
                    ActionSink& out);
  // Starts a handshake now (subject to the REKEY_TIMEOUT spacing).
  void initiate_handshake(Nanos now, PeerId peer, ActionSink& out);
  // Absorbs what the data path recorded (data sent/received, confirmed keypairs, rekey wanted,
  // roamed endpoints), then fires every expired timer. Call when now >= next_deadline(); a
  // threaded host also calls it periodically so that data-path events reach the timers.
  void tick(Nanos now, ActionSink& out);
  // Earliest time tick() has work, including events the data path recorded since the last tick
  // (an early answer is harmless: tick() then fires nothing).
  [[nodiscard]] Nanos next_deadline() const;

  // ---- data path ----
  // The worker side, valid for the Device's lifetime.
  [[nodiscard]] DataPath& data_path() noexcept;
  // Single-threaded forms (data path on the control thread, counted in counters()).
  // Encrypts pkts for one peer in place with its current keypair. Returns how many succeeded;
  // the others carry their drop reason (kNoKeypair: a handshake is requested and will be sent
  // by the next tick()). Counts and timer hooks are updated once per burst.
  std::size_t encrypt_burst(Nanos now, PeerId peer, std::span<PacketBuf> pkts) noexcept;
  // Decrypts received transport messages (any peers) in place: index -> keypair -> AEAD ->
  // replay window -> inner packet and allowed-IPs source check. Returns how many succeeded.
  std::size_t decrypt_burst(Nanos now, std::span<PacketBuf> pkts) noexcept;
  // Cryptokey routing for the forwarder: the peer whose allowed IPs cover dst.
  [[nodiscard]] PeerId route(const IpAddress& dst) const noexcept;

  [[nodiscard]] const Counters& counters() const noexcept;
  [[nodiscard]] bool under_load(Nanos now) const noexcept;

 private:
  friend bool testing::set_send_counter(Device&, PeerId, std::uint64_t);
  struct Impl;
  std::unique_ptr<Impl> impl_;
  DataPath data_;
};

}  // namespace causeway::tun
