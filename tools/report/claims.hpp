#pragma once
// The note's claims, in one table (DESIGN.md): tools/report/claims.tsv, each
// claim with its id, the note's heading it belongs to, its source, and its
// text in Chinese and in English. The report card, the tour and the HTML page
// render from it, so a claim is translated, never negated; a check's verdict
// is measured by the labs.
#include <span>
#include <string_view>

namespace netlab::report {

enum class Source {
  note,        // the note's heading and its words
  asked_next,  // the follow-up an interviewer asks, which the lab adds
};

std::string_view to_string(Source source);  // "note", "asked next"

struct Claim {
  std::string_view id;       // the check id the labs emit (and the card's row id)
  std::string_view heading;  // one of note_headings()
  Source source;
  std::string_view zh;
  std::string_view en;
  // Other check ids that measure this same claim, comma-separated; "x-*" is
  // any id "x-<mode>" (the https script's capture-certificate-1.3). "" if none.
  std::string_view also;
};

// The note's headings, in the note's order (DESIGN.md's lab table).
std::span<const std::string_view> note_headings();

// Every claim, grouped by heading in the note's order.
std::span<const Claim> claims();

// The claim a check id measures (its own id or one of `also`), or nullptr.
const Claim* claim_of(std::string_view check_id);

// What a check id adds to its claim's id: "1.3" for capture-certificate-1.3
// under "capture-certificate-*"; "" when the id is the claim's own or an exact alias.
std::string_view mode_of(std::string_view check_id, const Claim& claim);

}  // namespace netlab::report
