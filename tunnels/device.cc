// SPDX-License-Identifier: Apache-2.0
// WireGuard device core (see include/causeway/tun/device.h for the flows and threading).
//
// Receive path: receive() classifies by message type. Handshake messages pass the mac1 check,
// then the load check (cookie reply when under load and mac2 is not valid, whitepaper 5.3),
// then Noise (noise.cc). Data messages go through the data path: index -> keypair -> AEAD
// (in place) -> replay window (only after authentication) -> keypair confirmation -> roaming
// -> inner IP header and allowed-IPs source check.
// Send path: send() -> allowed IPs -> the peer's current keypair; without one the packet is
// staged and a handshake initiated.
// Timers (whitepaper 6.2-6.4) are deadlines per peer, set by hooks named after protocol events
// as in wireguard-go's timers.go, and fired by tick(). The data path does not call the hooks: it
// records the events in PeerData atomics and absorb() replays them on the control thread.
//
// Control/data split: the control side (Impl) owns Peer, Keypair and PeerData objects. Workers
// see them only through the published Snapshot (DataPath::Impl::snapshot). Every public control
// call ends with commit(): if anything workers see changed, a new Snapshot is built and swapped
// in, then the replaced snapshot and every keypair/peer data retired during the call are handed
// to the Reclaimer (after the swap, so no worker can pick them up again).
#include "causeway/tun/device.h"

#include <openssl/rand.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <deque>
#include <limits>
#include <map>
#include <unordered_map>

#include "crypto.h"
#include "device_testing.h"
#include "noise.h"
#include "replay.h"

namespace causeway::tun {

namespace {

using std::chrono::seconds;

class SystemRng final : public Rng {
 public:
  void fill(std::span<std::uint8_t> out) override {
    if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) std::abort();
  }
};
class SystemWallClock final : public WallClock {
 public:
  std::chrono::system_clock::time_point wall_now() override {
    return std::chrono::system_clock::now();
  }
};

inline std::uint16_t load_be16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}

// One session (whitepaper 5.4.5). Created and destroyed by the control side; used by workers
// through the snapshot. send_nonce is shared by every sender (fetch_add); each AEAD context and
// the replay window have one user thread at a time (see the contract in device.h).
struct Keypair {
  crypto::AeadContext send;          // the peer's encrypting worker
  crypto::AeadContext send_control;  // the control thread (keepalives, staged packets)
  crypto::AeadContext recv;          // the peer's decrypting thread
  std::atomic<std::uint64_t> send_nonce{0};
  ReplayWindow replay;  // decrypting thread only
  // Set by the decrypting thread when a responder's "next" keypair first authenticates; the
  // control side then rotates it to current. Senders may use a confirmed next at once.
  std::atomic<bool> confirmed{false};
  std::uint32_t local_index = 0;
  std::uint32_t remote_index = 0;
  Nanos created{};
  bool initiator = false;
  PeerId peer;
};

constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::min();

// Endpoint a worker saw authenticated traffic from, for roaming. Single writer (the peer's
// decrypting thread), read by the control thread; a sequence lock over relaxed atomic words keeps
// both sides free of data races without a lock.
class RoamSlot {
 public:
  // Writer only.
  // Fence-free (ThreadSanitizer understands it): the acquire RMW keeps the data stores after the
  // odd sequence; release data stores let a reader that sees any of them also see that odd
  // sequence on its re-check.
  void write(const Endpoint& e) noexcept {
    const auto w = pack(e);
    const std::uint32_t s = seq_.fetch_add(1, std::memory_order_acq_rel);
    for (std::size_t i = 0; i < w.size(); ++i) words_[i].store(w[i], std::memory_order_release);
    seq_.store(s + 2, std::memory_order_release);
  }
  // Reader: the latest endpoint written and its sequence (0 = never written).
  std::uint32_t read(Endpoint& out) const noexcept {
    for (;;) {
      const std::uint32_t s1 = seq_.load(std::memory_order_acquire);
      if (s1 == 0) return 0;
      if (s1 & 1) continue;
      std::array<std::uint64_t, 3> w;
      for (std::size_t i = 0; i < w.size(); ++i) w[i] = words_[i].load(std::memory_order_acquire);
      if (seq_.load(std::memory_order_acquire) != s1) continue;
      out = unpack(w);
      return s1;
    }
  }

 private:
  static std::array<std::uint64_t, 3> pack(const Endpoint& e) noexcept {
    std::array<std::uint64_t, 3> w{};
    std::memcpy(&w[0], e.addr.bytes.data(), 16);
    w[2] = (std::uint64_t{e.port} << 8) | (e.addr.is_v4() ? 4u : 6u);
    return w;
  }
  static Endpoint unpack(const std::array<std::uint64_t, 3>& w) noexcept {
    Endpoint e;
    std::memcpy(e.addr.bytes.data(), &w[0], 16);
    e.addr.family = (w[2] & 0xff) == 4 ? Family::kV4 : Family::kV6;
    e.port = static_cast<std::uint16_t>(w[2] >> 8);
    return e;
  }
  std::atomic<std::uint32_t> seq_{0};
  std::array<std::atomic<std::uint64_t>, 3> words_{};
};

// Mutable data-path state of one peer: byte counters and the events the control-side timers
// need. Written by workers (relaxed atomics: each value is read on its own, nothing is ordered
// through it); the control thread takes each event with exchange(kNever) in absorb(), so a slot
// holds "the latest (or first) such event since the last absorb". Times are the callers'
// monotonic nanoseconds, kNever = none.
struct PeerData {
  std::atomic<std::uint64_t> rx_bytes{0};
  std::atomic<std::uint64_t> tx_bytes{0};
  // timers_data_sent: first data message sent since the last authenticated receive.
  std::atomic<std::int64_t> first_data_sent{kNever};
  // timers_any_authenticated_packet_received.
  std::atomic<std::int64_t> last_auth_received{kNever};
  // timers_data_received: first data message received since the last authenticated send, and
  // whether more followed (need another keepalive).
  std::atomic<std::int64_t> first_data_received{kNever};
  std::atomic<bool> more_data_received{false};
  // timers_any_authenticated_packet_sent.
  std::atomic<std::int64_t> last_auth_sent{kNever};
  // timers_any_authenticated_packet_traversal.
  std::atomic<std::int64_t> last_traversal{kNever};
  // A sender or receiver decided a handshake is due (no keypair, rekey after time/messages).
  std::atomic<bool> handshake_wanted{false};
  RoamSlot roam;
};

// What workers see of a peer. Immutable once published.
struct PeerView {
  PeerData* data = nullptr;  // nullptr: no such peer
  Keypair* current = nullptr;
  Keypair* next = nullptr;  // responder's unconfirmed keypair
  std::optional<Endpoint> endpoint;
};

// Everything workers read, published as a whole by one pointer swap.
struct Snapshot {
  std::vector<PeerView> peers;                          // by PeerId
  std::unordered_map<std::uint32_t, Keypair*> indices;  // receiver index -> keypair
  std::shared_ptr<const AllowedIps> allowed;
};

