#include "program/logging.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace netlab {

void init_logging(const std::string& program, const std::string& level) {
  auto logger = spdlog::stderr_color_st(program);
  logger->set_pattern("%H:%M:%S.%e %^%-5l%$ %n: %v");
  logger->set_level(spdlog::level::from_str(level));
  spdlog::set_default_logger(std::move(logger));
}

}  // namespace netlab
