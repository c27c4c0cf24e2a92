#pragma once
// The skeleton of every lab TCP server (DESIGN.md, "Program contract"): the
// common options, the listener and its --port-file, the connection limit and
// its refusal, the registry a stop closes, SIGINT/SIGTERM/--max-seconds, the
// accept loop, the summary, the result JSON and the exit code — so that a
// server is its own options plus its session, and its main() one line that
// names them (run_lab, program/start.hpp):
//
//   const ProgramInfo program_info{"framing", "The 粘包 lab's server: ...", 7006};
//
//   int framing_server(ServerProgram& program, CLI::App& app, Config& config) {
//     app.add_option("--codec", config.codec, "...");
//     program.add_max_connections();
//     program.check_usage([&] { if (...) throw UsageError("--one-way needs --codec delimiter or length"); });
//     Counters counters;
//     return program.run([&](ServerRun& run) {
//       run.serve([&](tcp::socket socket) { return session(std::move(socket), config, counters, run.registry()); });
//       run.listening("codec raw");
//       run.report([&](Result& result, std::ostream& out) { result.set_observed(...); out << ...; });
//     });
//   }
//
//   int main(int argc, char** argv) { return run_lab(argc, argv, program_info, framing_server); }
//
// The contract it keeps for every server:
// - "listening on 127.0.0.1:7006 (<detail>)" once listening, then the port file;
// - --max-seconds counts from the end of the program's body (what it prepares,
//   e.g. the https server's certificates, is not part of it);
// - a stop (SIGINT, SIGTERM, --max-seconds) runs the program's on_stop actions,
//   closes the listener and every registered connection, logs one line;
// - an exception escaping the accept loop is logged and stops the server (exit 1);
// - after the run: params host, port, max_connections; observed
//   refused_connections, stopped_by, seconds — plus what the report adds; the
//   human summary on stdout, or with `--json -` only the JSON;
// - exit 0; 1 with one line "netlab-<lab>-server: <cause>" (a bind that fails,
//   the accept loop); 2 for a usage error (CLI11's, or UsageError from
//   check_usage, before listening).
#include "io/serve.hpp"
#include "program/options.hpp"
#include "program/result.hpp"
#include "program/start.hpp"

#include <functional>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

namespace netlab {

class ServerRun {
 public:
  asio::io_context& io() { return io_; }
  const CommonOptions& options() const { return options_; }
  tcp::acceptor& acceptor() { return acceptor_; }
  const tcp::endpoint& bound() const { return bound_; }
  ConnectionRegistry& registry() { return registry_; }
  ConnectionLimit& limit() { return limit_; }

  // Accepts until a stop; `start_session(tcp::socket)` returns the
  // awaitable<void> that serves one connection (see accept_loop, and
  // AcceptHooks for a loop that pauses before each accept()).
  template <typename StartSession>
  void serve(StartSession start_session, AcceptHooks hooks = {}) {
    asio::co_spawn(io_, accept_loop(acceptor_, limit_, std::move(start_session), std::move(hooks)),
                   [this](std::exception_ptr error) { accept_loop_ended(error); });
  }

  // The text in parentheses after "listening on <address>".
  void listening(std::string detail) { listening_ = std::move(detail); }

  // Runs at a stop, with its reason, before the listener and the connections close.
  void on_stop(std::function<void(std::string_view reason)> action) { on_stop_.push_back(std::move(action)); }

  // Fills the result and writes the human summary, after the event loop ended.
  void report(std::function<void(Result&, std::ostream&)> report) { report_ = std::move(report); }

  // Runs when the run ends, on every path (an exception too), while io() still
  // exists: releases what the lab made on io(). A timer declared before run() and
  // made on io() would otherwise outlive the io_context (ASan: use after free
  // at exit): `std::optional<asio::steady_timer> t; ... t.emplace(run.io());
  // run.at_exit([&] { t.reset(); });`.
  void at_exit(std::function<void()> action) { at_exit_.push_back(std::move(action)); }

  ServerRun(const ServerRun&) = delete;
  ServerRun& operator=(const ServerRun&) = delete;
  ~ServerRun();

  // After the run: what stopped it ("SIGINT", "SIGTERM", "max-seconds") and how long it ran.
  const std::string& stop_reason() const { return stop_reason_; }
  double seconds() const { return seconds_; }

  // Stops the server as a signal would (a program's own ending condition).
  void stop(std::string_view reason);

 private:
  friend class ServerProgram;
  ServerRun(const CommonOptions& options, std::string_view program, int concurrency_hint, int backlog, Refusal refusal,
            const std::function<tcp::endpoint(ServerRun&)>& open_sockets);
  void accept_loop_ended(std::exception_ptr error);

  asio::io_context io_;
  const CommonOptions& options_;
  tcp::acceptor acceptor_;
  tcp::endpoint bound_;
  ConnectionLimit limit_;
  ConnectionRegistry registry_;
  std::string listening_;
  std::vector<std::function<void(std::string_view)>> on_stop_;
  std::function<void(Result&, std::ostream&)> report_;
  std::vector<std::function<void()>> at_exit_;
  std::function<void(std::string_view)> stop_;
  std::string stop_reason_ = "?";
  std::string accept_failure_;
  double seconds_ = 0;
};

// app(), options(), name(), check_usage() and after_parse(): see program/start.hpp.
class ServerProgram : public Program {
 public:
  // `info.lab` names the program netlab-<lab>-server and the result's "lab".
  ServerProgram(const ProgramInfo& info, int argc, char** argv);

  // --max-connections, and what a connection over it receives.
  void add_max_connections(Refusal refusal = Refusal::text_line);
  // --idle-timeout S into `seconds`.
  void add_idle_timeout(double& seconds);
  // The listen() backlog (default: the system's maximum); from an option, set it in after_parse.
  void backlog(int connections) { backlog_ = connections; }
  // How many threads will run the event loop (io_context's concurrency hint):
  // 1 tells Asio that no other thread needs waking, which spares it locking.
  void concurrency_hint(int threads) { concurrency_hint_ = threads; }
  // For a server whose sockets are not one TCP listener on --host/--port (UDP
  // beside TCP, UDP alone): `open` runs instead of opening the listener, may
  // move the listener it opens into run.acceptor() (a stop closes it; its own
  // sockets it closes with on_stop), and returns the address the "listening
  // on" line, the port file and the result's port name.
  void open_sockets(std::function<tcp::endpoint(ServerRun&)> open) { open_sockets_ = std::move(open); }

  // Parses argv, starts the logging, listens, runs `body` (which starts
  // serving), writes the port file, runs the event loop to a stop, reports.
  // Returns the exit code.
  int run(const std::function<void(ServerRun&)>& body);

 private:
  Refusal refusal_ = Refusal::text_line;
  int backlog_ = asio::socket_base::max_listen_connections;
  int concurrency_hint_ = BOOST_ASIO_CONCURRENCY_HINT_DEFAULT;
  std::function<tcp::endpoint(ServerRun&)> open_sockets_;
};

}  // namespace netlab
