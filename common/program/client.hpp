#pragma once
// The skeleton of every lab client (DESIGN.md, "Program contract"): the common
// options, the result JSON, stdout, stderr and the exit code, so that a
// client is its own options plus its experiment, and its main() one line that
// names them (run_lab, program/start.hpp):
//
//   const ProgramInfo program_info{"framing", "The 粘包 lab's client: ...", 7006, 60};
//
//   int framing_client(ClientProgram& program, CLI::App& app, Config& config) {
//     app.add_option("--messages", config.messages, "...");
//     program.check_usage([&] { if (config.min_size > config.max_size) throw UsageError("--min-size ..."); });
//     return program.run([&](ClientRun& run) {
//       run.within(experiment(run.options(), config, run.result()));   // bounded by --max-seconds
//       run.summary([&](std::ostream& out) { out << ...; });           // the human summary
//       if (echoes_differ) run.fail("echoes did not match what was sent");
//     });
//   }
//
//   int main(int argc, char** argv) { return run_lab(argc, argv, program_info, framing_client); }
//
// The contract it keeps for every client:
// - stdout holds the human summary, or with `--json -` only the JSON (also when
//   the run failed), so `--json - | jq` works exactly when it is needed;
// - exit 0 after a run that did what it set out to do; 1 with one line
//   "netlab-<lab>-client: <cause>" on stderr (an exception, the --max-seconds
//   bound, or run.fail()) — the result is still written when the experiment
//   finished; 2 for a usage error (CLI11's, or a UsageError from check_usage,
//   before anything is connected, or from the body).
#include "io/net.hpp"
#include "program/options.hpp"
#include "program/result.hpp"
#include "program/start.hpp"

#include <boost/system/error_code.hpp>

#include <functional>
#include <iosfwd>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace netlab {

// The failure of one step of a conversation, keeping its error code, so that
// code that handles it compares `code()` and `step()`, never the message text.
// what() is the one line a person reads: "write: connection reset by peer",
// followed by `hint` when given (" — is netlab-x-server running?").
class StepError : public std::runtime_error {
 public:
  StepError(std::string step, const boost::system::error_code& ec, std::string_view hint = {});
  const std::string& step() const { return step_; }
  const boost::system::error_code& code() const { return code_; }

 private:
  std::string step_;
  boost::system::error_code code_;
};

inline StepError failure(std::string step, const boost::system::error_code& ec, std::string_view hint = {}) {
  return {std::move(step), ec, hint};
}

// What a program's body sees while it runs.
class ClientRun {
 public:
  ClientRun(const CommonOptions& options, Result& result) : options_(options), result_(result) {}

  const CommonOptions& options() const { return options_; }
  Result& result() { return result_; }
  asio::io_context& io() { return io_; }

  // Runs `operation` on io() until it ends, bounded by --max-seconds: past it,
  // throws "gave up after N s (--max-seconds)" followed by `progress()` when given.
  void within(asio::awaitable<void> operation, const std::function<std::string()>& progress = {});

  // The human summary, printed on stdout after the run unless --json -; the
  // verdicts (render_checks) follow it.
  void summary(std::function<void(std::ostream&)> print) { summary_ = std::move(print); }

  // The run measured what it set out to, and it is wrong (echoes that differ):
  // the result and the summary are still written, then exit 1 with `cause`.
  void fail(std::string cause) { failed_ = std::move(cause); }

 private:
  friend class ClientProgram;
  const CommonOptions& options_;
  Result& result_;
  asio::io_context io_;
  std::function<void(std::ostream&)> summary_;
  std::optional<std::string> failed_;
};

// app(), options(), name(), check_usage() and after_parse(): see program/start.hpp.
class ClientProgram : public Program {
 public:
  // `info.lab` names the program netlab-<lab>-client and the result's "lab".
  ClientProgram(const ProgramInfo& info, int argc, char** argv);

  // Parses argv, starts the logging, resolves --port-file (the port goes into
  // the result's params), runs `body` and keeps the contract above. Returns
  // the exit code.
  int run(const std::function<void(ClientRun&)>& body);
};

}  // namespace netlab
