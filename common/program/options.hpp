#pragma once
// The options every netlab program shares (DESIGN.md, "Program contract"),
// built on CLI11; each program adds its own on top of them.
#include <CLI/CLI.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

namespace netlab {

// Options that contradict each other, found after parsing: exit 2, one line
// (the skeletons in program/server.hpp and program/client.hpp catch it).
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class Role { server, client };

struct CommonOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  std::string port_file;  // server: written once listening; client: read the port from it
  std::string json;       // "" = none, "-" = stdout, else a file path
  std::string log_level = "info";
  std::uint64_t seed = 1;
  double max_seconds = 0;           // server: stop after this long (0 = run until a signal)
  std::size_t max_connections = 0;  // TCP server: connections served at once (see add_max_connections_option)
};

// The limits a TCP server enforces by default (docs/security.md). 10,000
// connections: well above the 5,000 the load test holds, well below what a
// loopback machine can carry. 300 s of silence: far longer than any lab keeps
// a connection idle on purpose (the timewait client's pool drops its own idle
// connections after 30 s).
constexpr std::size_t default_max_connections = 10'000;
constexpr double default_idle_timeout = 300;

// Adds --host, --port, --port-file, --json, --log-level, --seed, --max-seconds.
// `default_max_seconds` is the bound a client's whole run gets by default.
void add_common_options(CLI::App& app, CommonOptions& options, std::uint16_t default_port, Role role,
                        double default_max_seconds = 0);

// Adds --max-connections N (TCP servers; sets options.max_connections to the default).
void add_max_connections_option(CLI::App& app, CommonOptions& options);

// Adds --idle-timeout S: close a connection that moved no byte for S seconds (0 = never).
void add_idle_timeout_option(CLI::App& app, double& seconds, double default_seconds = default_idle_timeout);

// `--name VALUE`, its default shown in --help, VALUE refused (exit 2) outside
// [low, high]: the shape of most of the labs' numeric options. The bounds keep
// their own type, as CLI::Range(low, high) would.
template <class T, class Bound>
CLI::Option* add_bounded_option(CLI::App& app, const std::string& name, T& value, const std::string& description,
                                Bound low, Bound high) {
  return app.add_option(name, value, description)->capture_default_str()->check(CLI::Range(low, high));
}

// Parses argv. Returns nullopt to go on, or the exit code to return now:
// 0 after --help, 2 after a usage error (one line on stderr).
std::optional<int> parse_options(CLI::App& app, int argc, char** argv);

// A client given --port-file takes the server's port from that file.
// Throws std::runtime_error with a one-line cause when the file is unusable.
void resolve_client_port(CommonOptions& options);

}  // namespace netlab