struct Peer {
  PeerId id;
  NoisePeerKeys keys;
  crypto::Key mac1_key{};    // HASH(LABEL_MAC1 || peer static): mac1 of what we send it
  crypto::Key cookie_key{};  // HASH(LABEL_COOKIE || peer static): opens its cookie replies
  std::optional<Endpoint> endpoint;
  NoiseHandshake hs;
  Tai64n greatest_timestamp{};
  std::optional<Nanos> last_initiation_consumed;
  std::optional<Nanos> last_initiation_sent;
  std::unique_ptr<Keypair> current, previous, next;
  Mac16 cookie{};
  std::optional<Nanos> cookie_time;
  Mac16 last_mac1{};
  bool has_last_mac1 = false;
  // Timers (deadlines on the caller's monotonic clock).
  std::optional<Nanos> t_retransmit_handshake, t_send_keepalive, t_new_handshake,
      t_zero_key_material, t_persistent_keepalive;
  int handshake_attempts = 0;
  bool need_another_keepalive = false;
  bool handshake_wanted = false;
  seconds persistent_keepalive{0};
  std::deque<std::vector<std::uint8_t>> staged;
  std::optional<std::chrono::system_clock::time_point> last_handshake;
  std::unique_ptr<PeerData> data = std::make_unique<PeerData>();
  std::uint32_t seen_roam = 0;  // roam sequence absorb() has already applied
};

struct IndexEntry {
  PeerId peer;
  Keypair* keypair = nullptr;  // nullptr: the index names the peer's pending handshake
};

struct Bucket {
  Nanos tokens{};
  Nanos last{};
};

constexpr std::size_t kMaxRateLimitEntries = 4096;
constexpr std::size_t kScratchSize = 65536 + kEncryptHeadroom + kEncryptTailroom;

class ImmediateReclaimer final : public Reclaimer {
 public:
  void retire(std::function<void()> free) override { free(); }
};

inline void note_time(std::atomic<std::int64_t>& slot, Nanos now) noexcept {
  slot.store(now.count(), std::memory_order_relaxed);
}

}  // namespace

// The worker side's only state: the published snapshot. Written (swapped) by the control thread
// in commit(), read with acquire by workers once per burst.
struct DataPath::Impl {
  std::atomic<const Snapshot*> snapshot{nullptr};
  const Snapshot& snap() const noexcept { return *snapshot.load(std::memory_order_acquire); }
};

namespace {

inline bool usable_for_send(const Keypair* kp, Nanos now) noexcept {
  return kp != nullptr && now - kp->created < kRejectAfterTime &&
         kp->send_nonce.load(std::memory_order_relaxed) < kRejectAfterMessages;
}

// The keypair a sender uses: current, or a responder's next once a worker confirmed it (the
// control side rotates it to current at its next absorb()).
inline Keypair* send_keypair(const PeerView& v) noexcept {
  if (v.next != nullptr && v.next->confirmed.load(std::memory_order_acquire)) return v.next;
  return v.current;
}

// Why kp cannot seal for pd now; kNone when it can.
DropReason seal_refusal(Nanos now, const PeerData* pd, const Keypair* kp) noexcept {
  if (pd == nullptr || kp == nullptr) return DropReason::kNoKeypair;
  if (now - kp->created >= kRejectAfterTime) return DropReason::kKeypairExpired;
  // Checked before reserving so the shared counter can never wrap (each sender adds at most
  // one burst past the limit).
  if (kp->send_nonce.load(std::memory_order_relaxed) >= kRejectAfterMessages) {
    return DropReason::kCounterExhausted;
  }
  return DropReason::kNone;
}

// Seals pkts for one peer in place with kp (through its worker or its control cipher context)
// and records the timer events in pd. Counts once per burst where it can.
std::size_t seal_burst(Nanos now, PeerId id, PeerData* pd, Keypair* kp, bool control,
                       std::span<PacketBuf> pkts, Counters& counters) noexcept {
  if (const DropReason all = seal_refusal(now, pd, kp); all != DropReason::kNone) {
    for (auto& pb : pkts) pb.result = all;
    counters.count(all, pkts.size());
    if (pd != nullptr) pd->handshake_wanted.store(true, std::memory_order_relaxed);
    return 0;
  }
  crypto::AeadContext& ctx = control ? kp->send_control : kp->send;
  // One atomic add reserves the nonces of the whole burst; nonces of dropped packets are skipped
  // (the receiver's window tolerates gaps).
  const std::uint64_t base = kp->send_nonce.fetch_add(pkts.size(), std::memory_order_relaxed);
  std::size_t ok = 0;
  bool data_sent = false;
  std::uint64_t bytes = 0;
  for (std::size_t i = 0; i < pkts.size(); ++i) {
    PacketBuf& pb = pkts[i];
    const std::size_t padded = padded_length(pb.len);
    if (pb.headroom < kEncryptHeadroom || pb.tailroom < padded - pb.len + kTagLen) {
      pb.result = DropReason::kNoRoom;
      counters.count(DropReason::kNoRoom);
      continue;
    }
    const std::uint64_t counter = base + i;
    if (counter >= kRejectAfterMessages) {
      pb.result = DropReason::kCounterExhausted;
      counters.count(DropReason::kCounterExhausted);
      continue;
    }
    std::memset(pb.data + pb.len, 0, padded - pb.len);  // zero padding, whitepaper 5.4.6
    if (!ctx.seal(counter, pb.data, padded)) {
      pb.result = DropReason::kAuthFailed;
      counters.count(DropReason::kAuthFailed);
      continue;
    }
    TransportHeader{kp->remote_index, counter}.serialize(pb.data - TransportHeader::kSize);
    data_sent |= pb.len > 0;
    pb.tailroom -= static_cast<std::uint32_t>(padded - pb.len + kTagLen);
    pb.headroom -= kEncryptHeadroom;
    pb.data -= TransportHeader::kSize;
    pb.len = static_cast<std::uint32_t>(TransportHeader::kSize + padded + kTagLen);
    pb.result = DropReason::kNone;
    pb.peer = id;
    bytes += pb.len;
    ++ok;
  }
  if (ok > 0) {
    pd->tx_bytes.fetch_add(bytes, std::memory_order_relaxed);
    counters.count(Event::kTxData, ok);
    note_time(pd->last_traversal, now);
    note_time(pd->last_auth_sent, now);
    pd->first_data_received.store(kNever, std::memory_order_relaxed);
    if (data_sent && pd->first_data_sent.load(std::memory_order_relaxed) == kNever) {
      note_time(pd->first_data_sent, now);
    }
  }
  // Whitepaper 6.2: the initiator rekeys after REKEY_AFTER_TIME; anyone after the messages.
  if (base + pkts.size() > kRekeyAfterMessages ||
      (kp->initiator && now - kp->created >= kRekeyAfterTime)) {
    pd->handshake_wanted.store(true, std::memory_order_relaxed);
  }
  return ok;
}

// Decrypts transport messages of any peers in place against one snapshot.
std::size_t open_burst(const Snapshot& snap, Nanos now, std::span<PacketBuf> pkts,
                       Counters& counters) noexcept {
  std::size_t ok = 0;
  PeerData* run_pd = nullptr;  // rx bytes are added once per run of one peer's packets
  std::uint64_t run_bytes = 0;
  // The last receiver index looked up: a burst is usually one session's packets, so the hash
  // lookup (a division and dependent loads) is paid once per run, not per packet.
  std::uint32_t last_receiver = 0;
  Keypair* last_kp = nullptr;
  for (auto& pb : pkts) {
    pb.peer = PeerId::invalid();
    auto drop = [&](DropReason r) {
      pb.result = r;
      counters.count(r);
    };
    if (pb.len < TransportHeader::kMinMessage) {
      drop(DropReason::kTruncated);
      continue;
    }
    if (load_le32(pb.data) != kMessageTransportData) {
      drop(pb.data[0] == kMessageTransportData ? DropReason::kReservedNonZero
                                               : DropReason::kUnknownType);
      continue;
    }
    const std::uint32_t receiver = load_le32(pb.data + 4);
    const std::uint64_t counter = load_le64(pb.data + 8);
    if (last_kp == nullptr || receiver != last_receiver) {
      auto it = snap.indices.find(receiver);
      if (it == snap.indices.end()) {
        drop(DropReason::kUnknownIndex);
        continue;
      }
      last_receiver = receiver;
      last_kp = it->second;
    }
    Keypair* kp = last_kp;
    const PeerView& view = snap.peers[kp->peer.value()];
    PeerData& pd = *view.data;
    if (now - kp->created >= kRejectAfterTime) {
      drop(DropReason::kKeypairExpired);
      continue;
    }
    std::uint8_t* plain = pb.data + TransportHeader::kSize;
    const std::size_t clen = pb.len - TransportHeader::kMinMessage;
    if (!kp->recv.open(counter, plain, clen)) {
      drop(DropReason::kAuthFailed);
      continue;
    }
    if (!kp->replay.check_and_update(counter)) {  // only after authentication
      drop(DropReason::kReplayed);
      continue;
    }
    // Authenticated: confirm a responder-side keypair (wireguard-go ReceivedWithKeypair).
    if (kp == view.next && !kp->confirmed.load(std::memory_order_relaxed)) {
      kp->confirmed.store(true, std::memory_order_release);
    }
    if (pb.from.port != 0 && (!view.endpoint || !(*view.endpoint == pb.from))) {
      pd.roam.write(pb.from);
    }
    note_time(pd.last_auth_received, now);
    note_time(pd.last_traversal, now);
    pd.first_data_sent.store(kNever, std::memory_order_relaxed);
    if (&pd != run_pd) {
      if (run_pd != nullptr) run_pd->rx_bytes.fetch_add(run_bytes, std::memory_order_relaxed);
      run_pd = &pd;
      run_bytes = 0;
    }
    run_bytes += pb.len;
    // Whitepaper 6.2: the initiator rekeys when its keypair nears REJECT_AFTER_TIME.
    if (kp == view.current && kp->initiator &&
        now - kp->created >= kRejectAfterTime - kKeepaliveTimeout - kRekeyTimeout) {
      pd.handshake_wanted.store(true, std::memory_order_relaxed);
    }
    pb.peer = kp->peer;
    if (clen == 0) {
      counters.count(Event::kRxKeepalive);
      pb.data = plain;
      pb.len = 0;
      pb.result = DropReason::kNone;
      ++ok;
      continue;
    }
    std::size_t total = 0;
    PeerId owner;
    const unsigned version = plain[0] >> 4;
    if (version == 4 && clen >= 20) {
      total = load_be16(plain + 2);
      if (total < 20 || total > clen) {
        drop(DropReason::kBadInnerPacket);
        continue;
      }
      owner = snap.allowed->lookup_v4(plain + 12);
    } else if (version == 6 && clen >= 40) {
      total = 40 + std::size_t{load_be16(plain + 4)};
      if (total > clen) {
        drop(DropReason::kBadInnerPacket);
        continue;
      }
      owner = snap.allowed->lookup_v6(plain + 8);
    } else {
      drop(DropReason::kBadInnerPacket);
      continue;
    }
    if (owner != kp->peer) {
      drop(DropReason::kInnerSourceNotAllowed);
      continue;
    }
    if (pd.first_data_received.load(std::memory_order_relaxed) == kNever) {
      note_time(pd.first_data_received, now);
    } else {
      pd.more_data_received.store(true, std::memory_order_relaxed);
    }
    counters.count(Event::kRxData);
    pb.data = plain;
    pb.len = static_cast<std::uint32_t>(total);
    pb.result = DropReason::kNone;
    ++ok;
  }
  if (run_pd != nullptr) run_pd->rx_bytes.fetch_add(run_bytes, std::memory_order_relaxed);
  return ok;
}

}  // namespace

