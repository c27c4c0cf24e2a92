#include "result_file.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <cmath>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace json = boost::json;

namespace netlab::report {

json::object load_object(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open");
  std::ostringstream text;
  text << in.rdbuf();
  json::error_code ec;
  json::value value = json::parse(text.str(), ec);
  if (ec) throw std::runtime_error(path + ": invalid JSON: " + ec.message());
  if (!value.is_object()) throw std::runtime_error(path + ": not a JSON object");
  json::object object = std::move(value.as_object());
  return object;
}

json::object load_result(const std::string& path) {
  json::object object = load_object(path);
  const auto* checks = object.if_contains("checks");
  if (!checks || !checks->is_array()) throw std::runtime_error(path + ": no \"checks\" array");
  return object;
}

std::string text_of(const json::value* value) {
  if (!value || value->is_null()) return "";
  if (value->is_string()) return std::string(value->as_string());
  if (value->is_double() && std::abs(value->as_double()) < 1e15) {
    std::string text = std::to_string(std::round(value->as_double() * 1000) / 1000);
    text.erase(text.find_last_not_of('0') + 1);
    if (text.back() == '.') text.pop_back();
    return text;
  }
  return json::serialize(*value);
}

std::string field(const json::object& object, std::string_view key) { return text_of(object.if_contains(key)); }

std::string cell(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '|')
      out += "\\|";
    else if (c == '\n' || c == '\r')
      out += ' ';
    else
      out += c;
  }
  return out;
}

}  // namespace netlab::report
