// The table of claims is tools/report/claims.tsv, compiled in as bytes
// (claims_tsv.inc, written by tools/CMakeLists.txt), read once and checked:
// a line that does not fit stops every program and test that uses the table.
#include "claims.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>
#include <string>
#include <vector>

namespace netlab::report {

namespace {

constexpr std::array<std::string_view, 11> headings{
    "tcp和udp",     "为什么三次握手", "为什么四次挥手", "timewait是什么状态", "出现大量timewait", "closewait是什么状态",
    "粘包怎么解决", "http code",      "http header",    "https 过程",         "http和rpc"};

constexpr unsigned char tsv_bytes[] = {
#include "claims_tsv.inc"
};

std::string_view tsv() { return {reinterpret_cast<const char*>(tsv_bytes), sizeof tsv_bytes}; }

std::vector<Claim> parse(std::string_view text) {
  std::vector<Claim> table;
  for (std::size_t number = 1; !text.empty(); ++number) {
    const auto end = text.find('\n');
    const std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    if (line.empty() || line.front() == '#') continue;
    std::vector<std::string_view> fields;
    for (std::string_view rest = line;;) {
      const auto tab = rest.find('\t');
      fields.push_back(rest.substr(0, tab));
      if (tab == std::string_view::npos) break;
      rest = rest.substr(tab + 1);
    }
    const auto bad = [&](const std::string& what) {
      return std::logic_error("claims.tsv line " + std::to_string(number) + ": " + what);
    };
    if (fields.size() != 6) throw bad(std::to_string(fields.size()) + " fields, not 6");
    if (fields[2] != "note" && fields[2] != "asked next") throw bad("source '" + std::string(fields[2]) + "'");
    if (std::find(headings.begin(), headings.end(), fields[1]) == headings.end())
      throw bad("'" + std::string(fields[1]) + "' is not a heading of the note");
    table.push_back({fields[0], fields[1], fields[2] == "note" ? Source::note : Source::asked_next, fields[3],
                     fields[4], fields[5] == "-" ? std::string_view{} : fields[5]});
  }
  return table;
}

const std::vector<Claim>& table() {
  static const std::vector<Claim> claims = parse(tsv());
  return claims;
}

// "a,b-*" against an id: the matching alias, as written.
std::string_view matching_alias(std::string_view also, std::string_view id) {
  while (!also.empty()) {
    const auto comma = also.find(',');
    const std::string_view alias = also.substr(0, comma);
    also = comma == std::string_view::npos ? std::string_view{} : also.substr(comma + 1);
    if (alias == id) return alias;
    if (alias.ends_with("-*") && id.size() > alias.size() - 1 && id.starts_with(alias.substr(0, alias.size() - 1)))
      return alias;
  }
  return {};
}

}  // namespace

std::string_view to_string(Source source) { return source == Source::note ? "note" : "asked next"; }

std::span<const std::string_view> note_headings() { return headings; }

std::span<const Claim> claims() { return table(); }

const Claim* claim_of(std::string_view check_id) {
  for (const auto& claim : table())
    if (claim.id == check_id) return &claim;
  for (const auto& claim : table())
    if (!matching_alias(claim.also, check_id).empty()) return &claim;
  return nullptr;
}

std::string_view mode_of(std::string_view check_id, const Claim& claim) {
  const std::string_view alias = check_id == claim.id ? std::string_view{} : matching_alias(claim.also, check_id);
  if (!alias.ends_with("-*")) return {};
  return check_id.substr(alias.size() - 1);
}

}  // namespace netlab::report
