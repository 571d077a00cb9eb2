// SPDX-License-Identifier: Apache-2.0
// causewayctl: thin main; the CLI lives in cli.cc (causeway_ctl).
#include <unistd.h>

#include <iostream>

#include "ctl/cli.h"

int main(int argc, char** argv) {
  return causeway::fwd::ctl::run_ctl(argc, argv, std::cin, std::cout, std::cerr,
                                     ::isatty(STDIN_FILENO) == 1);
}
