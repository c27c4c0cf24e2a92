#include "program/client.hpp"

#include "program/logging.hpp"
#include "program/start.hpp"

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

ClientProgram::ClientProgram(std::string lab, const std::string& description, std::uint16_t default_port,
                             double default_max_seconds)
    : lab_(std::move(lab)), name_("netlab-" + lab_ + "-client"), app_(description, name_) {
  add_common_options(app_, options_, default_port, Role::client, default_max_seconds);
}

int ClientProgram::run(int argc, char** argv, const std::function<void(ClientRun&)>& body) {
  if (auto code = parse_and_check(app_, argc, argv, check_usage_)) return *code;
  init_logging(lab_ + "-client", options_.log_level);
  Result result(lab_, "client");
  ClientRun run(options_, result);
  try {
    resolve_client_port(options_);
    result.params()["port"] = options_.port;
    body(run);
  } catch (const UsageError& e) {
    std::cerr << name_ << ": " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << name_ << ": " << e.what() << "\n";
    return 1;
  }
  try {
    if (options_.json != "-" && run.summary_) run.summary_(std::cout);
    result.write(options_.json);
  } catch (const std::exception& e) {
    std::cerr << name_ << ": " << e.what() << "\n";
    return 1;
  }
  if (run.failed_) {
    std::cerr << name_ << ": " << *run.failed_ << "\n";
    return 1;
  }
  return 0;
}

}  // namespace netlab
