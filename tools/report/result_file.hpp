#pragma once
// Reading a lab's result JSON (DESIGN.md: {"lab","role","params","observed","checks"})
// and writing its values as a person reads them: what netlab-report's commands share.
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <string>
#include <string_view>

namespace netlab::report {

// Any JSON object in a file: a result, or another program's report (netlab-wire's stats).
boost::json::object load_object(const std::string& path);

// A result: an object with a "checks" array (the schema's one hard requirement).
boost::json::object load_result(const std::string& path);

// A JSON value as a person writes it: strings without quotes, 123.5 rather than 1.235E2.
std::string text_of(const boost::json::value* value);

// text_of the member `key`, "" when there is none.
std::string field(const boost::json::object& object, std::string_view key);

// A Markdown table cell: one line, no bare '|'.
std::string cell(std::string_view text);

}  // namespace netlab::report
