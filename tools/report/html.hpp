#pragma once
// The report page of a run (index.html): one self-contained file for a
// projector, rendered from the same data as the report card (card.hpp) —
// the note's headings in order, each claim's verdict as a coloured badge, its
// deciding measurement and source — with the run's charts (ladder.svg,
// ss-chart.svg, cwnd.svg) inlined as data: images, and both languages in the
// page (a pure CSS switch shows the other one). No script, no network.
#include "card.hpp"
#include "proto/markup.hpp"

#include <iosfwd>
#include <string>
#include <string_view>

namespace netlab::report {

// Text made safe for HTML element content and quoted attribute values (proto/markup.hpp).
using netlab::html_escape;

// "data:<mime>;base64,..." of some bytes.
std::string data_uri(std::string_view mime, std::string_view bytes);

// Writes the page of RUN_DIR (a lab's run folder or a tour's, as card_inputs
// takes it); `lang` is the language it opens in.
void write_html(const std::string& run_dir, Lang lang, std::ostream& out);

}  // namespace netlab::report
