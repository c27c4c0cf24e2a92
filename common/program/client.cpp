#include "program/client.hpp"

#include <iostream>

namespace netlab {

StepError::StepError(std::string step, const boost::system::error_code& ec, std::string_view hint)
    : std::runtime_error(step + ": " + error_text(ec) + std::string(hint)), step_(std::move(step)), code_(ec) {}

void ClientRun::within(asio::awaitable<void> operation, const std::function<std::string()>& progress) {
  if (run_client(io_, std::move(operation), options_.max_seconds)) return;
  std::string cause = "gave up after " + std::to_string(options_.max_seconds) + " s (--max-seconds)";
  if (progress) cause += ": " + progress();
  throw std::runtime_error(cause);
}

ClientProgram::ClientProgram(const ProgramInfo& info, int argc, char** argv)
    : Program(info, Role::client, argc, argv) {}

int ClientProgram::run(const std::function<void(ClientRun&)>& body) {
  if (auto code = start()) return *code;
  Result result(lab_, "client");
  ClientRun run(options_, result);
  const int experiment = exit_code_of([&] {
    resolve_client_port(options_);
    result.params()["port"] = options_.port;
    body(run);
    return 0;
  });
  if (experiment != 0) return experiment;
  const int written = exit_code_of([&] {
    if (options_.json != "-") {
      if (run.summary_) run.summary_(std::cout);
      std::cout << render_checks(result.checks());  // every summary ends with the verdicts
    }
    result.write(options_.json);
    return 0;
  });
  if (written != 0) return written;
  if (run.failed_) {
    std::cerr << name_ << ": " << *run.failed_ << "\n";
    return 1;
  }
  return 0;
}

}  // namespace netlab
