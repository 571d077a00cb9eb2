// SPDX-License-Identifier: Apache-2.0
// Applying a rendered frr.conf to running FRR daemons (control path).
//
// Steps, each through the injected CommandRunner (FRR 8.4 behaviour, docs/frr.md):
//   1. write <config>.new                    (the live file is not touched yet)
//   2. vtysh -C -f <new>                     syntax check, exit 2 on an unknown command
//   3. frr-reload.py --test  <new>           what would change; nothing -> done
//   4. frr-reload.py --reload <new>          applies only the difference; exit 1 on error
//   5. frr-reload.py --test  <new>           verify: nothing left to apply
//   6. rename <new> over <config>
// frr-reload.py --reload ends with `vtysh write` whenever the file it applied is not
// <confdir>/frr.conf (always so with -N: it compares with /etc/frr/frr.conf), which writes the
// running configuration over <config>. The applier therefore keeps the previous text itself:
// a failure in 4 or 5 writes it back and reloads it, so FRR runs what the file on disk says;
// after a success, 6 replaces FRR's rewrite with the rendered text. The error names the step
// and carries FRR's own message.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "frr/frr_config.h"

namespace causeway::rt::frr {
namespace {

std::string trim_right(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ' || text.back() == '\r')) {
    text.pop_back();
  }
  return text;
}

// Removes terminal colour sequences (frr-reload.py colours its warnings).
std::string strip_escapes(const std::string& line) {
  std::string out;
  for (std::size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '\x1b' && i + 1 < line.size() && line[i + 1] == '[') {
      i += 2;
      while (i < line.size() && !(line[i] >= '@' && line[i] <= '~')) ++i;
      continue;
    }
    out += line[i];
  }
  return out;
}

// FRR's own answers from a command's output: vtysh prints "% <reason>" and
// "line N: <what failed>"; frr-reload.py adds its log and repeats them for each pass. Each
// answer is kept once; without any, the end of the output is shown.
std::string describe(const CommandResult& r) {
  const std::string text = trim_right(r.out + (r.out.empty() ? "" : "\n") + r.err);
  std::istringstream lines(text);
  std::string line;
  std::vector<std::string> kept;
  while (std::getline(lines, line)) {
    line = trim_right(strip_escapes(line));
    const bool answer = line.rfind("% ", 0) == 0 || line.rfind("line ", 0) == 0 ||
                        line.rfind("cannot run ", 0) == 0 || line.rfind("killed after ", 0) == 0;
    if (answer && std::find(kept.begin(), kept.end(), line) == kept.end()) kept.push_back(line);
  }
  std::string shown;
  for (const std::string& k : kept) shown += (shown.empty() ? "" : "\n") + k;
  if (shown.empty()) shown = text.size() > 2000 ? text.substr(text.size() - 2000) : text;
  return "exit " + std::to_string(r.exit_code) + (shown.empty() ? "" : ": " + shown);
}

bool write_file(const std::string& path, const std::string& text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return false;
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  return ::close(fd) == 0 && synced;
}

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

