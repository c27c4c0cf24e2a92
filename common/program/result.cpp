#include "program/result.hpp"
#include "program/readiness.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>

namespace netlab {

std::string_view to_string(Verdict verdict) {
  switch (verdict) {
    case Verdict::confirmed:
      return "confirmed";
    case Verdict::refuted:
      return "refuted";
    case Verdict::nuanced:
      return "nuanced";
    case Verdict::fact:
      return "fact";
    case Verdict::skipped:
      return "skipped";
  }
  return "skipped";
}

Result::Result(std::string lab, std::string role) : lab_(std::move(lab)), role_(std::move(role)) {}

void Result::add_check(Check check) { checks_.push_back(std::move(check)); }

boost::json::value Result::to_json() const {
  boost::json::array checks;
  for (const auto& c : checks_) {
    checks.push_back(boost::json::object{{"id", c.id},
                                         {"note", c.claim},
                                         {"expected", c.expected},
                                         {"observed", c.observed},
                                         {"verdict", to_string(c.verdict)},
                                         {"evidence", c.evidence}});
  }
  return boost::json::object{
      {"lab", lab_}, {"role", role_}, {"params", params_}, {"observed", observed_}, {"checks", std::move(checks)}};
}

void Result::merge(boost::json::object& into, const boost::json::value& from) {
  for (const auto& [key, value] : from.as_object()) into[key] = value;
}

void Result::write(const std::string& path) const {
  if (path.empty()) return;
  const std::string text = boost::json::serialize(to_json()) + "\n";
  if (path == "-") {
    std::cout << text << std::flush;
    return;
  }
  write_file_atomically(path, text);
}

boost::json::object read_json_object(const std::string& path, std::string_view what) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + std::string(what) + " " + path);
  std::stringstream text;
  text << in.rdbuf();
  boost::system::error_code ec;
  auto value = boost::json::parse(text.str(), ec);
  if (ec || !value.is_object()) throw std::runtime_error(std::string(what) + " " + path + " is not a JSON object");
  return std::move(value.as_object());
}

std::string render_checks(const std::vector<Check>& checks) {
  std::ostringstream out;
  for (const auto& c : checks) {
    out << "  [" << to_string(c.verdict) << "] " << c.claim << "\n"
        << "      observed: " << c.observed << "\n";
  }
  return out.str();
}

}  // namespace netlab
