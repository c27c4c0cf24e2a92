#include "process.hpp"

#include "kernel/netstat.hpp"
#include "program/readiness.hpp"

#include <boost/json/parse.hpp>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace netlab::test {

std::string bin(const std::string& program) { return std::string(NETLAB_BIN_DIR) + "/" + program; }

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "netlab-test-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

boost::json::value read_json(const std::string& path) {
  const std::string text = read_text(path);
  if (text.empty()) throw std::runtime_error("no JSON in " + path);
  return boost::json::parse(text);
}

Process::Process(std::vector<std::string> argv, const std::string& stdout_path, const std::string& stderr_path) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  const int error = ::posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (error != 0) throw std::runtime_error("spawn " + argv[0] + ": " + std::strerror(error));
}

Process::~Process() {
  if (running()) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status_, 0);
  }
}

bool Process::running() {
  if (status_ != -1) return false;
  const pid_t done = ::waitpid(pid_, &status_, WNOHANG);
  if (done == 0) {
    status_ = -1;
    return true;
  }
  return false;
}

void Process::signal(int sig) {
  if (running()) ::kill(pid_, sig);
}

int Process::wait(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error("process " + std::to_string(pid_) + " still running after " +
                               std::to_string(timeout.count()) + " ms");
    std::this_thread::sleep_for(5ms);
  }
  if (WIFEXITED(status_)) return WEXITSTATUS(status_);
  if (WIFSIGNALED(status_)) return 128 + WTERMSIG(status_);
  return -1;
}

RunResult run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  TempDir dir;
  Process process(argv, dir.file("out"), dir.file("err"));
  const int code = process.wait(timeout);
  return {code, read_text(dir.file("out")), read_text(dir.file("err"))};
}

Server::Server(const std::string& program, std::vector<std::string> args) {
  std::vector<std::string> argv{bin(program), "--port", "0", "--port-file", dir_.file("port")};
  argv.insert(argv.end(), args.begin(), args.end());
  process_ = std::make_unique<Process>(argv, dir_.file("out"), dir_.file("err"));
  // Readiness is the port file, written once the server listens: poll it, bounded.
  for (int i = 0; i < 1000; ++i) {
    if (auto port = read_port_file(dir_.file("port"))) {
      port_ = *port;
      return;
    }
    if (!process_->running())
      throw std::runtime_error(program + " exited before listening: " + read_text(dir_.file("err")));
    std::this_thread::sleep_for(10ms);
  }
  throw std::runtime_error(program + " did not write its port file within 10 s");
}

int Server::stop() {
  process_->signal(SIGTERM);
  return process_->wait(30s);
}

std::string Server::out() const { return read_text(dir_.file("out")); }
std::string Server::log() const { return read_text(dir_.file("err")); }

std::size_t open_fds(pid_t pid) {
  std::size_t count = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd"))
    ++count;
  return count;
}

std::int64_t kernel_counter(const std::string& group, const std::string& name) {
  if (const auto value = read_kernel_counter(group, name)) return static_cast<std::int64_t>(*value);
  throw std::runtime_error("/proc/net/snmp and /proc/net/netstat have no " + group + " " + name);
}

}  // namespace netlab::test