Rng& system_rng() {
  static SystemRng r;
  return r;
}
WallClock& system_wall_clock() {
  static SystemWallClock c;
  return c;
}
Reclaimer& immediate_reclaimer() {
  static ImmediateReclaimer r;
  return r;
}

struct Device::Impl {
  Rng& rng;
  WallClock& wall;
  Reclaimer& reclaimer;
  DataPath::Impl dp;
  DeviceConfig config;
  bool configured = false;
  crypto::X25519Private static_key;
  crypto::Key mac1_key_self{};
  crypto::Key cookie_key_self{};
  crypto::Hash initial_hash_self{};  // noise_initial_hash(our static public key)
  std::vector<std::unique_ptr<Peer>> peers;
  std::map<Key32, PeerId> by_key;
  std::unordered_map<std::uint32_t, IndexEntry> indices;
  // Copy-on-write: workers read the copy the published snapshot holds.
  std::shared_ptr<AllowedIps> allowed = std::make_shared<AllowedIps>();
  Counters counters;  // the control thread's block (and the single-threaded data path's)
  // Publication: dirty = something workers see changed since the last commit(); dead_* = what
  // this call unlinked, retired after the next publish.
  bool dirty = true;
  std::vector<std::unique_ptr<Keypair>> dead_keypairs;
  std::vector<std::unique_ptr<PeerData>> dead_peer_data;
  std::vector<PeerId> wanted;  // peers with handshake_wanted set; capacity = peer count
  // Cookie generator (whitepaper 5.4.7): secret rotated every COOKIE_SECRET_MAX_AGE.
  crypto::Key cookie_secret{};
  std::optional<Nanos> cookie_secret_born;
  // Load detection: handshake messages counted per one-second window.
  Nanos load_window_start{};
  std::uint32_t load_count = 0;
  Nanos under_load_until{};
  std::map<IpAddress, Bucket> buckets;
  std::vector<std::uint8_t> scratch = std::vector<std::uint8_t>(kScratchSize);

  Impl(Rng& r, WallClock& w, Reclaimer& rc) : rng(r), wall(w), reclaimer(rc) { commit(); }
  ~Impl() { delete dp.snapshot.load(std::memory_order_relaxed); }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  // ---- publication to the data path ----
  AllowedIps& allowed_for_write() {
    if (allowed.use_count() > 1) allowed = std::make_shared<AllowedIps>(*allowed);
    dirty = true;
    return *allowed;
  }
  void commit() {
    if (dirty) {
      auto snap = std::make_unique<Snapshot>();
      snap->peers.resize(peers.size());
      for (const auto& p : peers) {
        if (!p) continue;
        snap->peers[p->id.value()] =
            PeerView{p->data.get(), p->current.get(), p->next.get(), p->endpoint};
      }
      for (const auto& [idx, e] : indices) {
        if (e.keypair != nullptr) snap->indices.emplace(idx, e.keypair);
      }
      snap->allowed = allowed;
      const Snapshot* old = dp.snapshot.exchange(snap.release(), std::memory_order_acq_rel);
      dirty = false;
      if (old != nullptr) reclaimer.retire([old] { delete old; });
    }
    for (auto& kp : dead_keypairs) reclaimer.retire([k = kp.release()] { delete k; });
    dead_keypairs.clear();
    for (auto& pd : dead_peer_data) reclaimer.retire([d = pd.release()] { delete d; });
    dead_peer_data.clear();
  }

