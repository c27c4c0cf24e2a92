#pragma once
// What both skeletons (program/server.hpp, program/client.hpp) do first.
#include <CLI/CLI.hpp>

#include <functional>
#include <optional>

namespace netlab {

// Parses argv, then runs `check_usage` (options checked together). Returns
// nullopt to go on, or the exit code to return now: 0 after --help, 2 after a
// usage error (one line on stderr, named after the app).
std::optional<int> parse_and_check(CLI::App& app, int argc, char** argv, const std::function<void()>& check_usage);

}  // namespace netlab
