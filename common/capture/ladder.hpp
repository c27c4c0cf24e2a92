#pragma once
// Ladder (sequence) diagrams of a flow from a capture: two columns, client and
// server, one arrow per segment with its flags, relative seq/ack, payload
// length and time since the flow's first packet. Long runs of data segments
// are summarised unless `full` is asked. Three renderings: terminal text,
// SVG for slides, and a Mermaid sequenceDiagram block for Markdown.
#include "capture/pcap.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace netlab {

struct LadderOptions {
  bool full = false;              // every segment, no summary lines
  bool color = false;             // ANSI colours (terminal only)
  std::size_t width = 100;        // columns of the text ladder
  std::uint16_t tls_port = 7443;  // segments to/from this port get their TLS records named
  std::size_t edge_rows = 4;      // data segments kept before and after a summarised run
};

// One row of a ladder: an arrow, or a note standing for segments left out.
struct LadderRow {
  bool is_note = false;
  double time = 0;  // seconds since the flow's first packet
  bool from_client = true;
  std::string label;      // "SYN seq=0", "PSH-ACK seq=1:6 ack=1 len=5", "… 812 segments …"
  bool alarming = false;  // RST, resent / out of order / after a capture hole, zero window: drawn in red
};

std::vector<LadderRow> ladder_rows(const Flow& flow, const LadderOptions& options);

std::string ladder_text(const Flow& flow, const LadderOptions& options);
std::string ladder_mermaid(const Flow& flow, const LadderOptions& options);
std::string ladder_svg(const Flow& flow, const LadderOptions& options);

// The TLS record types in a payload ("ClientHello", "ChangeCipherSpec",
// "ApplicationData" ...), as far as the captured bytes go.
std::vector<std::string> tls_records(const std::string& payload);

// The flow a class should look at: the first TCP flow with a SYN and a FIN
// (a whole life), else the first TCP flow, else the first flow; -1 if none.
int representative_flow(const std::vector<Flow>& flows);

}  // namespace netlab