  // Replays what the data path recorded for p into the timers (order: see PeerData).
  void absorb(Peer& p) {
    PeerData& d = *p.data;
    if (p.next && p.next->confirmed.load(std::memory_order_acquire)) {
      drop_keypair(p.previous);
      p.previous = std::move(p.current);
      p.current = std::move(p.next);
      timers_handshake_complete(p);
      dirty = true;
    }
    if (d.last_auth_received.exchange(kNever, std::memory_order_relaxed) != kNever) {
      timers_any_authenticated_packet_received(p);
    }
    if (const auto ds = d.first_data_sent.exchange(kNever, std::memory_order_relaxed);
        ds != kNever) {
      timers_data_sent(p, Nanos(ds));
    }
    if (d.last_auth_sent.exchange(kNever, std::memory_order_relaxed) != kNever) {
      timers_any_authenticated_packet_sent(p);
    }
    if (const auto dr = d.first_data_received.exchange(kNever, std::memory_order_relaxed);
        dr != kNever) {
      timers_data_received(p, Nanos(dr));
    }
    if (d.more_data_received.exchange(false, std::memory_order_relaxed)) {
      p.need_another_keepalive = true;
    }
    if (const auto tr = d.last_traversal.exchange(kNever, std::memory_order_relaxed);
        tr != kNever) {
      timers_any_authenticated_packet_traversal(p, Nanos(tr));
    }
    if (d.handshake_wanted.exchange(false, std::memory_order_relaxed)) want_handshake(p);
    Endpoint from;
    if (const std::uint32_t seq = d.roam.read(from); seq != 0 && seq != p.seen_roam) {
      p.seen_roam = seq;
      roam(p, from);
    }
  }
  void absorb_all() {
    for (auto& p : peers) {
      if (p) absorb(*p);
    }
  }

  Peer* peer(PeerId id) const noexcept {
    if (!id.valid() || id.value() >= peers.size()) return nullptr;
    return peers[id.value()].get();
  }

  // ---- helpers ----
  crypto::Key random_key() {
    crypto::Key k;
    rng.fill(k);
    return k;
  }
  Nanos jitter() {
    std::uint8_t b[4];
    rng.fill(b);
    const auto ms = load_le32(b) % (kRekeyTimeoutJitterMax.count() / 1000000 + 1);
    return std::chrono::milliseconds(ms);
  }
  std::uint32_t new_index(PeerId peer, Keypair* kp) {
    for (;;) {
      std::uint8_t b[4];
      rng.fill(b);
      const std::uint32_t idx = load_le32(b);
      if (indices.emplace(idx, IndexEntry{peer, kp}).second) return idx;
    }
  }
  void drop_handshake_index(Peer& p) {
    if (p.hs.state == NoiseHandshake::State::kZeroed) return;
    auto it = indices.find(p.hs.local_index);
    if (it != indices.end() && it->second.keypair == nullptr && it->second.peer == p.id) {
      indices.erase(it);
    }
  }
  void drop_keypair(std::unique_ptr<Keypair>& kp) {
    if (!kp) return;
    auto it = indices.find(kp->local_index);
    if (it != indices.end() && it->second.keypair == kp.get()) indices.erase(it);
    // Freed (AeadContext cleanses its key schedule) once no worker can hold it.
    dead_keypairs.push_back(std::move(kp));
    dirty = true;
  }
  void want_handshake(Peer& p) noexcept {
    if (!p.handshake_wanted && wanted.size() < wanted.capacity()) {
      p.handshake_wanted = true;
      wanted.push_back(p.id);
    }
  }

  // ---- timer hooks, named after protocol events (wireguard-go timers.go) ----
  void timers_data_sent(Peer& p, Nanos now) {
    if (!p.t_new_handshake) p.t_new_handshake = now + kKeepaliveTimeout + kRekeyTimeout + jitter();
  }
  void timers_data_received(Peer& p, Nanos now) {
    if (!p.t_send_keepalive) {
      p.t_send_keepalive = now + kKeepaliveTimeout;
    } else {
      p.need_another_keepalive = true;
    }
  }
  void timers_any_authenticated_packet_sent(Peer& p) { p.t_send_keepalive.reset(); }
  void timers_any_authenticated_packet_received(Peer& p) { p.t_new_handshake.reset(); }
  void timers_handshake_initiated(Peer& p, Nanos now) {
    p.t_retransmit_handshake = now + kRekeyTimeout + jitter();
  }
  void timers_handshake_complete(Peer& p) {
    p.t_retransmit_handshake.reset();
    p.handshake_attempts = 0;
    p.last_handshake = wall.wall_now();
  }
  void timers_session_derived(Peer& p, Nanos now) {
    p.t_zero_key_material = now + kZeroKeyMaterialAfter;
  }
  void timers_any_authenticated_packet_traversal(Peer& p, Nanos now) {
    if (p.persistent_keepalive.count() > 0) p.t_persistent_keepalive = now + p.persistent_keepalive;
  }

  // ---- sending ----
  void emit(Peer& p, std::span<const std::uint8_t> bytes, ActionSink& out) {
    if (!p.endpoint) {
      counters.count(DropReason::kNoEndpoint);
      return;
    }
    out.send_datagram(*p.endpoint, bytes);
  }

  // mac1 and mac2 of a message we send to p (whitepaper 5.4.4).
  void add_macs(Peer& p, std::uint8_t* msg, std::size_t mac1_offset, Nanos now) {
    const Mac16 mac1 = crypto::mac(p.mac1_key, crypto::Bytes(msg, mac1_offset));
    std::memcpy(msg + mac1_offset, mac1.data(), kMacLen);
    p.last_mac1 = mac1;
    p.has_last_mac1 = true;
    Mac16 mac2{};
    if (p.cookie_time && now - *p.cookie_time < kCookieSecretMaxAge) {
      mac2 = crypto::mac(p.cookie, crypto::Bytes(msg, mac1_offset + kMacLen));
    }
    std::memcpy(msg + mac1_offset + kMacLen, mac2.data(), kMacLen);
  }

  void send_initiation(Nanos now, Peer& p, bool is_retry, ActionSink& out) {
    if (!configured || !p.keys.static_static_valid) return;
    if (!is_retry && p.last_initiation_sent && now - *p.last_initiation_sent < kRekeyTimeout) {
      return;  // one initiation per REKEY_TIMEOUT (whitepaper 6.1)
    }
    p.last_initiation_sent = now;
    drop_handshake_index(p);
    HandshakeInitiation msg;
    crypto::Key eph = random_key();
    const std::uint32_t idx = new_index(p.id, nullptr);
    const bool ok =
        noise_create_initiation(static_key, p.keys, p.hs, eph, tai64n(wall.wall_now()), idx, msg);
    crypto::wipe(eph);
    if (!ok) {
      indices.erase(idx);
      p.hs.clear();
      return;
    }
    std::uint8_t wire[HandshakeInitiation::kSize];
    msg.serialize(wire);
    add_macs(p, wire, HandshakeInitiation::kMac1Offset, now);
    counters.count(Event::kTxInitiation);
    timers_any_authenticated_packet_traversal(p, now);
    timers_any_authenticated_packet_sent(p);
    timers_handshake_initiated(p, now);
    emit(p, wire, out);
  }

