// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: parse_intent on arbitrary bytes must return a value or an error, never
// crash or throw; a document that parses must diff as empty against itself.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "intent/intent.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace causeway::rt::intent;
  auto parsed = parse_intent(std::string_view(reinterpret_cast<const char*>(data), size));
  if (parsed && !diff(parsed.value(), parsed.value()).empty()) __builtin_trap();
  if (!parsed && parsed.error().message.empty()) __builtin_trap();
  return 0;
}