CommandResult run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  CommandResult result;
  int out_pipe[2];
  int err_pipe[2];
  if (argv.empty() || ::pipe2(out_pipe, O_CLOEXEC) != 0) return {127, "", "cannot start"};
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    return {127, "", "cannot start"};
  }
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out_pipe[1], STDOUT_FILENO);
    ::dup2(err_pipe[1], STDERR_FILENO);
    const int null = ::open("/dev/null", O_RDONLY);
    if (null >= 0) ::dup2(null, STDIN_FILENO);
    ::execvp(args[0], args.data());
    const std::string msg = "cannot run " + argv[0] + ": " + std::strerror(errno) + "\n";
    (void)!::write(STDERR_FILENO, msg.data(), msg.size());
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (pid < 0) {
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    return {127, "", std::string("fork: ") + std::strerror(errno)};
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_fds = 2;
  bool timed_out = false;
  while (open_fds > 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      ::kill(pid, SIGKILL);
      break;
    }
    const int n = ::poll(fds, 2, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      char buf[4096];
      const ssize_t got = ::read(fds[i].fd, buf, sizeof(buf));
      if (got > 0) {
        sinks[i]->append(buf, static_cast<std::size_t>(got));
      } else if (got == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (const pollfd& p : fds) {
    if (p.fd >= 0) ::close(p.fd);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.exit_code = 128 + WTERMSIG(status);
  }
  if (timed_out) result.err += "\nkilled after " + std::to_string(timeout.count()) + " ms";
  return result;
}

ApplyReport parse_reload_diff(const std::string& output) {
  ApplyReport report;
  std::vector<std::string>* section = nullptr;
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) {
    line = trim_right(line);
    if (line == "Lines To Delete") {
      section = &report.deleted;
    } else if (line == "Lines To Add") {
      section = &report.added;
    } else if (line.empty() || line.find_first_not_of('=') == std::string::npos) {
      continue;
    } else if (section != nullptr && line.rfind("hostname ", 0) != 0 &&
               line.rfind("no hostname ", 0) != 0) {
      section->push_back(line);
    }
  }
  return report;
}

FrrApplier::FrrApplier(ApplyOptions options, CommandRunner runner)
    : options_(std::move(options)), runner_(std::move(runner)) {
  if (!runner_) runner_ = [](const std::vector<std::string>& argv) { return run_command(argv); };
}

std::vector<std::string> FrrApplier::vtysh_args(std::vector<std::string> rest) const {
  std::vector<std::string> argv{options_.vtysh};
  if (!options_.pathspace.empty()) {
    argv.push_back("-N");
    argv.push_back(options_.pathspace);
  }
  argv.insert(argv.end(), rest.begin(), rest.end());
  return argv;
}

std::vector<std::string> FrrApplier::reload_args(const std::string& mode,
                                                 const std::string& file) const {
  std::vector<std::string> argv{options_.frr_reload, mode};
  if (!options_.pathspace.empty()) {
    argv.push_back("-N");
    argv.push_back(options_.pathspace);
  }
  argv.push_back("--stdout");
  argv.push_back(file);
  return argv;
}

Result<ApplyReport> FrrApplier::difference(const std::string& file) {
  const CommandResult r = runner_(reload_args("--test", file));
  if (r.exit_code != 0) return fail("frr-reload.py --test failed (" + describe(r) + ")", EIO);
  return parse_reload_diff(r.out);
}

std::string FrrApplier::restore_previous(const std::optional<std::string>& previous) {
  if (!previous) return "; no previous " + options_.config_path + " to restore";
  // frr-reload.py has already written the running configuration over config_path (see the
  // top of this file): put the previous text back, under a name of its own while reloading.
  const std::string saved = options_.config_path + ".prev";
  if (!write_file(saved, *previous)) {
    return "; cannot write " + saved + " to restore the previous configuration";
  }
  const CommandResult r = runner_(reload_args("--reload", saved));
  const bool kept = ::rename(saved.c_str(), options_.config_path.c_str()) == 0;
  std::string note = kept ? "" : " (but cannot put it back in " + options_.config_path + ")";
  if (r.exit_code != 0)
    return "; restoring the previous configuration failed too (" + describe(r) + ")" + note;
  return "; the running configuration was restored from the previous " + options_.config_path +
         note;
}

Result<ApplyReport> FrrApplier::apply(const std::string& config_text) {
  const std::optional<std::string> previous = read_file(options_.config_path);
  const std::string candidate = options_.config_path + ".new";
  if (!write_file(candidate, config_text)) {
    return fail("cannot write " + candidate + ": " + std::strerror(errno), errno ? errno : EIO);
  }
  auto discard = [&] { ::unlink(candidate.c_str()); };

  const CommandResult check = runner_(vtysh_args({"-C", "-f", candidate}));
  if (check.exit_code != 0) {
    discard();
    return fail(
        "FRR rejected the configuration (vtysh -C, " + describe(check) + "); nothing was applied",
        EINVAL);
  }
  auto before = difference(candidate);
  if (!before) {
    discard();
    return fail(before.error().message + "; nothing was applied", before.error().code);
  }
  if (before.value().changed()) {
    const CommandResult reload = runner_(reload_args("--reload", candidate));
    if (reload.exit_code != 0) {
      discard();
      return fail(
          "frr-reload.py --reload failed (" + describe(reload) + ")" + restore_previous(previous),
          EIO);
    }
    auto after = difference(candidate);
    if (!after || after.value().changed()) {
      std::string left;
      if (after) {
        for (const auto& l : after.value().deleted) left += "\n  delete: " + l;
        for (const auto& l : after.value().added) left += "\n  add: " + l;
      }
      discard();
      return fail((after ? "FRR did not take the whole configuration; still different:" + left
                         : after.error().message) +
                      restore_previous(previous),
                  EIO);
    }
  }
  if (::rename(candidate.c_str(), options_.config_path.c_str()) != 0) {
    const int err = errno;
    discard();
    return fail("applied, but cannot rename " + candidate + " to " + options_.config_path + ": " +
                    std::strerror(err),
                err);
  }
  return before;
}

Result<void> FrrApplier::apply_fragment(const std::string& fragment) {
  const std::string file = options_.config_path + ".fragment";
  if (!write_file(file, fragment)) {
    return fail("cannot write " + file + ": " + std::strerror(errno), errno ? errno : EIO);
  }
  const CommandResult check = runner_(vtysh_args({"-C", "-f", file}));
  if (check.exit_code != 0) {
    ::unlink(file.c_str());
    return fail(
        "FRR rejected the fragment (vtysh -C, " + describe(check) + "); nothing was applied",
        EINVAL);
  }
  const CommandResult r = runner_(vtysh_args({"-f", file}));
  ::unlink(file.c_str());
  if (r.exit_code != 0) return fail("vtysh -f failed (" + describe(r) + ")", EIO);
  return boost::outcome_v2::success();
}

}  // namespace causeway::rt::frr