  // Encrypts and sends one packet (possibly empty: a keepalive) on the current keypair.
  // Returns false if there is no usable keypair.
  bool send_one(Nanos now, Peer& p, std::span<const std::uint8_t> packet, ActionSink& out) {
    if (packet.size() + kEncryptHeadroom + kEncryptTailroom > scratch.size()) {
      counters.count(DropReason::kNoRoom);
      return true;
    }
    std::uint8_t* data = scratch.data() + kEncryptHeadroom;
    if (!packet.empty()) std::memcpy(data, packet.data(), packet.size());
    PacketBuf pb;
    pb.data = data;
    pb.len = static_cast<std::uint32_t>(packet.size());
    pb.headroom = kEncryptHeadroom;
    pb.tailroom = static_cast<std::uint32_t>(scratch.size() - kEncryptHeadroom - packet.size());
    absorb(p);
    if (seal_refusal(now, p.data.get(), p.current.get()) != DropReason::kNone) {
      // Not a drop (seal_burst would count one): the caller stages the packet until the
      // handshake asked for here completes.
      want_handshake(p);
      return false;
    }
    seal_burst(now, p.id, p.data.get(), p.current.get(), true, std::span<PacketBuf>(&pb, 1),
               counters);
    absorb(p);
    if (pb.result == DropReason::kNone) {
      if (packet.empty()) counters.count(Event::kTxKeepalive);
      emit(p, std::span<const std::uint8_t>(pb.data, pb.len), out);
    }
    return true;
  }

  void stage(Peer& p, std::span<const std::uint8_t> packet) {
    if (p.staged.size() >= kMaxStagedPackets) {
      p.staged.pop_front();
      counters.count(DropReason::kStagedOverflow);
    }
    p.staged.emplace_back(packet.begin(), packet.end());
  }

  void send_staged(Nanos now, Peer& p, ActionSink& out) {
    while (!p.staged.empty()) {
      if (!send_one(now, p, p.staged.front(), out)) {
        send_initiation(now, p, false, out);
        return;
      }
      p.staged.pop_front();
    }
  }

  void send_keepalive(Nanos now, Peer& p, ActionSink& out) {
    if (!p.staged.empty()) {
      send_staged(now, p, out);
      return;
    }
    if (!send_one(now, p, {}, out)) send_initiation(now, p, false, out);
  }

  void service_wanted(Nanos now, ActionSink& out) {
    while (!wanted.empty()) {
      PeerId id = wanted.back();
      wanted.pop_back();
      if (Peer* p = peer(id); p != nullptr && p->handshake_wanted) {
        p->handshake_wanted = false;
        send_initiation(now, *p, false, out);
      }
    }
  }

  // ---- keypairs (whitepaper 5.4.5; rotation as in wireguard-go noise-protocol.go) ----
  bool begin_session(Nanos now, Peer& p, bool initiator) {
    crypto::Key send_key, recv_key;
    noise_derive_keys(p.hs.chaining_key, initiator, send_key, recv_key);
    auto kp = std::make_unique<Keypair>();
    const bool ok = kp->send.init(send_key, true) && kp->send_control.init(send_key, true) &&
                    kp->recv.init(recv_key, false);
    crypto::wipe(send_key);
    crypto::wipe(recv_key);
    if (!ok) return false;
    kp->local_index = p.hs.local_index;
    kp->remote_index = p.hs.remote_index;
    kp->created = now;
    kp->initiator = initiator;
    kp->peer = p.id;
    indices[kp->local_index] = IndexEntry{p.id, kp.get()};
    p.hs.clear();
    if (initiator) {
      if (p.next) {
        drop_keypair(p.previous);
        p.previous = std::move(p.next);
        drop_keypair(p.current);
      } else {
        drop_keypair(p.previous);
        p.previous = std::move(p.current);
      }
      p.current = std::move(kp);
    } else {
      drop_keypair(p.next);
      p.next = std::move(kp);
      drop_keypair(p.previous);
    }
    dirty = true;
    counters.count(Event::kSessionsDerived);
    timers_session_derived(p, now);
    return true;
  }

  void zero_key_material(Peer& p) {
    drop_keypair(p.previous);
    drop_keypair(p.current);
    drop_keypair(p.next);
    drop_handshake_index(p);
    p.hs.clear();
  }

  // ---- load and cookies (whitepaper 5.3, 5.4.7) ----
  void note_handshake(Nanos now) {
    if (now - load_window_start >= seconds(1)) {
      load_window_start = now;
      load_count = 0;
    }
    if (++load_count > config.under_load_handshakes_per_second) {
      if (now >= under_load_until) counters.count(Event::kUnderLoadEntered);
      under_load_until = now + kUnderLoadAfterTime;
    }
  }
  Mac16 cookie_for(Nanos now, const Endpoint& from) {
    if (!cookie_secret_born || now - *cookie_secret_born >= kCookieSecretMaxAge) {
      cookie_secret = random_key();
      cookie_secret_born = now;
    }
    std::uint8_t src[18];
    const std::size_t n = from.addr.size();
    std::memcpy(src, from.addr.bytes.data(), n);
    src[n] = static_cast<std::uint8_t>(from.port >> 8);
    src[n + 1] = static_cast<std::uint8_t>(from.port);
    return crypto::mac(cookie_secret, crypto::Bytes(src, n + 2));
  }
  bool allow_source(Nanos now, const IpAddress& src) {
    const Nanos cost = std::chrono::nanoseconds(
        1000000000ll / std::max<std::uint32_t>(1, config.per_source_handshakes_per_second));
    const Nanos max_tokens = cost * std::max<std::uint32_t>(1, config.per_source_burst);
    auto it = buckets.find(src);
    if (it == buckets.end()) {
      if (buckets.size() >= kMaxRateLimitEntries) buckets.clear();  // bounded memory
      it = buckets.emplace(src, Bucket{max_tokens, now}).first;
    }
    Bucket& b = it->second;
    b.tokens = std::min(max_tokens, b.tokens + (now - b.last));
    b.last = now;
    if (b.tokens < cost) return false;
    b.tokens -= cost;
    return true;
  }
  void send_cookie_reply(Nanos now, const Endpoint& from, std::uint32_t receiver,
                         const std::uint8_t* mac1, ActionSink& out) {
    const Mac16 cookie = cookie_for(now, from);
    CookieReply reply;
    reply.receiver = receiver;
    rng.fill(reply.nonce);
    crypto::xaead_seal(cookie_key_self, reply.nonce.data(), cookie, crypto::Bytes(mac1, kMacLen),
                       reply.encrypted_cookie);
    std::uint8_t wire[CookieReply::kSize];
    reply.serialize(wire);
    counters.count(Event::kTxCookie);
    out.send_datagram(from, wire);
  }
  // mac1, load and mac2/rate checks shared by initiations and responses.
  DropReason check_handshake_macs(Nanos now, const Endpoint& from,
                                  std::span<const std::uint8_t> msg, std::size_t mac1_offset,
                                  ActionSink& out) {
    const Mac16 mac1 = crypto::mac(mac1_key_self, msg.first(mac1_offset));
    if (!crypto::equal(mac1, msg.subspan(mac1_offset, kMacLen))) return DropReason::kBadMac1;
    note_handshake(now);
    if (now < under_load_until) {
      const Mac16 cookie = cookie_for(now, from);
      const Mac16 mac2 = crypto::mac(cookie, msg.first(mac1_offset + kMacLen));
      if (!crypto::equal(mac2, msg.subspan(mac1_offset + kMacLen, kMacLen))) {
        send_cookie_reply(now, from, load_le32(msg.data() + 4), msg.data() + mac1_offset, out);
        return DropReason::kBadMac2;
      }
      if (!allow_source(now, from.addr)) return DropReason::kRateLimited;
    }
    return DropReason::kNone;
  }

