// SPDX-License-Identifier: Apache-2.0
// Control side of traffic classes: the validated table of control message 14
// (ctl::TrafficClassSpec, include/causeway/fwd/steering_codec.h) compiled into the fixed-size
// form the workers match against (dataplane/traffic_class.h). Control thread only.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "causeway/common/result.h"
#include "causeway/fwd/steering_codec.h"
#include "dataplane/traffic_class.h"
#include "dataplane/tunnel_stages.h"

namespace causeway::fwd {

// Fails (EINVAL) only beyond the data path's fixed limits, naming the class; the codec's
// limits are the same, so a decoded request always compiles.
[[nodiscard]] Result<TrafficClassifier> compile_traffic_classes(
    const std::vector<ctl::TrafficClassSpec>& classes);

// One path group as workers read it. `members[i]` is configured member i resolved to its
// tunnel peer (nullopt: the peer is gone, e.g. removed through UAPI; it drops out of every set);
// `active` the default set, `class_active` the classes with their own set (an empty one drops
// the class). Every class slot is filled: a class without its own set gets the default set.
void fill_path_group(PathGroup& out, const std::vector<std::optional<PathMember>>& members,
                     const std::vector<bool>& active,
                     const std::map<std::uint8_t, std::vector<bool>>& class_active);

}  // namespace causeway::fwd
