#pragma once
// Text inside markup: the report page's HTML (tools/report/html.cpp) and the
// ladder diagrams' SVG (capture/ladder.cpp).
#include <string>
#include <string_view>

namespace netlab {

// Text made safe for HTML or XML element content and quoted attribute values:
// & < > " ' become entities, control characters other than tab and newline are
// dropped.
std::string html_escape(std::string_view text);

}  // namespace netlab