  void roam(Peer& p, const Endpoint& from) noexcept {
    if (!p.endpoint || !(*p.endpoint == from)) {
      p.endpoint = from;
      counters.count(Event::kRoamed);
      dirty = true;
    }
  }

  // ---- handshake message handlers ----
  DropReason on_initiation(Nanos now, const Endpoint& from, std::span<std::uint8_t> b,
                           ActionSink& out) {
    if (b.size() != HandshakeInitiation::kSize) return DropReason::kBadSize;
    if (DropReason r = check_handshake_macs(now, from, b, HandshakeInitiation::kMac1Offset, out);
        r != DropReason::kNone) {
      return r;
    }
    const auto msg = HandshakeInitiation::parse(b);
    if (!msg) return DropReason::kBadSize;
    InitiationInProgress st;
    switch (noise_consume_initiation_static(static_key, initial_hash_self, *msg, st)) {
      case NoiseError::kOk:
        break;
      case NoiseError::kBadPublicKey:
        return DropReason::kBadPublicKey;
      case NoiseError::kDecrypt:
        return DropReason::kHandshakeDecrypt;
    }
    auto found = by_key.find(st.remote_static);
    if (found == by_key.end()) return DropReason::kUnknownPeer;
    Peer& p = *peer(found->second);
    Tai64n ts;
    switch (noise_consume_initiation_timestamp(p.keys, *msg, st, ts)) {
      case NoiseError::kOk:
        break;
      case NoiseError::kBadPublicKey:
        return DropReason::kBadPublicKey;
      case NoiseError::kDecrypt:
        return DropReason::kHandshakeDecrypt;
    }
    // Whitepaper 5.1: a timestamp not greater than the last one is a replay.
    if (std::memcmp(ts.data(), p.greatest_timestamp.data(), ts.size()) <= 0) {
      return DropReason::kReplayedTimestamp;
    }
    if (p.last_initiation_consumed && now - *p.last_initiation_consumed < kMinInitiationInterval) {
      return DropReason::kInitiationFlood;
    }
    p.greatest_timestamp = ts;
    p.last_initiation_consumed = now;
    drop_handshake_index(p);
    p.hs.clear();
    p.hs.hash = st.hash;
    p.hs.chaining_key = st.chaining_key;
    p.hs.remote_ephemeral = st.remote_ephemeral;
    p.hs.remote_index = st.remote_index;
    p.hs.state = NoiseHandshake::State::kInitiationConsumed;
    crypto::wipe(st.chaining_key);
    counters.count(Event::kRxInitiation);
    roam(p, from);
    timers_any_authenticated_packet_traversal(p, now);
    timers_any_authenticated_packet_received(p);

    HandshakeResponse resp;
    crypto::Key eph = random_key();
    const std::uint32_t idx = new_index(p.id, nullptr);
    const bool ok = noise_create_response(p.keys, p.hs, eph, idx, resp);
    crypto::wipe(eph);
    if (!ok) {
      indices.erase(idx);
      p.hs.clear();
      return DropReason::kBadPublicKey;
    }
    std::uint8_t wire[HandshakeResponse::kSize];
    resp.serialize(wire);
    add_macs(p, wire, HandshakeResponse::kMac1Offset, now);
    if (!begin_session(now, p, false)) return DropReason::kNone;
    counters.count(Event::kTxResponse);
    timers_any_authenticated_packet_traversal(p, now);
    timers_any_authenticated_packet_sent(p);
    emit(p, wire, out);
    return DropReason::kNone;
  }

  DropReason on_response(Nanos now, const Endpoint& from, std::span<std::uint8_t> b,
                         ActionSink& out) {
    if (b.size() != HandshakeResponse::kSize) return DropReason::kBadSize;
    if (DropReason r = check_handshake_macs(now, from, b, HandshakeResponse::kMac1Offset, out);
        r != DropReason::kNone) {
      return r;
    }
    const auto msg = HandshakeResponse::parse(b);
    if (!msg) return DropReason::kBadSize;
    auto it = indices.find(msg->receiver);
    if (it == indices.end()) return DropReason::kUnknownIndex;
    if (it->second.keypair != nullptr) return DropReason::kUnexpectedResponse;
    Peer& p = *peer(it->second.peer);
    if (p.hs.state != NoiseHandshake::State::kInitiationCreated ||
        p.hs.local_index != msg->receiver) {
      return DropReason::kUnexpectedResponse;
    }
    crypto::Hash h;
    crypto::Key c;
    switch (noise_consume_response(static_key, p.keys, p.hs, *msg, h, c)) {
      case NoiseError::kOk:
        break;
      case NoiseError::kBadPublicKey:
        return DropReason::kBadPublicKey;
      case NoiseError::kDecrypt:
        return DropReason::kHandshakeDecrypt;
    }
    p.hs.hash = h;
    p.hs.chaining_key = c;
    p.hs.remote_index = msg->sender;
    p.hs.state = NoiseHandshake::State::kResponseConsumed;
    crypto::wipe(c);
    counters.count(Event::kRxResponse);
    roam(p, from);
    if (!begin_session(now, p, true)) return DropReason::kNone;
    timers_handshake_complete(p);
    timers_any_authenticated_packet_traversal(p, now);
    timers_any_authenticated_packet_received(p);
    send_keepalive(now, p, out);  // confirms the session to the responder
    return DropReason::kNone;
  }

  DropReason on_cookie_reply(Nanos now, std::span<std::uint8_t> b) {
    if (b.size() != CookieReply::kSize) return DropReason::kBadSize;
    const auto msg = CookieReply::parse(b);
    if (!msg) return DropReason::kBadSize;
    auto it = indices.find(msg->receiver);
    if (it == indices.end()) return DropReason::kUnknownIndex;
    Peer& p = *peer(it->second.peer);
    if (!p.has_last_mac1) return DropReason::kUnexpectedResponse;
    Mac16 cookie;
    if (!crypto::xaead_open(p.cookie_key, msg->nonce.data(), msg->encrypted_cookie, p.last_mac1,
                            cookie)) {
      return DropReason::kCookieDecrypt;
    }
    p.cookie = cookie;
    p.cookie_time = now;
    p.has_last_mac1 = false;
    counters.count(Event::kRxCookie);
    return DropReason::kNone;
  }
};

// ---------------------------------------------------------------------------------------------

Device::Device(Rng& rng, WallClock& wall, Reclaimer& reclaimer)
    : impl_(std::make_unique<Impl>(rng, wall, reclaimer)) {
  data_.impl_ = &impl_->dp;
}
Device::~Device() = default;

DataPath& Device::data_path() noexcept {
  return data_;
}

Result<void> Device::configure(const DeviceConfig& config) {
  impl_->config = config;
  return set_private_key(config.private_key);
}

Result<void> Device::set_private_key(const Key32& private_key) {
  Impl& d = *impl_;
  crypto::X25519Private k;
  if (!k.set(private_key)) return fail("invalid X25519 private key", EINVAL);
  d.static_key = std::move(k);
  d.config.private_key = private_key;
  d.mac1_key_self = mac1_key_for(d.static_key.public_key());
  d.cookie_key_self = cookie_key_for(d.static_key.public_key());
  d.initial_hash_self = noise_initial_hash(d.static_key.public_key());
  d.configured = true;
  // Static-static DH of every peer depends on our key: recompute, drop sessions of peers whose
  // key equals ours (wireguard-go does the same).
  for (auto& p : d.peers) {
    if (!p) continue;
    d.zero_key_material(*p);
    (void)noise_prepare_peer(d.static_key, p->keys);
  }
  d.commit();
  return boost::outcome_v2::success();
}

