#include "program/options.hpp"
#include "program/readiness.hpp"

#include <iostream>

namespace netlab {

void add_common_options(CLI::App& app, CommonOptions& o, std::uint16_t default_port, Role role,
                        double default_max_seconds) {
  o.port = default_port;
  o.max_seconds = default_max_seconds;
  app.add_option("--host", o.host, "address to bind (server) or connect to (client)")->capture_default_str();
  add_bounded_option(app, "--port", o.port, "TCP/UDP port; 0 = any free port", 0, 65535);
  app.add_option("--port-file", o.port_file,
                 role == Role::server ? "write the bound port to PATH (atomically) once listening"
                                      : "read the server's port from PATH (as written by the server)");
  app.add_option("--json", o.json, "write the result JSON to PATH ('-' = stdout)");
  app.add_option("--log-level", o.log_level, "trace|debug|info|warn|error|off (logs go to stderr)")
      ->capture_default_str()
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  app.add_option("--seed", o.seed, "seed for every random choice (same seed, same run)")->capture_default_str();
  add_bounded_option(app, "--max-seconds", o.max_seconds,
                     role == Role::server ? "stop after this many seconds (0 = until SIGINT/SIGTERM)"
                                          : "give up after this many seconds",
                     0.0, 86400.0);
}

void add_max_connections_option(CLI::App& app, CommonOptions& o) {
  o.max_connections = default_max_connections;
  add_bounded_option(app, "--max-connections", o.max_connections,
                     "connections served at once; one more is refused at once with a message, then closed "
                     "(lowered to what ulimit -n allows)",
                     std::size_t{1}, std::size_t{1'000'000});
}

void add_idle_timeout_option(CLI::App& app, double& seconds, double default_seconds) {
  seconds = default_seconds;
  add_bounded_option(app, "--idle-timeout", seconds,
                     "close a connection that moved no byte in or out for this many seconds (0 = never)", 0.0, 86400.0);
}

std::optional<int> parse_options(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return 0;
  } catch (const CLI::CallForAllHelp&) {
    std::cout << app.help("", CLI::AppFormatMode::All);
    return 0;
  } catch (const CLI::ParseError& e) {
    std::cerr << app.get_name() << ": " << e.what() << " (see --help)\n";
    return 2;
  }
  return std::nullopt;
}

void resolve_client_port(CommonOptions& o) {
  if (o.port_file.empty()) return;
  auto port = read_port_file(o.port_file);
  if (!port) throw std::runtime_error("--port-file " + o.port_file + ": no port in it — is the server running?");
  o.port = *port;
}

}  // namespace netlab
