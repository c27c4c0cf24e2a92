#include "lab.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <unistd.h>

namespace json = boost::json;

namespace netlab::test {

std::size_t number(const json::value& v) { return v.to_number<std::size_t>(); }
std::string text(const json::value& v) { return std::string(v.as_string()); }

ClientRun run_lab_client(const std::string& client_program, std::uint16_t port, const std::vector<std::string>& args,
                         std::chrono::milliseconds timeout) {
  TempDir dir;
  std::vector<std::string> argv{bin(client_program), "--port", std::to_string(port), "--json", dir.file("client.json"),
                                "--log-level",       "warn"};
  argv.insert(argv.end(), args.begin(), args.end());
  const auto result = run(argv, timeout);
  json::object object;
  if (std::filesystem::exists(dir.file("client.json"))) object = read_json(dir.file("client.json")).as_object();
  return {result.exit_code, result.err, std::move(object)};
}

json::object run_client_json(const std::string& client_program, std::uint16_t port,
                             const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
  auto client = run_lab_client(client_program, port, args, timeout);
  INFO("client stderr: " << client.err);
  REQUIRE(client.exit_code == 0);
  REQUIRE(!client.result.empty());
  return std::move(client.result);
}

const json::object& check(const json::object& result, std::string_view id) {
  for (const auto& c : result.at("checks").as_array())
    if (c.at("id").as_string() == id) return c.as_object();
  FAIL("no check " << id << " in " << json::serialize(result.at("checks")));
  throw std::logic_error("unreachable");
}

bool has_check(const json::object& result, std::string_view id) {
  for (const auto& c : result.at("checks").as_array())
    if (c.at("id").as_string() == id) return true;
  return false;
}

std::string verdict(const json::object& result, std::string_view id) {
  return has_check(result, id) ? text(check(result, id).at("verdict")) : "no such check";
}

const json::object& only_check(const json::object& result) {
  const auto& checks = result.at("checks").as_array();
  REQUIRE(checks.size() == 1);
  return checks.at(0).as_object();
}

json::object stop_and_read(Server& server, const std::string& json_path) {
  CHECK(server.stop() == 0);
  return read_json(json_path).at("observed").as_object();
}

std::uint16_t port_of_stopped_server(const std::string& server_program) {
  Server server(server_program, {});
  const std::uint16_t port = server.port();
  REQUIRE(server.stop() == 0);
  return port;
}

RunResult run_without_server(const std::string& server_program, const std::string& client_program,
                             const std::vector<std::string>& args) {
  std::vector<std::string> argv{bin(client_program), "--port", std::to_string(port_of_stopped_server(server_program))};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv);
}

RunResult run_on_taken_port(const Server& first, const std::string& server_program,
                            const std::vector<std::string>& args) {
  std::vector<std::string> argv{bin(server_program), "--port", first.port_text()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, 10s);
}

void expect_failure(const RunResult& result, int code, std::initializer_list<std::string_view> phrases) {
  INFO("stderr: " << result.err);
  CHECK(result.exit_code == code);
  for (const auto phrase : phrases) {
    INFO("expected on stderr: " << phrase);
    CHECK(result.err.find(phrase) != std::string::npos);
  }
}

void expect_clear_start_failures(const std::string& lab) {
  const std::string server = "netlab-" + lab + "-server", client = "netlab-" + lab + "-client";
  const std::string refused = "connection refused — is " + server + " running?";
  expect_failure(run_without_server(server, client), 1, {refused});
  Server first(server, {});
  expect_failure(run_on_taken_port(first, server), 1, {"address already in use"});
  CHECK(first.stop() == 0);
}

void expect_usage_errors(const std::string& program, std::initializer_list<std::vector<std::string>> wrong_args) {
  for (const auto& args : wrong_args) {
    std::vector<std::string> argv{bin(program)};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto result = run(argv);
    INFO(program << " " << args.front() << " ...: " << result.err);
    CHECK(result.exit_code == 2);
  }
}

void skip(const std::string& why) {
  std::cout << "skipped: " << why << "\n";
  std::exit(77);
}

void require_root(const std::string& what) {
  if (::geteuid() != 0) skip("needs root (" + what + ")");
}

std::string on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    const auto candidate = std::filesystem::path(dir) / name;
    if (!dir.empty() && ::access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return "";
}

std::string require_tool(const std::string& name, const std::string& hint) {
  std::string path = on_path(name);
  if (path.empty()) skip(name + " is not installed" + (hint.empty() ? "" : " (" + hint + ")"));
  return path;
}

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
                std::chrono::milliseconds interval) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(interval);
  }
  return true;
}

std::size_t wait_for_count(const std::function<std::size_t()>& count, std::size_t want,
                           std::chrono::milliseconds timeout, std::chrono::milliseconds interval) {
  std::size_t last = 0;
  eventually([&] { return (last = count()) == want; }, timeout, interval);
  return last;
}

}  // namespace netlab::test