const Key32& Device::public_key() const {
  return impl_->static_key.public_key();
}

std::optional<Key32> Device::private_key() const {
  if (!impl_->configured) return std::nullopt;
  return impl_->config.private_key;
}

Result<void> Device::check_peer(const PeerConfig& config) const {
  const Impl& d = *impl_;
  if (d.by_key.count(config.public_key) != 0) return fail("peer already exists", EEXIST);
  NoisePeerKeys keys;
  keys.remote_static = config.public_key;
  if (d.configured && !noise_prepare_peer(d.static_key, keys)) {
    return fail("peer public key is invalid (low-order point)", EINVAL);
  }
  crypto::wipe(keys.static_static);
  return boost::outcome_v2::success();
}

Result<PeerId> Device::add_peer(const PeerConfig& config) {
  Impl& d = *impl_;
  if (d.by_key.count(config.public_key) != 0) return fail("peer already exists", EEXIST);
  auto p = std::make_unique<Peer>();
  p->id = PeerId(static_cast<std::uint32_t>(d.peers.size()));
  p->keys.remote_static = config.public_key;
  p->keys.preshared = config.preshared_key;
  if (d.configured && !noise_prepare_peer(d.static_key, p->keys)) {
    return fail("peer public key is invalid (low-order point)", EINVAL);
  }
  p->mac1_key = mac1_key_for(config.public_key);
  p->cookie_key = cookie_key_for(config.public_key);
  p->endpoint = config.endpoint;
  p->persistent_keepalive = config.persistent_keepalive;
  const PeerId id = p->id;
  if (!config.allowed_ips.empty()) {
    AllowedIps& allowed = d.allowed_for_write();
    for (const auto& prefix : config.allowed_ips) allowed.insert(prefix, id);
  }
  d.by_key.emplace(config.public_key, id);
  d.peers.push_back(std::move(p));
  d.wanted.reserve(d.peers.size());
  d.dirty = true;
  d.commit();
  return id;
}

Result<void> Device::remove_peer(PeerId id) {
  Impl& d = *impl_;
  Peer* p = d.peer(id);
  if (p == nullptr) return fail("no such peer", ENOENT);
  d.zero_key_material(*p);
  d.allowed_for_write().remove_peer(id);
  d.by_key.erase(p->keys.remote_static);
  std::erase(d.wanted, id);
  d.dead_peer_data.push_back(std::move(p->data));
  d.peers[id.value()].reset();
  d.dirty = true;
  d.commit();
  return boost::outcome_v2::success();
}

Result<void> Device::set_endpoint(PeerId id, const Endpoint& endpoint) {
  Peer* p = impl_->peer(id);
  if (p == nullptr) return fail("no such peer", ENOENT);
  p->endpoint = endpoint;
  impl_->dirty = true;
  impl_->commit();
  return boost::outcome_v2::success();
}

Result<void> Device::add_allowed_ip(PeerId id, const IpPrefix& prefix) {
  if (impl_->peer(id) == nullptr) return fail("no such peer", ENOENT);
  impl_->allowed_for_write().insert(prefix, id);
  impl_->commit();
  return boost::outcome_v2::success();
}

Result<void> Device::remove_allowed_ip(PeerId id, const IpPrefix& prefix) {
  Impl& d = *impl_;
  if (d.peer(id) == nullptr) return fail("no such peer", ENOENT);
  const bool removed = d.allowed_for_write().remove(prefix, id);
  d.commit();
  if (!removed) return fail("prefix not allowed for peer", ENOENT);
  return boost::outcome_v2::success();
}

Result<void> Device::set_persistent_keepalive(PeerId id, std::chrono::seconds every) {
  Peer* p = impl_->peer(id);
  if (p == nullptr) return fail("no such peer", ENOENT);
  p->persistent_keepalive = every;
  if (every.count() == 0) p->t_persistent_keepalive.reset();
  return boost::outcome_v2::success();
}

Result<void> Device::set_preshared_key(PeerId id, const Key32& preshared_key) {
  Peer* p = impl_->peer(id);
  if (p == nullptr) return fail("no such peer", ENOENT);
  p->keys.preshared = preshared_key;
  return boost::outcome_v2::success();
}

std::optional<PeerId> Device::find_peer(const Key32& public_key) const {
  auto it = impl_->by_key.find(public_key);
  if (it == impl_->by_key.end()) return std::nullopt;
  return it->second;
}

std::vector<PeerId> Device::peers() const {
  std::vector<PeerId> ids;
  for (const auto& p : impl_->peers) {
    if (p) ids.push_back(p->id);
  }
  return ids;
}

Result<PeerStatus> Device::peer_status(PeerId id) const {
  const Peer* p = impl_->peer(id);
  if (p == nullptr) return fail("no such peer", ENOENT);
  PeerStatus s;
  s.public_key = p->keys.remote_static;
  s.preshared_key = p->keys.preshared;
  s.endpoint = p->endpoint;
  s.allowed_ips = impl_->allowed->prefixes_of(id);
  s.last_handshake = p->last_handshake;
  s.rx_bytes = p->data->rx_bytes.load(std::memory_order_relaxed);
  s.tx_bytes = p->data->tx_bytes.load(std::memory_order_relaxed);
  s.has_current_keypair =
      p->current != nullptr || (p->next && p->next->confirmed.load(std::memory_order_relaxed));
  s.persistent_keepalive = p->persistent_keepalive;
  return s;
}

const Counters& Device::counters() const noexcept {
  return impl_->counters;
}
bool Device::under_load(Nanos now) const noexcept {
  return now < impl_->under_load_until;
}
PeerId Device::route(const IpAddress& dst) const noexcept {
  return impl_->allowed->lookup(dst);
}

void Device::receive(Nanos now, const Endpoint& from, std::span<std::uint8_t> datagram,
                     ActionSink& out) {
  Impl& d = *impl_;
  if (datagram.size() < kHeaderLen) {
    d.counters.count(DropReason::kTruncated);
    return;
  }
  const std::uint8_t type = datagram[0];
  if (type < kMessageHandshakeInitiation || type > kMessageTransportData) {
    d.counters.count(DropReason::kUnknownType);
    return;
  }
  if (datagram[1] != 0 || datagram[2] != 0 || datagram[3] != 0) {
    d.counters.count(DropReason::kReservedNonZero);
    return;
  }
  if (type == kMessageTransportData) {
    PacketBuf pb;
    pb.data = datagram.data();
    pb.len = static_cast<std::uint32_t>(datagram.size());
    pb.from = from;
    if (open_burst(d.dp.snap(), now, std::span<PacketBuf>(&pb, 1), d.counters) == 1) {
      Peer& p = *d.peer(pb.peer);
      d.absorb(p);
      d.commit();
      if (pb.len > 0) out.deliver(pb.peer, std::span<const std::uint8_t>(pb.data, pb.len));
      if (!p.staged.empty() && p.current) d.send_staged(now, p, out);
    }
    d.service_wanted(now, out);
    d.commit();
    return;
  }
  if (!d.configured) {
    d.counters.count(DropReason::kNotConfigured);
    return;
  }
  DropReason r = DropReason::kNone;
  switch (type) {
    case kMessageHandshakeInitiation:
      r = d.on_initiation(now, from, datagram, out);
      break;
    case kMessageHandshakeResponse:
      r = d.on_response(now, from, datagram, out);
      break;
    case kMessageCookieReply:
      r = d.on_cookie_reply(now, datagram);
      break;
    default:
      break;
  }
  if (r != DropReason::kNone) d.counters.count(r);
  d.service_wanted(now, out);
  d.commit();
}

