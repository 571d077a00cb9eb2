// SPDX-License-Identifier: Apache-2.0
// UAPI connection state machine (session.h).
#include "uapi/session.h"

#include <cerrno>
#include <exception>
#include <utility>

namespace causeway::fwd::uapi {

namespace {

void bump(std::atomic<std::uint64_t>& c) {
  c.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

Session::Output Session::feed(std::string_view bytes) {
  Output out;
  using Status = RequestFramer::Frame::Status;
  while (!closed_ && !bytes.empty()) {
    // Take no more than the limit allows past what is buffered, so a flood costs at most
    // max_request_bytes of memory before the framer refuses it.
    std::size_t room = limits_.max_request_bytes + 1 - buffer_.size();
    std::size_t take = std::min(room, bytes.size());
    buffer_.append(bytes.substr(0, take));
    bytes.remove_prefix(take);
    for (;;) {
      auto frame = framer_.scan(buffer_);
      if (frame.status == Status::kNeedMore) break;
      if (frame.status == Status::kError) {
        bump(frame.error.code == EMSGSIZE ? counters_->rejected_oversize
                                          : counters_->rejected_operation);
        out.errors.push_back(frame.error.message);
        out.reply += format_errno_reply(frame.error.code);
        out.close = closed_ = true;
        buffer_.clear();
        return out;
      }
      answer(std::string_view(buffer_).substr(0, frame.length), out);
      buffer_.erase(0, frame.length);
      framer_.reset();
      if (buffer_.empty()) break;
    }
  }
  return out;
}

void Session::answer(std::string_view request, Output& out) {
  auto parsed_op = request.substr(0, 5) == "get=1" ? Operation::kGet : Operation::kSet;
  if (parsed_op == Operation::kGet) {
    bump(counters_->get_requests);
    try {
      out.reply += format_get_reply(backend_->get());
    } catch (const std::exception& e) {
      bump(counters_->backend_exceptions);
      out.errors.push_back(std::string("get failed: ") + e.what());
      out.reply += format_get_error_reply(EIO);
    }
    return;
  }
  bump(counters_->set_requests);
  // Between "set=1\n" and the final empty line.
  out.reply += apply_set(request.substr(6, request.size() - 7), out);
}

std::string Session::apply_set(std::string_view body, Output& out) {
  auto parsed = parse_set_body(body);
  if (!parsed) {
    bump(counters_->rejected_malformed);
    out.errors.push_back("set refused: " + parsed.error().message);
    return format_errno_reply(parsed.error().code);
  }
  try {
    auto r = backend_->set(parsed.value());
    if (!r) {
      bump(counters_->rejected_backend);
      int code = r.error().code > 0 ? r.error().code : EINVAL;
      out.errors.push_back("set refused by the interface: " + r.error().message);
      return format_errno_reply(code);
    }
  } catch (const std::exception& e) {
    bump(counters_->backend_exceptions);
    out.errors.push_back(std::string("set failed: ") + e.what());
    return format_errno_reply(EIO);
  }
  bump(counters_->sets_applied);
  return format_errno_reply(0);
}

}  // namespace causeway::fwd::uapi
