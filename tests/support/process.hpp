#pragma once
// Test support: start the real lab executables, wait for their readiness
// (--port-file), stop them, and read what they wrote. Every wait is bounded.
#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <sys/types.h>

namespace netlab::test {

using namespace std::chrono_literals;

// The path of a program built next to the tests (build/<preset>/bin/<program>).
std::string bin(const std::string& program);

// A temporary folder, removed with everything in it when the object goes.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::filesystem::path path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

std::string read_text(const std::string& path);
boost::json::value read_json(const std::string& path);

// A child process with stdout and stderr sent to files. The destructor kills
// (SIGKILL) and reaps a child that is still running, so no test leaves one behind.
class Process {
 public:
  Process(std::vector<std::string> argv, const std::string& stdout_path, const std::string& stderr_path);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  bool running();
  void signal(int sig);
  // The exit code (128 + signal if killed by one); throws std::runtime_error on timeout.
  int wait(std::chrono::milliseconds timeout = 60s);

 private:
  pid_t pid_ = -1;
  int status_ = -1;
};

struct RunResult {
  int exit_code;
  std::string out;
  std::string err;
};

// Runs a program to completion (bounded by `timeout`) and returns its exit code and output.
RunResult run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout = 60s);

// A lab server started with --port 0 --port-file, ready once the file appears.
class Server {
 public:
  Server(const std::string& program, std::vector<std::string> args);
  std::uint16_t port() const { return port_; }
  std::string port_text() const { return std::to_string(port_); }
  // SIGTERM, then the exit code (bounded wait).
  int stop();
  // The exit code once it ends by itself (bounded wait).
  int wait(std::chrono::milliseconds timeout = 30s) { return process_->wait(timeout); }
  std::string out() const;  // its stdout so far
  std::string log() const;  // its stderr so far
  pid_t pid() const { return process_->pid(); }

 private:
  TempDir dir_;
  std::unique_ptr<Process> process_;
  std::uint16_t port_ = 0;
};

// Open file descriptors of a process (entries of /proc/<pid>/fd).
std::size_t open_fds(pid_t pid);

// A kernel counter of /proc/net/snmp or /proc/net/netstat, through
// common/kernel/netstat.hpp (whose parser tests/unit checks line by line):
// `group` is the line's prefix ("Tcp", "TcpExt", "Udp"), `name` the column.
// Throws when it is not there, so a missing counter cannot pass as 0. The
// counters are the network namespace's: a delta is "at least this many".
std::int64_t kernel_counter(const std::string& group, const std::string& name);

}  // namespace netlab::test
