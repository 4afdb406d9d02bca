#pragma once
// Runs a program the way a user or a supervisor would: posix_spawn with an explicit argv and
// environment, stdout and stderr captured in files (so a chatty child can never block on a
// full pipe), exit status collected with a deadline. Header-only so any test folder can use it
// without a CMake edit.

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "test/support/temp_dir.hpp"

extern char** environ;

namespace ferry::test {

// A directory under the system temp dir, removed with everything in it when destroyed.

inline std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void write_text(const std::filesystem::path& p, const std::string& text) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
}

struct process_result {
  int exit_code = -1;  // -1 when killed by a signal
  int signal = 0;      // the terminating signal, else 0
  std::string out;
  std::string err;
};

// Environment variables for the child: the parent's, without any FERRY_* (so a developer's
// shell never leaks configuration into a test), then `set` applied (an empty optional unsets).
using env_overrides = std::map<std::string, std::optional<std::string>>;

inline std::vector<std::string> child_environment(const env_overrides& set) {
  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string entry(*e);
    const auto eq = entry.find('=');
    if (eq == std::string::npos || entry.starts_with("FERRY_")) {
      continue;
    }
    env[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  for (const auto& [k, v] : set) {
    if (v) {
      env[k] = *v;
    } else {
      env.erase(k);
    }
  }
  std::vector<std::string> out;
  for (const auto& [k, v] : env) {
    out.push_back(k + "=" + v);
  }
  return out;
}

// A running child. Its stdout and stderr go to files in a private temp dir, readable at any
// time (out() / err()) while it runs.
class child {
 public:
  child(const std::vector<std::string>& argv, const env_overrides& env = {}) {
    out_path_ = dir_.path() / "stdout";
    err_path_ = dir_.path() / "stderr";
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_path_.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_path_.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    std::vector<char*> args;
    for (const auto& a : argv) {
      args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);
    const auto env_strings = child_environment(env);
    std::vector<char*> envp;
    for (const auto& e : env_strings) {
      envp.push_back(const_cast<char*>(e.c_str()));
    }
    envp.push_back(nullptr);
    const int rc = ::posix_spawnp(&pid_, args[0], &actions, nullptr, args.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      throw std::runtime_error("posix_spawnp " + argv.at(0) + ": " + std::to_string(rc));
    }
  }
  child(const child&) = delete;
  child& operator=(const child&) = delete;
  ~child() {
    if (!status_) {
      ::kill(pid_, SIGKILL);
      int st = 0;
      ::waitpid(pid_, &st, 0);
    }
  }

  pid_t pid() const noexcept { return pid_; }
  void signal(int sig) const { ::kill(pid_, sig); }
  std::string out() const { return read_text(out_path_); }
  std::string err() const { return read_text(err_path_); }

  // The exit status once the child has ended, polling until the deadline; std::nullopt when it
  // is still running then.
  std::optional<process_result> wait_for(std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!status_) {
      int st = 0;
      const pid_t r = ::waitpid(pid_, &st, WNOHANG);
      if (r == pid_) {
        status_ = st;
        break;
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        return std::nullopt;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    process_result res;
    if (WIFEXITED(*status_)) {
      res.exit_code = WEXITSTATUS(*status_);
    } else if (WIFSIGNALED(*status_)) {
      res.signal = WTERMSIG(*status_);
    }
    res.out = out();
    res.err = err();
    return res;
  }

 private:
  temp_dir dir_;
  std::filesystem::path out_path_;
  std::filesystem::path err_path_;
  pid_t pid_ = -1;
  std::optional<int> status_;
};

// Runs a command to completion (at most `limit`; a child still running then is killed and the
// result says exit_code -1, signal SIGKILL).
inline process_result run(const std::vector<std::string>& argv, const env_overrides& env = {},
                          std::chrono::milliseconds limit = std::chrono::seconds(60)) {
  child c(argv, env);
  if (auto r = c.wait_for(limit)) {
    return *r;
  }
  c.signal(SIGKILL);
  auto r = c.wait_for(std::chrono::seconds(10));
  return r ? *r : process_result{};
}

}  // namespace ferry::test
