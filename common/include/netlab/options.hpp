#pragma once
// The options every netlab program shares (DESIGN.md, "Program contract"),
// built on CLI11; each program adds its own on top of them.
#include <CLI/CLI.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace netlab {

enum class Role { server, client };

struct CommonOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  std::string port_file;          // server: written once listening; client: read the port from it
  std::string json;               // "" = none, "-" = stdout, else a file path
  std::string log_level = "info";
  std::uint64_t seed = 1;
  double max_seconds = 0;         // server: stop after this long (0 = run until a signal)
};

// Adds --host, --port, --port-file, --json, --log-level, --seed, --max-seconds.
// `default_max_seconds` is the bound a client's whole run gets by default.
void add_common_options(CLI::App& app, CommonOptions& options, std::uint16_t default_port,
                        Role role, double default_max_seconds = 0);

// Parses argv. Returns nullopt to go on, or the exit code to return now:
// 0 after --help, 2 after a usage error (one line on stderr).
std::optional<int> parse_options(CLI::App& app, int argc, char** argv);

// A client given --port-file takes the server's port from that file.
// Throws std::runtime_error with a one-line cause when the file is unusable.
void resolve_client_port(CommonOptions& options);

}  // namespace netlab
