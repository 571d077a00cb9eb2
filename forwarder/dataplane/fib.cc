// SPDX-License-Identifier: Apache-2.0
#include "fib.h"

#include <rte_errno.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "config/config.h"

namespace causeway::fwd {
namespace {

constexpr std::uint32_t kTbl24Entries = 1u << 24;
constexpr std::uint32_t kTbl8GroupEntries = 256;

constexpr std::uint32_t depth_mask(unsigned depth) noexcept {
  return depth == 0 ? 0 : ~std::uint32_t{0} << (32 - depth);
}

constexpr std::size_t kHugePage = 2u << 20;

}  // namespace

// The tables are only ever touched by CPUs (no device reads them), so they need no DPDK
// (IOVA-contiguous) memory: they are anonymous mappings the kernel backs with transparent
// huge pages (MADV_HUGEPAGE). With 4 KiB pages, random destinations over the 64 MiB tbl24
// miss the TLB on almost every lookup; with 2 MiB pages the whole table needs 32 entries
// (measured in the forwarding benchmark, docs/benchmarks.md).
FibCopy::Table FibCopy::Table::allocate(std::size_t bytes) {
  Table t;
  const std::size_t size = (bytes + kHugePage - 1) & ~(kHugePage - 1);
  // Over-allocate by one huge page to align the start, then give back the slack.
  void* raw = mmap(nullptr, size + kHugePage, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (raw == MAP_FAILED) return t;
  auto base = reinterpret_cast<std::uintptr_t>(raw);
  const std::uintptr_t aligned = (base + kHugePage - 1) & ~(kHugePage - 1);
  if (aligned > base) munmap(raw, aligned - base);
  const std::uintptr_t end = base + size + kHugePage;
  if (end > aligned + size) munmap(reinterpret_cast<void*>(aligned + size), end - aligned - size);
  t.data = reinterpret_cast<std::uint32_t*>(aligned);
  t.bytes = size;
  // Best effort: without THP the table still works, only slower.
  madvise(t.data, size, MADV_HUGEPAGE);
  return t;
}

FibCopy::Table::~Table() {
  if (data) munmap(data, bytes);
}

namespace {}  // namespace

Result<std::unique_ptr<FibCopy>> FibCopy::create(const std::string& name, const FibConfig& cfg,
                                                 int socket_id) {
  std::unique_ptr<FibCopy> copy(new FibCopy());

  if (cfg.v4_tbl8_groups > kValueMask + 1) {
    return fail("IPv4 FIB '" + name + "': at most 2^24 tbl8 groups", EINVAL);
  }
  copy->tbl24_mem_ = Table::allocate(sizeof(std::uint32_t) * kTbl24Entries);
  copy->n_tbl8_ = cfg.v4_tbl8_groups;
  copy->tbl8_mem_ =
      Table::allocate(sizeof(std::uint32_t) * kTbl8GroupEntries * std::size_t{copy->n_tbl8_});
  copy->tbl24_ = copy->tbl24_mem_.data;
  copy->tbl8_ = copy->tbl8_mem_.data;
  if (copy->tbl24_ == nullptr || copy->tbl8_ == nullptr) {
    return fail("cannot allocate IPv4 FIB '" + name + "' (" + std::to_string(cfg.v4_tbl8_groups) +
                    " tbl8 groups): " + std::strerror(errno),
                ENOMEM);
  }
  copy->tbl8_free_.reserve(copy->n_tbl8_);
  for (std::uint32_t g = copy->n_tbl8_; g-- > 0;) copy->tbl8_free_.push_back(g);

  rte_fib6_conf c6{};
  c6.type = RTE_FIB6_TRIE;
  c6.default_nh = 0;
  c6.max_routes = static_cast<int>(cfg.v6_max_routes);
  c6.trie.nh_sz = RTE_FIB6_TRIE_4B;
  c6.trie.num_tbl8 = cfg.v6_tbl8_groups;
  std::string n6 = name + "6";
  copy->v6_ = rte_fib6_create(n6.c_str(), socket_id, &c6);
  if (copy->v6_ == nullptr) {
    return fail("cannot create IPv6 FIB '" + n6 + "' (" + std::to_string(cfg.v6_max_routes) +
                    " routes, " + std::to_string(cfg.v6_tbl8_groups) + " tbl8 groups): " +
                    rte_strerror(rte_errno) + " (raise dpdk.memory_mb or lower fib sizes)",
                rte_errno);
  }
  return copy;
}

FibCopy::~FibCopy() {
  if (v6_) rte_fib6_free(v6_);
}

int FibCopy::add4(std::uint32_t ip, std::uint8_t depth, std::uint32_t next_hop) noexcept {
  ip &= depth_mask(depth);
  const std::uint32_t e = entry(next_hop, depth);
  if (depth <= 24) {
    const std::uint32_t first = ip >> 8;
    const std::uint32_t end = first + (1u << (24 - depth));
    for (std::uint32_t i = first; i < end; ++i) {
      const std::uint32_t cur = tbl24_[i];
      if (cur & kExt) {
        std::uint32_t* g = tbl8_ + (cur & kValueMask) * kTbl8GroupEntries;
        for (std::uint32_t j = 0; j < kTbl8GroupEntries; ++j) {
          if (depth_of(g[j]) <= depth) g[j] = e;
        }
      } else if (depth_of(cur) <= depth) {
        tbl24_[i] = e;
      }
    }
    return 0;
  }
  std::uint32_t& slot = tbl24_[ip >> 8];
  std::uint32_t group;
  if (slot & kExt) {
    group = slot & kValueMask;
  } else {
    if (tbl8_free_.empty()) return -ENOSPC;
    group = tbl8_free_.back();
    tbl8_free_.pop_back();
    std::uint32_t* g = tbl8_ + group * kTbl8GroupEntries;
    for (std::uint32_t j = 0; j < kTbl8GroupEntries; ++j) g[j] = slot;
    slot = kExt | group;
  }
  std::uint32_t* g = tbl8_ + group * kTbl8GroupEntries;
  const std::uint32_t first = ip & 0xff;
  const std::uint32_t end = first + (1u << (32 - depth));
  for (std::uint32_t j = first; j < end; ++j) {
    if (depth_of(g[j]) <= depth) g[j] = e;
  }
  return 0;
}

void FibCopy::del4(std::uint32_t ip, std::uint8_t depth, std::uint32_t parent_next_hop,
                   std::uint8_t parent_depth) noexcept {
  ip &= depth_mask(depth);
  const std::uint32_t pe = parent_next_hop ? entry(parent_next_hop, parent_depth) : 0;
  if (depth <= 24) {
    const std::uint32_t first = ip >> 8;
    const std::uint32_t end = first + (1u << (24 - depth));
    for (std::uint32_t i = first; i < end; ++i) {
      const std::uint32_t cur = tbl24_[i];
      if (cur & kExt) {
        std::uint32_t* g = tbl8_ + (cur & kValueMask) * kTbl8GroupEntries;
        for (std::uint32_t j = 0; j < kTbl8GroupEntries; ++j) {
          if (depth_of(g[j]) == depth) g[j] = pe;
        }
      } else if (depth_of(cur) == depth) {
        tbl24_[i] = pe;
      }
    }
    return;
  }
  std::uint32_t& slot = tbl24_[ip >> 8];
  if ((slot & kExt) == 0) return;
  const std::uint32_t group = slot & kValueMask;
  std::uint32_t* g = tbl8_ + group * kTbl8GroupEntries;
  const std::uint32_t first = ip & 0xff;
  const std::uint32_t end = first + (1u << (32 - depth));
  for (std::uint32_t j = first; j < end; ++j) {
    if (depth_of(g[j]) == depth) g[j] = pe;
  }
  // When no prefix longer than /24 is left in the group, all its entries come from the same
  // covering prefix: fold it back into the tbl24 entry and free the group.
  for (std::uint32_t j = 0; j < kTbl8GroupEntries; ++j) {
    if (depth_of(g[j]) > 24) return;
  }
  slot = g[0];
  tbl8_free_.push_back(group);
}

}  // namespace causeway::fwd
