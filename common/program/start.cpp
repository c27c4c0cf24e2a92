#include "program/start.hpp"

#include "program/logging.hpp"

#include <iostream>

namespace netlab {

namespace {

std::string_view role_name(Role role) { return role == Role::server ? "server" : "client"; }

}  // namespace

Program::Program(const ProgramInfo& info, Role role, int argc, char** argv)
    : role_(role),
      lab_(info.lab),
      name_("netlab-" + lab_ + "-" + std::string(role_name(role))),
      app_(info.description, name_),
      argc_(argc),
      argv_(argv) {
  add_common_options(app_, options_, info.default_port, role, info.default_max_seconds);
}

std::optional<int> Program::start() {
  if (auto code = parse_options(app_, argc_, argv_)) return code;
  try {
    if (check_usage_) check_usage_();
    for (const auto& apply : after_parse_) apply();
  } catch (const UsageError& e) {
    std::cerr << name_ << ": " << e.what() << "\n";
    return 2;
  }
  init_logging(lab_ + "-" + std::string(role_name(role_)), options_.log_level);
  return std::nullopt;
}

int Program::exit_code_of(const std::function<int()>& step) const {
  try {
    return step();
  } catch (const UsageError& e) {
    std::cerr << name_ << ": " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << name_ << ": " << e.what() << "\n";
    return 1;
  }
}

}  // namespace netlab
