#pragma once
// What both skeletons (program/server.hpp, program/client.hpp) share: the
// program's name, its CLI app with the common options, the options checked
// together and then applied, the logging, and how a failure becomes one line
// on stderr and the exit code.
#include "program/options.hpp"

#include <CLI/CLI.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace netlab {

// What names a program and its defaults (see run_lab, below).
struct ProgramInfo {
  std::string lab;          // the program is netlab-<lab>-<role>, its result's "lab" is <lab>
  std::string description;  // the first line of --help
  std::uint16_t default_port = 0;
  double default_max_seconds = 0;  // a client's whole run is bounded by this by default
};

class Program {
 public:
  CLI::App& app() { return app_; }
  CommonOptions& options() { return options_; }
  const std::string& name() const { return name_; }

  // Checks the options together, after parsing and before anything is opened
  // or connected: throw UsageError (exit 2) for options that contradict each other.
  void check_usage(std::function<void()> check) { check_usage_ = std::move(check); }

  // Applies what was parsed, after check_usage and before anything is opened
  // (a value one option derives from another, a setting of the skeleton taken
  // from an option). Several run in the order given.
  void after_parse(std::function<void()> apply) { after_parse_.push_back(std::move(apply)); }

 protected:
  // `info.lab` and `role` name the program netlab-<lab>-<role>; argc and argv
  // are parsed when the program runs.
  Program(const ProgramInfo& info, Role role, int argc, char** argv);

  // Parses argv, runs check_usage then the after_parse actions, starts the
  // logging. Returns nullopt to go on, or the exit code to return now: 0 after
  // --help, 2 after a usage error (one line on stderr).
  std::optional<int> start();

  // Runs `step` and returns what it returns; an exception escaping it becomes
  // one line "<name>: <what>" on stderr and exit 2 (UsageError) or 1.
  int exit_code_of(const std::function<int()>& step) const;

  Role role_;
  std::string lab_;
  std::string name_;
  CLI::App app_;
  CommonOptions options_;

 private:
  int argc_;
  char** argv_;
  std::function<void()> check_usage_;
  std::vector<std::function<void()>> after_parse_;
};

// The whole main() of a lab's program: makes the program (a ServerProgram or a
// ClientProgram, named by `info`) and its Config, and hands both to `lab`,
// which adds its options and returns program.run(...). What the report or the
// summary reads after the run (counters) the lab keeps as locals before run().
template <class LabProgram, class Config>
int run_lab(int argc, char** argv, const ProgramInfo& info, int (*lab)(LabProgram&, CLI::App&, Config&)) {
  LabProgram program(info, argc, argv);
  Config config;
  return lab(program, program.app(), config);
}

}  // namespace netlab
