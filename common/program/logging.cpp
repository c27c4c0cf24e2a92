#include "program/logging.hpp"

#include <spdlog/details/null_mutex.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <cctype>
#include <chrono>
#include <memory>
#include <unordered_map>
#include <utility>

namespace netlab {

namespace {

// The kind of a line: its text with each run of digits made one '#'.
std::string kind_of(spdlog::string_view_t text) {
  std::string kind;
  kind.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (std::isdigit(static_cast<unsigned char>(text[i]))) {
      if (kind.empty() || kind.back() != '#') kind += '#';
    } else {
      kind += text[i];
    }
  }
  return kind;
}

// Passes lines to `inner_`, at most log_lines_per_kind of each kind a second.
// Single-threaded, like every netlab program (docs/security.md, Threads).
class RateLimitedSink final : public spdlog::sinks::base_sink<spdlog::details::null_mutex> {
 public:
  explicit RateLimitedSink(spdlog::sink_ptr inner) : inner_(std::move(inner)) {}
  ~RateLimitedSink() override { summarize(); }
  RateLimitedSink(const RateLimitedSink&) = delete;
  RateLimitedSink& operator=(const RateLimitedSink&) = delete;

 protected:
  void sink_it_(const spdlog::details::log_msg& message) override {
    const auto now = Clock::now();
    if (now - window_start_ >= std::chrono::seconds(1)) {
      summarize();
      window_start_ = now;
    }
    std::string kind = kind_of(message.payload);
    auto found = kinds_.find(kind);
    if (found == kinds_.end()) {
      const bool room = kinds_.size() < log_kinds_per_second;
      // Past the kinds told apart, one shared kind, keyed by a NUL no log line holds.
      found = kinds_.emplace(room ? std::move(kind) : std::string(1, '\0'), Count{}).first;
      if (!room) found->second.other_kinds = true;
    }
    Count& count = found->second;
    if (!count.other_kinds && count.logged < log_lines_per_kind) {
      ++count.logged;
      inner_->log(message);
      return;
    }
    if (count.suppressed++ == 0) {
      count.example.assign(message.payload.data(), message.payload.size());
      count.logger.assign(message.logger_name.data(), message.logger_name.size());
      count.level = message.level;
    }
  }

  void flush_() override { inner_->flush(); }
  // The logger's pattern is the inner sink's: that is where lines are formatted.
  void set_pattern_(const std::string& pattern) override { inner_->set_pattern(pattern); }
  void set_formatter_(std::unique_ptr<spdlog::formatter> formatter) override {
    inner_->set_formatter(std::move(formatter));
  }

 private:
  using Clock = std::chrono::steady_clock;
  struct Count {
    std::size_t logged = 0;
    std::size_t suppressed = 0;
    bool other_kinds = false;  // the shared count of kinds past log_kinds_per_second
    std::string example;       // the first line not logged
    std::string logger;
    spdlog::level::level_enum level = spdlog::level::info;
  };

  // One line per kind that had lines not logged in the second that ended.
  void summarize() {
    const double seconds = std::chrono::duration<double>(Clock::now() - window_start_).count();
    for (const auto& [kind, count] : kinds_) {
      if (count.suppressed == 0) continue;
      const std::string line = fmt::format(
          "{} more line(s) {} in the last {:.1f} s not logged (at most {} a second of each kind), the first: {}",
          count.suppressed, count.other_kinds ? "of other kinds" : "like this one", seconds, log_lines_per_kind,
          count.example);
      inner_->log(spdlog::details::log_msg(count.logger, count.level, line));
    }
    kinds_.clear();
  }

  spdlog::sink_ptr inner_;
  Clock::time_point window_start_ = Clock::now();
  std::unordered_map<std::string, Count> kinds_;
};

}  // namespace

void init_logging(const std::string& program, const std::string& level) {
  auto stderr_sink = std::make_shared<spdlog::sinks::stderr_color_sink_st>();
  auto sink = std::make_shared<RateLimitedSink>(std::move(stderr_sink));
  auto logger = std::make_shared<spdlog::logger>(program, std::move(sink));
  logger->set_pattern("%H:%M:%S.%e %^%-5l%$ %n: %v");
  logger->set_level(spdlog::level::from_str(level));
  spdlog::set_default_logger(std::move(logger));
}

}  // namespace netlab
