#pragma once
// Logs go to stderr through spdlog; stdout stays for the human summary or JSON.
#include <spdlog/spdlog.h>

#include <string>

namespace netlab {

// Sets up the default logger ("<program>" to stderr) at `level`.
void init_logging(const std::string& program, const std::string& level);

}  // namespace netlab
