#pragma once
// Test support for the pair tests: run a lab's real client against a server
// and read its JSON, find a check's verdict in it, skip what cannot run here
// (exit 77, which ctest counts as skipped), and wait, bounded, for the kernel
// to show something. Each test keeps its own assertions.
#include "process.hpp"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace netlab::test {

std::size_t number(const boost::json::value& v);
std::string text(const boost::json::value& v);

// A client run: its exit code, its stderr, and its JSON (empty if it wrote none).
struct ClientRun {
  int exit_code;
  std::string err;
  boost::json::object result;
};

// `client_program --port <port> --json <file> --log-level warn <args...>`.
ClientRun run_lab_client(const std::string& client_program, std::uint16_t port, const std::vector<std::string>& args,
                         std::chrono::milliseconds timeout = 60s);
// The same run, which must exit 0; its JSON.
boost::json::object run_client_json(const std::string& client_program, std::uint16_t port,
                                    const std::vector<std::string>& args, std::chrono::milliseconds timeout = 60s);

// The check `id` of a client's JSON; the test fails when there is none.
const boost::json::object& check(const boost::json::object& result, std::string_view id);
bool has_check(const boost::json::object& result, std::string_view id);
// Its verdict, or "no such check".
std::string verdict(const boost::json::object& result, std::string_view id);
// The one check of a lab that makes a single claim.
const boost::json::object& only_check(const boost::json::object& result);

// Stops the server (SIGTERM; it must exit 0) and reads the "observed" part of
// the report it wrote to `json_path`.
boost::json::object stop_and_read(Server& server, const std::string& json_path);

// A port nothing listens on: one the server had, and gave back when it stopped.
std::uint16_t port_of_stopped_server(const std::string& server_program);

// The lab's client with no server on its port (one a server had, and gave back).
RunResult run_without_server(const std::string& server_program, const std::string& client_program,
                             const std::vector<std::string>& args = {});
// A second `server_program` started on the port `first` holds.
RunResult run_on_taken_port(const Server& first, const std::string& server_program,
                            const std::vector<std::string>& args = {});
// The run ended with exit code `code` and said each of `phrases` on stderr.
void expect_failure(const RunResult& result, int code, std::initializer_list<std::string_view> phrases);
// The two ways every lab must fail clearly (exit 1, one line): its client with
// no server ("connection refused — is netlab-<lab>-server running?") and a
// second server on the port the first one holds ("address already in use").
void expect_clear_start_failures(const std::string& lab);
// `program <args>` is refused as a usage error (exit 2), for each of `wrong_args`.
void expect_usage_errors(const std::string& program, std::initializer_list<std::vector<std::string>> wrong_args);

// Prints "skipped: <why>" and exits 77 (each test case runs alone under ctest).
[[noreturn]] void skip(const std::string& why);
void require_root(const std::string& what);
// The full path of a program on PATH, or "" (posix_spawn does not search PATH).
std::string on_path(const std::string& name);
// Its path; skips the test when it is not installed.
std::string require_tool(const std::string& name, const std::string& hint = "");

// Polls `condition` (every `interval`) until it holds or `timeout` passes; whether it held.
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout = 5s,
                std::chrono::milliseconds interval = 10ms);
// Reads `count` (every `interval`) until it gives `want` or `timeout` passes; the last reading.
std::size_t wait_for_count(const std::function<std::size_t()>& count, std::size_t want,
                           std::chrono::milliseconds timeout, std::chrono::milliseconds interval = 10ms);

}  // namespace netlab::test
