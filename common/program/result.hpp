#pragma once
// The result every program reports (DESIGN.md):
//   {"lab","role","params":{...},"observed":{...},
//    "checks":[{"id","note","expected","observed","verdict","evidence"}]}
// A verdict is computed from what was measured in this run, never written in.
#include <boost/describe/class.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <boost/json/value_from.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace netlab {

// confirmed, refuted, nuanced: graded against a measurement that could have
// come out otherwise. fact: what the lab's own setup decides (our routes
// answer the codes we coded), printed and never graded. skipped: not run.
enum class Verdict { confirmed, refuted, nuanced, fact, skipped };

std::string_view to_string(Verdict verdict);

// Built with named fields, in this order:
//   result.add_check({.id = "write-is-not-read", .claim = "...", .expected = "...",
//                     .observed = "...", .verdict = ..., .evidence = "..."});
struct Check {
  std::string id;        // stable identifier, e.g. "write-is-not-read" (the claims table's key)
  std::string claim;     // the claim, in English (JSON key "note", as DESIGN.md's contract has it)
  std::string expected;  // what would confirm it
  std::string observed;  // what this run measured
  Verdict verdict = Verdict::skipped;
  std::string evidence;  // where the measurement came from
};

class Result {
 public:
  Result(std::string lab, std::string role);

  boost::json::object& params() { return params_; }
  boost::json::object& observed() { return observed_; }
  const boost::json::object& observed() const { return observed_; }

  // A program's params and observed are structs described with
  // BOOST_DESCRIBE_STRUCT; their members become the JSON's keys (added to
  // what is there, a member replacing a key of the same name). Verdict code
  // reads the struct, never the JSON back.
  template <class Described>
  void set_params(const Described& params) {
    merge(params_, boost::json::value_from(params));
  }
  template <class Described>
  void set_observed(const Described& observed) {
    merge(observed_, boost::json::value_from(observed));
  }
  const std::vector<Check>& checks() const { return checks_; }
  void add_check(Check check);

  boost::json::value to_json() const;

  // Writes the JSON to `path` ("-" = stdout; "" = nowhere). A file is written
  // atomically. Throws std::system_error naming the path on failure.
  void write(const std::string& path) const;

 private:
  static void merge(boost::json::object& into, const boost::json::value& from);

  std::string lab_;
  std::string role_;
  boost::json::object params_;
  boost::json::object observed_;
  std::vector<Check> checks_;
};

// A JSON object another program wrote to a file (its result, or a report
// such as netlab-wire's stats), for a program that weighs it as evidence.
// Throws std::runtime_error "<what> <path>: ..." when the file cannot be read
// or holds no JSON object.
boost::json::object read_json_object(const std::string& path, std::string_view what);

// The checks as a small aligned table for a terminal, one line per check.
std::string render_checks(const std::vector<Check>& checks);

}  // namespace netlab
