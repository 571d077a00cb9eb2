// SPDX-License-Identifier: Apache-2.0
#include "framer.h"

#include "causeway/common/byte_order.h"

namespace causeway::rt::fpm {

std::size_t Framer::check_header(const std::uint8_t* p, Counters& counters) {
  Counter reason;
  std::size_t len = load_be16(p + 2);
  if (p[0] != kFpmProtoVersion) {
    reason = Counter::kFrameBadVersion;
  } else if (p[1] != kFpmMsgTypeNetlink) {
    reason = Counter::kFrameBadType;
  } else if (len < kFpmMinFrameSize) {
    reason = Counter::kFrameBadLength;
  } else {
    return len;
  }
  counters.add(reason);
  failed_ = true;
  buf_.clear();
  buf_.shrink_to_fit();
  return 0;
}

}  // namespace causeway::rt::fpm
