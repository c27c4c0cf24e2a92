#pragma once
// The report card: one row per claim of the note (claims.hpp), its verdict
// taken from the checks of one run, grouped by the note's headings in the
// note's order. Both languages render from the same run, so they cannot
// disagree on a verdict.
#include "claims.hpp"

#include <iosfwd>
#include <string>
#include <vector>

namespace netlab::report {

enum class Lang { zh, en };
enum class CardFormat { markdown, text };

struct CardInput {
  std::string lab;           // the result's "lab"
  std::string link_prefix;   // where its summary.md is, relative to the card ("" or "transport/")
  std::string summary_path;  // its summary.md on disk (for "capture skipped" lines), may not exist
  std::string json_path;     // its client.json
};

// The labs of RUN_DIR: RUN_DIR/client.json (one lab's run), else each
// folder in it that holds a client.json (a tour's, one per lab). Throws when
// there is none.
std::vector<CardInput> card_inputs(const std::string& run_dir);

// A run's card as data, for pages rendered elsewhere (the HTML page): the
// rows in the card's order, each with its verdict and its deciding
// measurement in one language, the checks the table does not have, the tally.
struct CardRow {
  const Claim* claim = nullptr;
  std::string verdict;            // as the labs emit it: confirmed, refuted, nuanced, skipped, or another word
  std::string verdict_word;       // the verdict in the language
  std::string source_word;        // "note" / "asked next" in the language
  std::string deciding;           // the deciding measurement
  std::vector<std::string> labs;  // the labs whose steps measured it, in run order
};

struct CardCheck {
  std::string lab, label, check_id, verdict, note;
};

struct CardData {
  std::vector<CardRow> rows;
  std::vector<CardCheck> unknown;          // checks not in the table of claims
  std::string tally;                       // "12 claims: 9 confirmed, ..."
  std::vector<std::string> capture_notes;  // "lab: capture skipped: why"
};

CardData card_data(const std::vector<CardInput>& inputs, Lang lang);

// Writes the card; returns the check ids that are not in the table of claims
// (they are listed at the end of the card with the lab's own words).
std::vector<std::string> write_card(const std::vector<CardInput>& inputs, const std::string& title_dir, Lang lang,
                                    CardFormat format, std::ostream& out);

}  // namespace netlab::report
