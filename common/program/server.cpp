#include "program/server.hpp"

#include "program/readiness.hpp"

#include <spdlog/spdlog.h>

#include <iostream>
#include <sstream>

namespace netlab {

ServerRun::ServerRun(const CommonOptions& options, std::string_view program, int concurrency_hint, int backlog,
                     Refusal refusal, const std::function<tcp::endpoint(ServerRun&)>& open_sockets)
    : io_(concurrency_hint), options_(options), acceptor_(io_), limit_(options.max_connections, refusal) {
  if (open_sockets) {
    bound_ = open_sockets(*this);
  } else {
    acceptor_ = open_listener(io_, options.host, options.port, program, backlog);
    bound_ = acceptor_.local_endpoint();
  }
}

void ServerRun::stop(std::string_view reason) {
  if (stop_) stop_(reason);
}

void ServerRun::accept_loop_ended(std::exception_ptr error) {
  if (!error) return;
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    accept_failure_ = std::string("accept loop: ") + e.what();
  }
  spdlog::error("{}", accept_failure_);
  stop("accept loop failed");
}

ServerProgram::ServerProgram(const ProgramInfo& info, int argc, char** argv)
    : Program(info, Role::server, argc, argv) {}

void ServerProgram::add_max_connections(Refusal refusal) {
  refusal_ = refusal;
  add_max_connections_option(app_, options_);
}

void ServerProgram::add_idle_timeout(double& seconds) { add_idle_timeout_option(app_, seconds); }

int ServerProgram::run(const std::function<void(ServerRun&)>& body) {
  if (auto code = start()) return *code;
  return exit_code_of([&] {
    ServerRun run(options_, name_, concurrency_hint_, backlog_, refusal_, open_sockets_);
    StopSignals signals(run.io_, 0, [&run](std::string_view reason) { run.stop(reason); });
    asio::steady_timer deadline(run.io_);
    run.stop_ = [&run, &signals, &deadline](std::string_view reason) {
      if (run.stop_reason_ != "?") return;  // once
      run.stop_reason_ = reason;
      signals.cancel();
      deadline.cancel();
      for (auto& action : run.on_stop_) action(reason);
      spdlog::info("stopping ({}): closing the listener and {} connection(s)", reason, run.registry_.size());
      boost::system::error_code ignored;
      run.acceptor_.close(ignored);
      run.registry_.close_all();
    };
    body(run);
    // --max-seconds bounds the serving, so it starts once the body has prepared
    // everything (the https server generates its certificates there).
    if (options_.max_seconds > 0 && run.stop_reason_ == "?") {
      deadline.expires_after(
          std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options_.max_seconds)));
      deadline.async_wait([&run](boost::system::error_code ec) {
        if (!ec) run.stop("max-seconds");
      });
    }
    spdlog::info("listening on {}{}", to_string(run.bound_), run.listening_.empty() ? "" : " (" + run.listening_ + ")");
    if (!options_.port_file.empty()) write_port_file(options_.port_file, run.bound_.port());
    const auto started = Clock::now();
    run.io_.run();
    run.seconds_ = std::chrono::duration<double>(Clock::now() - started).count();

    Result result(lab_, "server");
    result.params() = {{"host", options_.host}, {"port", run.bound_.port()}, {"max_connections", run.limit_.max()}};
    result.observed() = {
        {"refused_connections", run.limit_.refused()}, {"stopped_by", run.stop_reason_}, {"seconds", run.seconds_}};
    std::ostringstream human;
    if (run.report_) run.report_(result, human);
    if (options_.json != "-") std::cout << human.str() << std::flush;
    result.write(options_.json);
    if (!run.accept_failure_.empty()) {
      std::cerr << name_ << ": " << run.accept_failure_ << "\n";
      return 1;
    }
    return 0;
  });
}

ServerRun::~ServerRun() {
  for (auto action = at_exit_.rbegin(); action != at_exit_.rend(); ++action) (*action)();
}

}  // namespace netlab
