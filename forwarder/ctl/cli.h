// SPDX-License-Identifier: Apache-2.0
// causewayctl: the operator CLI for the forwarder's control socket. main.cc only calls
// run_ctl(); tests call it in-process with string streams.
//
//   causewayctl [--socket PATH] [--json] [--timeout S] COMMAND ...
//   causewayctl [--socket PATH] -f FILE      one command per line ('#' starts a comment)
//   causewayctl [--socket PATH] -            commands from stdin (a prompt on a terminal)
//   causewayctl status [--provision-file F]  provisioning result + does the forwarder answer
#pragma once

#include <iosfwd>
#include <string_view>

namespace causeway::fwd::ctl {

// Written by the appliance's first-boot provisioning (images/libexec/causeway-provision);
// `causewayctl status` reports it.
inline constexpr std::string_view kDefaultProvisionStatusPath = "/var/lib/causeway/provision.json";

enum CtlExit : int {
  kExitOk = 0,
  kExitFailed = 1,     // the request failed: the server's error is printed
  kExitUsage = 2,      // bad command line
  kExitNoConnect = 3,  // cannot connect to the control socket
};

// `interactive`: `-` shows a prompt and goes on after a failed command (stdin is a terminal).
int run_ctl(int argc, const char* const* argv, std::istream& in, std::ostream& out,
            std::ostream& err, bool interactive = false);

}  // namespace causeway::fwd::ctl