void Device::send(Nanos now, std::span<const std::uint8_t> inner, ActionSink& out) {
  Impl& d = *impl_;
  PeerId id;
  if (!inner.empty() && (inner[0] >> 4) == 4 && inner.size() >= 20) {
    id = d.allowed->lookup_v4(inner.data() + 16);
  } else if (!inner.empty() && (inner[0] >> 4) == 6 && inner.size() >= 40) {
    id = d.allowed->lookup_v6(inner.data() + 24);
  } else {
    d.counters.count(DropReason::kBadInnerPacket);
    return;
  }
  if (!id.valid()) {
    d.counters.count(DropReason::kNoRoute);
    return;
  }
  send_to_peer(now, id, inner, out);
}

void Device::send_to_peer(Nanos now, PeerId id, std::span<const std::uint8_t> inner,
                          ActionSink& out) {
  Impl& d = *impl_;
  Peer* p = d.peer(id);
  if (p == nullptr) return;
  if (!p->staged.empty() || !d.send_one(now, *p, inner, out)) {
    d.stage(*p, inner);
    d.send_staged(now, *p, out);
  }
  d.service_wanted(now, out);
  d.commit();
}

void Device::initiate_handshake(Nanos now, PeerId id, ActionSink& out) {
  if (Peer* p = impl_->peer(id)) impl_->send_initiation(now, *p, false, out);
  impl_->commit();
}

Nanos Device::next_deadline() const {
  Nanos best = Nanos::max();
  if (!impl_->wanted.empty()) return Nanos::min();
  auto consider = [&best](std::optional<Nanos> t) {
    if (t && *t < best) best = *t;
  };
  for (const auto& p : impl_->peers) {
    if (!p) continue;
    for (const auto& t : {p->t_retransmit_handshake, p->t_send_keepalive, p->t_new_handshake,
                          p->t_zero_key_material, p->t_persistent_keepalive}) {
      consider(t);
    }
    // Events the data path recorded and tick() has not absorbed yet.
    const PeerData& d = *p->data;
    Endpoint ignored;
    if (d.handshake_wanted.load(std::memory_order_relaxed) ||
        (p->next && p->next->confirmed.load(std::memory_order_relaxed))) {
      return Nanos::min();
    }
    if (const std::uint32_t seq = d.roam.read(ignored); seq != 0 && seq != p->seen_roam) {
      return Nanos::min();
    }
    if (const auto ds = d.first_data_sent.load(std::memory_order_relaxed); ds != kNever) {
      consider(Nanos(ds) + kKeepaliveTimeout + kRekeyTimeout);
    }
    if (const auto dr = d.first_data_received.load(std::memory_order_relaxed); dr != kNever) {
      consider(Nanos(dr) + kKeepaliveTimeout);
    }
    if (const auto tr = d.last_traversal.load(std::memory_order_relaxed);
        tr != kNever && p->persistent_keepalive.count() > 0) {
      consider(Nanos(tr) + p->persistent_keepalive);
    }
  }
  return best;
}

void Device::tick(Nanos now, ActionSink& out) {
  Impl& d = *impl_;
  d.absorb_all();
  d.service_wanted(now, out);
  auto expired = [now](std::optional<Nanos>& t) {
    if (t && *t <= now) {
      t.reset();
      return true;
    }
    return false;
  };
  for (auto& up : d.peers) {
    if (!up) continue;
    Peer& p = *up;
    if (expired(p.t_retransmit_handshake)) {  // whitepaper 6.4: retry after REKEY_TIMEOUT
      if (p.handshake_attempts >= kMaxHandshakeAttempts) {
        d.counters.count(Event::kHandshakeGiveUp);
        p.staged.clear();
        if (!p.t_zero_key_material) p.t_zero_key_material = now + kZeroKeyMaterialAfter;
      } else {
        ++p.handshake_attempts;
        d.counters.count(Event::kHandshakeRetries);
        d.send_initiation(now, p, true, out);
      }
    }
    if (expired(p.t_send_keepalive)) {  // whitepaper 6.5: passive keepalive
      d.send_keepalive(now, p, out);
      if (p.need_another_keepalive) {
        p.need_another_keepalive = false;
        p.t_send_keepalive = now + kKeepaliveTimeout;
      }
    }
    if (expired(p.t_new_handshake)) {  // sent data, heard nothing for KEEPALIVE+REKEY_TIMEOUT
      d.send_initiation(now, p, false, out);
    }
    if (expired(p.t_zero_key_material)) {  // whitepaper 6.3
      d.counters.count(Event::kKeysZeroed);
      d.zero_key_material(p);
    }
    if (expired(p.t_persistent_keepalive)) {
      d.send_keepalive(now, p, out);
    }
  }
  d.commit();
}

// ---- data path ----

std::size_t DataPath::encrypt_burst(Nanos now, PeerId id, std::span<PacketBuf> pkts,
                                    Counters& counters) noexcept {
  const Snapshot& s = impl_->snap();
  if (!id.valid() || id.value() >= s.peers.size()) {
    return seal_burst(now, id, nullptr, nullptr, false, pkts, counters);
  }
  const PeerView& v = s.peers[id.value()];
  return seal_burst(now, id, v.data, send_keypair(v), false, pkts, counters);
}

std::size_t DataPath::decrypt_burst(Nanos now, std::span<PacketBuf> pkts,
                                    Counters& counters) noexcept {
  return open_burst(impl_->snap(), now, pkts, counters);
}

PeerId DataPath::route(const IpAddress& dst) const noexcept {
  return impl_->snap().allowed->lookup(dst);
}

bool DataPath::endpoint(PeerId id, Endpoint& out) const noexcept {
  const Snapshot& s = impl_->snap();
  if (!id.valid() || id.value() >= s.peers.size() || !s.peers[id.value()].endpoint) return false;
  out = *s.peers[id.value()].endpoint;
  return true;
}

bool DataPath::can_send(Nanos now, PeerId id) const noexcept {
  const Snapshot& s = impl_->snap();
  if (!id.valid() || id.value() >= s.peers.size()) return false;
  return usable_for_send(send_keypair(s.peers[id.value()]), now);
}

PeerId DataPath::peer_of_index(std::uint32_t receiver_index) const noexcept {
  const Snapshot& s = impl_->snap();
  auto it = s.indices.find(receiver_index);
  return it == s.indices.end() ? PeerId::invalid() : it->second->peer;
}

// Single-threaded forms: the data path on the control thread, then the events absorbed at once.
std::size_t Device::encrypt_burst(Nanos now, PeerId id, std::span<PacketBuf> pkts) noexcept {
  const std::size_t ok = data_.encrypt_burst(now, id, pkts, impl_->counters);
  if (Peer* p = impl_->peer(id)) impl_->absorb(*p);
  impl_->commit();
  return ok;
}

std::size_t Device::decrypt_burst(Nanos now, std::span<PacketBuf> pkts) noexcept {
  const std::size_t ok = data_.decrypt_burst(now, pkts, impl_->counters);
  impl_->absorb_all();
  impl_->commit();
  return ok;
}

bool testing::set_send_counter(Device& dev, PeerId id, std::uint64_t next_nonce) {
  Peer* p = dev.impl_->peer(id);
  if (p == nullptr || !p->current) return false;
  p->current->send_nonce.store(next_nonce, std::memory_order_relaxed);
  return true;
}

}  // namespace causeway::tun
