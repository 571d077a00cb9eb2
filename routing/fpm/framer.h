// SPDX-License-Identifier: Apache-2.0
// FPM stream framer (sans-I/O). zebra's dplane_fpm_nl writes a TCP byte stream of frames:
//   u8 version (1) | u8 type (1 = netlink) | u16 length, big endian, INCLUDING this header
// followed by one or more rtnetlink messages (FRR fpm/fpm.h; DESIGN.md section 4).
// Bytes arrive split anywhere; push() hands every complete frame's payload to the caller.
// A bad header means the stream can no longer be trusted: the framer counts the reason and
// fails for good (the server closes the connection; the next one starts a fresh framer).
// Buffering is bounded by the largest possible frame (65535 bytes).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "causeway/rt/fpm.h"

namespace causeway::rt::fpm {

inline constexpr std::uint8_t kFpmProtoVersion = 1;    // FPM_PROTO_VERSION (fpm/fpm.h)
inline constexpr std::uint8_t kFpmMsgTypeNetlink = 1;  // FPM_MSG_TYPE_NETLINK
inline constexpr std::size_t kFpmHeaderSize = 4;       // FPM_MSG_HDR_LEN
// Smallest useful frame: the header and one netlink message header (struct nlmsghdr).
inline constexpr std::size_t kFpmMinFrameSize = kFpmHeaderSize + 16;
inline constexpr std::size_t kFpmMaxFrameSize = 0xffff;  // the length field is 16 bits

class Framer {
 public:
  // Calls on_frame(std::span<const std::uint8_t> payload) for each complete frame, in
  // order. Returns false (and keeps returning false) once the stream is bad; the reason
  // is counted in `counters`.
  template <typename OnFrame>
  bool push(std::span<const std::uint8_t> bytes, Counters& counters, OnFrame&& on_frame);

  [[nodiscard]] bool failed() const { return failed_; }
  [[nodiscard]] std::size_t buffered() const { return buf_.size(); }

 private:
  // Checks the header at p (kFpmHeaderSize bytes); returns the frame length or 0 if bad.
  std::size_t check_header(const std::uint8_t* p, Counters& counters);

  std::vector<std::uint8_t> buf_;  // an incomplete frame (< kFpmMaxFrameSize bytes)
  bool failed_ = false;
};

template <typename OnFrame>
bool Framer::push(std::span<const std::uint8_t> bytes, Counters& counters, OnFrame&& on_frame) {
  if (failed_) return false;
  counters.add(Counter::kBytes, bytes.size());
  // Finish the frame carried over from earlier reads first.
  while (!buf_.empty() && !bytes.empty()) {
    if (buf_.size() < kFpmHeaderSize) {
      std::size_t take = std::min(kFpmHeaderSize - buf_.size(), bytes.size());
      buf_.insert(buf_.end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(take));
      bytes = bytes.subspan(take);
      if (buf_.size() < kFpmHeaderSize) return true;
    }
    std::size_t len = check_header(buf_.data(), counters);
    if (len == 0) return false;
    std::size_t take = std::min(len - buf_.size(), bytes.size());
    buf_.insert(buf_.end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(take));
    bytes = bytes.subspan(take);
    if (buf_.size() < len) return true;
    counters.add(Counter::kFrames);
    on_frame(std::span<const std::uint8_t>(buf_).subspan(kFpmHeaderSize));
    buf_.clear();
  }
  // buf_ is empty here. Whole frames straight from the caller's buffer, no copy.
  while (bytes.size() >= kFpmHeaderSize) {
    std::size_t len = check_header(bytes.data(), counters);
    if (len == 0) return false;
    if (bytes.size() < len) break;
    counters.add(Counter::kFrames);
    on_frame(bytes.subspan(kFpmHeaderSize, len - kFpmHeaderSize));
    bytes = bytes.subspan(len);
  }
  buf_.assign(bytes.begin(), bytes.end());
  return true;
}

}  // namespace causeway::rt::fpm
