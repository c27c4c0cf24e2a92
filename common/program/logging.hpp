#pragma once
// Logs go to stderr through spdlog; stdout stays for the human summary or JSON.
//
// The log is rate-limited by kind, so that a flood of bad requests cannot fill
// a disk through a server's stderr: lines of one kind (the message with every
// run of digits taken as one, so "refusing 127.0.0.1:40001 ..." and "refusing
// 127.0.0.1:40002 ..." are one kind) pass at most `log_lines_per_kind` a
// second; the rest are counted, and one summary line per kind and second says
// how many were not logged, with the first of them as its example. At most
// `log_kinds_per_second` kinds are told apart in a second; lines of further
// kinds share one summary. So a log grows by at most
// (log_kinds_per_second + 1) x (log_lines_per_kind + 1) lines a second,
// however fast its lines come. The summary comes with the next line after the
// second ends, or at exit.
#include <spdlog/spdlog.h>

#include <cstddef>
#include <string>

namespace netlab {

inline constexpr std::size_t log_lines_per_kind = 5;
inline constexpr std::size_t log_kinds_per_second = 32;

// Sets up the default logger ("<program>" to stderr, rate-limited as above) at `level`.
void init_logging(const std::string& program, const std::string& level);

}  // namespace netlab
