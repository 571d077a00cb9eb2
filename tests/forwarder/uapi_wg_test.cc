// SPDX-License-Identifier: Apache-2.0
// The real `wg` tool (wireguard-tools) against UapiServer and a stateful fake Backend.
// `wg` only looks in /var/run/wireguard (it has no directory override), so this test needs
// root (label netns); the interface name is unique per run and the socket is removed at the end.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "uapi_fake_backend.h"
#include "uapi_test_util.h"

extern char** environ;

using namespace causeway;
using namespace causeway::fwd::uapi;
using namespace causeway::fwd::uapi::test;
using namespace std::chrono_literals;

namespace {

struct Run {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string slurp(const std::filesystem::path& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// Runs a command with stdout/stderr captured in files; killed (by PID) after 30 s.
Run run(const TempDir& dir, const std::vector<std::string>& argv) {
  auto out_path = dir.path() / "stdout";
  auto err_path = dir.path() / "stderr";
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&fa, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  Run r;
  int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    r.err = std::string("cannot run ") + argv[0] + ": " + std::strerror(rc);
    return r;
  }
  int status = 0;
  bool exited = wait_until([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, 30s);
  if (!exited) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    r.err = "timed out";
    return r;
  }
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = slurp(out_path);
  r.err = slurp(err_path);
  return r;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// A key made by `wg` (base64), optionally its public key.
std::string shell_out(const TempDir& dir, const std::string& command) {
  auto r = run(dir, {"/bin/sh", "-c", command});
  REQUIRE(r.exit_code == 0);
  return trim(r.out);
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream s(text);
  for (std::string l; std::getline(s, l);) out.push_back(l);
  return out;
}

}  // namespace

TEST_CASE("wg show, showconf, set, setconf and errors against the UAPI server",
          "[uapi][wg][netns]") {
  REQUIRE(::geteuid() == 0);  // /var/run/wireguard is root's
  TempDir dir;
  REQUIRE_FALSE(dir.path().empty());
  FakeBackend backend;
  backend.refuse_port(1111);
  UapiServerOptions options;
  options.interface_name = "cwu" + std::to_string(::getpid() % 1000000);
  const std::string ifname = options.interface_name;
  const auto sock = std::filesystem::path("/var/run/wireguard") / (ifname + ".sock");
  ServerThread st(backend, options);
  REQUIRE_FALSE(st.error());
  auto wg = [&](std::vector<std::string> args) {
    args.insert(args.begin(), "wg");
    return run(dir, args);
  };

  const std::string priv = shell_out(dir, "wg genkey");
  const std::string pub = shell_out(dir, "echo " + priv + " | wg pubkey");
  const std::string peer = shell_out(dir, "wg genkey | wg pubkey");
  const std::string peer2 = shell_out(dir, "wg genkey | wg pubkey");
  const std::string psk = shell_out(dir, "wg genpsk");
  const auto priv_file = dir.path() / "private";
  const auto psk_file = dir.path() / "psk";
  std::ofstream(priv_file) << priv << "\n";
  std::ofstream(psk_file) << psk << "\n";

  // An unconfigured interface.
  auto empty = wg({"show", ifname});
  REQUIRE(empty.exit_code == 0);
  REQUIRE(empty.out == "interface: " + ifname + "\n");

  // wg set with everything at once.
  auto set = wg({"set", ifname, "private-key", priv_file.string(), "listen-port", "51820", "peer",
                 peer, "preshared-key", psk_file.string(), "endpoint", "192.0.2.1:51821",
                 "allowed-ips", "10.0.0.0/24,fd00::/64", "persistent-keepalive", "25"});
  INFO(set.err);
  REQUIRE(set.exit_code == 0);
  auto v = backend.snapshot();
  REQUIRE(v.listen_port == 51820);
  REQUIRE(v.private_key);
  REQUIRE(v.peers.size() == 1);
  REQUIRE(v.peers[0].endpoint == parse_endpoint("192.0.2.1:51821"));
  REQUIRE(v.peers[0].persistent_keepalive == 25s);
  REQUIRE(v.peers[0].allowed_ips.size() == 2);

  // dump: keys make the round trip wg -> hex -> backend -> hex -> wg unchanged.
  auto dump = wg({"show", ifname, "dump"});
  REQUIRE(dump.exit_code == 0);
  REQUIRE(lines(dump.out) ==
          std::vector<std::string>{
              priv + "\t" + pub + "\t51820\toff",
              peer + "\t" + psk + "\t192.0.2.1:51821\t10.0.0.0/24,fd00::/64" + "\t0\t0\t0\t25"});

  auto show = wg({"show", ifname});
  REQUIRE(show.exit_code == 0);
  REQUIRE(show.out == "interface: " + ifname + "\n  public key: " + pub +
                          "\n  private key: (hidden)\n  listening port: 51820\n\npeer: " + peer +
                          "\n  preshared key: (hidden)\n  endpoint: 192.0.2.1:51821\n"
                          "  allowed ips: 10.0.0.0/24, fd00::/64\n"
                          "  persistent keepalive: every 25 seconds\n");

  auto conf = wg({"showconf", ifname});
  REQUIRE(conf.exit_code == 0);
  REQUIRE(conf.out == "[Interface]\nListenPort = 51820\nPrivateKey = " + priv +
                          "\n\n[Peer]\nPublicKey = " + peer + "\nPresharedKey = " + psk +
                          "\nAllowedIPs = 10.0.0.0/24, fd00::/64\nEndpoint = 192.0.2.1:51821\n"
                          "PersistentKeepalive = 25\n");

  // Statistics the backend reports reach `wg show`.
  backend.edit([](DeviceView& d) {
    d.peers[0].last_handshake = std::chrono::system_clock::time_point(1700000000s);
    d.peers[0].rx_bytes = 1000;
    d.peers[0].tx_bytes = 2000;
  });
  REQUIRE(lines(wg({"show", ifname, "dump"}).out).at(1) ==
          peer + "\t" + psk +
              "\t192.0.2.1:51821\t10.0.0.0/24,fd00::/64\t1700000000\t1000\t2000\t25");
  REQUIRE(trim(wg({"show", ifname, "transfer"}).out) == peer + "\t1000\t2000");

  // allowed-ips replaces the list; an IPv6 endpoint; keepalive off.
  REQUIRE(wg({"set", ifname, "peer", peer, "allowed-ips", "10.9.0.0/16", "endpoint",
              "[2001:db8::1]:4500", "persistent-keepalive", "off"})
              .exit_code == 0);
  REQUIRE(trim(wg({"show", ifname, "allowed-ips"}).out) == peer + "\t10.9.0.0/16");
  REQUIRE(trim(wg({"show", ifname, "endpoints"}).out) == peer + "\t[2001:db8::1]:4500");
  REQUIRE(trim(wg({"show", ifname, "persistent-keepalive"}).out) == peer + "\toff");

  // A second peer, then removed.
  REQUIRE(wg({"set", ifname, "peer", peer2, "allowed-ips", "10.2.0.0/16"}).exit_code == 0);
  REQUIRE(trim(wg({"show", ifname, "peers"}).out) == peer + "\n" + peer2);
  REQUIRE(wg({"set", ifname, "peer", peer2, "remove"}).exit_code == 0);
  REQUIRE(trim(wg({"show", ifname, "peers"}).out) == peer);

  // Backend refusal: wg exits non-zero with the errno's text, and nothing of the request is
  // applied (the peer of the same request is not created).
  auto refused =
      wg({"set", ifname, "listen-port", "1111", "peer", peer2, "allowed-ips", "10.7.0.0/16"});
  REQUIRE(refused.exit_code != 0);
  REQUIRE(refused.err.find(std::strerror(EADDRINUSE)) != std::string::npos);
  REQUIRE(trim(wg({"show", ifname, "listen-port"}).out) == "51820");
  REQUIRE(trim(wg({"show", ifname, "peers"}).out) == peer);
  backend.set_max_peers(1);
  auto full = wg({"set", ifname, "peer", peer2});
  REQUIRE(full.exit_code != 0);
  REQUIRE(full.err.find(std::strerror(ENOSPC)) != std::string::npos);
  backend.set_max_peers(1000);
  // A get that fails is reported by wg with the errno sent.
  backend.throw_on_get(true);
  auto broken = wg({"show", ifname});
  REQUIRE(broken.exit_code != 0);
  REQUIRE(broken.err.find(std::strerror(EIO)) != std::string::npos);
  backend.throw_on_get(false);
  REQUIRE(st.server()->counters().rejected_backend == 2);

  // setconf: replace_peers and fwmark.
  const auto conf_file = dir.path() / "wg.conf";
  std::ofstream(conf_file) << "[Interface]\nPrivateKey = " << priv
                           << "\nListenPort = 40000\nFwMark = 0x20\n\n[Peer]\nPublicKey = " << peer2
                           << "\nAllowedIPs = 192.0.2.0/24\n";
  auto setconf = wg({"setconf", ifname, conf_file.string()});
  INFO(setconf.err);
  REQUIRE(setconf.exit_code == 0);
  REQUIRE(lines(wg({"show", ifname, "dump"}).out) ==
          std::vector<std::string>{priv + "\t" + pub + "\t40000\t0x20",
                                   peer2 + "\t(none)\t(none)\t192.0.2.0/24\t0\t0\t0\toff"});

  // addconf adds without replacing; `wg show interfaces` lists the socket's interface.
  const std::string peer3 = shell_out(dir, "wg genkey | wg pubkey");
  const auto add_file = dir.path() / "add.conf";
  std::ofstream(add_file) << "[Peer]\nPublicKey = " << peer3 << "\nAllowedIPs = 198.51.100.0/24\n";
  REQUIRE(wg({"addconf", ifname, add_file.string()}).exit_code == 0);
  REQUIRE(trim(wg({"show", ifname, "peers"}).out) == peer2 + "\n" + peer3);
  auto interfaces = wg({"show", "interfaces"});
  REQUIRE(interfaces.exit_code == 0);
  REQUIRE((" " + trim(interfaces.out) + " ").find(" " + ifname + " ") != std::string::npos);

  // An empty private key file removes the key (all zeros on the wire).
  REQUIRE(wg({"set", ifname, "private-key", "/dev/null"}).exit_code == 0);
  REQUIRE_FALSE(backend.snapshot().private_key);
  REQUIRE(lines(wg({"show", ifname, "dump"}).out).at(0) == "(none)\t(none)\t40000\t0x20");

  // The socket goes away with the server, and wg then reports the interface missing.
  st.stop();
  REQUIRE_FALSE(std::filesystem::exists(std::filesystem::symlink_status(sock)));
  REQUIRE(wg({"show", ifname}).exit_code != 0);
}
