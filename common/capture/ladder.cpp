#include "capture/ladder.hpp"
#include "capture/capture.hpp"
#include "proto/markup.hpp"
#include "proto/tls_names.hpp"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <sstream>

namespace netlab {

namespace {

std::string handshake_type(unsigned char type) {
  if (const auto name = tls_numbers::handshake_type(type)) return std::string(*name);
  return "Handshake(" + std::to_string(type) + ")";
}

struct Direction {
  std::optional<std::uint32_t> isn;  // first sequence number seen (the SYN's)
};

// What the TCP analysis says of a segment, in words, or "".
std::string analysis_words(std::uint32_t classes) {
  namespace a = tcp_analysis;
  std::string words;
  auto add = [&](std::uint32_t bit, const char* text) {
    if (!(classes & bit)) return;
    if (!words.empty()) words += ", ";
    words += text;
  };
  add(a::retransmission, "retransmission");
  add(a::fast_retransmission, "fast retransmission");
  add(a::spurious_retransmission, "spurious retransmission");
  add(a::out_of_order, "out of order");
  add(a::lost_segment, "previous segment not captured");
  add(a::ack_lost_segment, "ACKed unseen segment");
  add(a::duplicate_ack, "dup ACK");
  add(a::zero_window_probe, "window probe");
  add(a::keep_alive, "keep-alive");
  return words;
}

std::string describe_segment(const Packet& p, const Direction& self, const Direction& peer,
                             const LadderOptions& options, std::uint32_t classes) {
  std::ostringstream label;
  if (!p.is_tcp) {
    label << "UDP len=" << p.payload_length;
    return label.str();
  }
  label << flag_names(p.flags);
  const std::uint32_t rel_seq = self.isn ? p.seq - *self.isn : p.seq;
  if ((p.flags & (tcp_flag::syn | tcp_flag::fin)) || p.payload_length > 0) {
    label << " seq=" << rel_seq;
    if (p.payload_length > 0) label << ":" << rel_seq + p.payload_length;
  }
  if ((p.flags & tcp_flag::ack) && peer.isn) label << " ack=" << p.ack - *peer.isn;
  if (p.payload_length > 0) label << " len=" << p.payload_length;
  if (p.window == 0 && !(p.flags & tcp_flag::rst)) label << " win=0";
  if (const auto words = analysis_words(classes); !words.empty()) label << " (" << words << ")";
  if (options.tls_port != 0 && (p.src_port == options.tls_port || p.dst_port == options.tls_port)) {
    const auto records = tls_records(p.payload);
    if (!records.empty()) {
      label << " [";
      for (std::size_t i = 0; i < records.size(); ++i) label << (i ? ", " : "") << records[i];
      label << "]";
    }
  }
  return label.str();
}

bool always_shown(const Packet& p) {
  return !p.is_tcp || (p.flags & (tcp_flag::syn | tcp_flag::fin | tcp_flag::rst)) || p.window == 0;
}

std::string summary_label(std::size_t segments, std::size_t client_bytes, std::size_t server_bytes) {
  std::ostringstream label;
  label << "… " << segments << " segments, " << client_bytes << " bytes client→server, " << server_bytes
        << " bytes server→client …";
  return label.str();
}

std::string fixed(double value, int decimals) {
  char text[32];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

std::string mermaid_safe(std::string text) {
  for (auto& c : text) {
    if (c == ';' || c == '#') c = ' ';
    if (c == ':') c = '-';  // "seq=1:6" reads as "seq=1-6"; a colon would end Mermaid's message
  }
  return text;
}

// Terminal columns of UTF-8 text: "…" and "→" take one column and three bytes.
std::size_t columns(const std::string& text) {
  std::size_t n = 0;
  for (const char ch : text) n += (static_cast<unsigned char>(ch) & 0xC0) != 0x80;
  return n;
}

}  // namespace

std::vector<std::string> tls_records(const std::string& payload) {
  std::vector<std::string> names;
  std::size_t at = 0;
  // Each record: type(1) version(2) length(2) body. Bounded by the payload size;
  // a length can point past the payload's end (cut by the snap length, or not TLS).
  while (at + 5 <= payload.size() && names.size() < 16) {
    const auto type = static_cast<unsigned char>(payload[at]);
    const auto major = static_cast<unsigned char>(payload[at + 1]);
    if (type < 20 || type > 23 || major != 3) break;  // not (or no longer) a TLS record boundary
    const std::size_t length = (static_cast<std::size_t>(static_cast<unsigned char>(payload[at + 3])) << 8) |
                               static_cast<unsigned char>(payload[at + 4]);
    switch (type) {
      case 20:
        names.push_back("ChangeCipherSpec");
        break;
      case 21:
        names.push_back("Alert");
        break;
      case 22:
        // A handshake record whose body is encrypted (1.2 Finished) starts with a random byte.
        names.push_back(payload.size() > at + 5 ? handshake_type(static_cast<unsigned char>(payload[at + 5]))
                                                : "Handshake");
        break;
      case 23:
        names.push_back("ApplicationData");
        break;
    }
    at += 5 + length;
  }
  return names;
}

std::vector<LadderRow> ladder_rows(const Flow& flow, const LadderOptions& options) {
  Direction directions[2];
  const auto analysis = tcp_analysis_of(flow);
  std::size_t index = 0;
  struct Item {
    LadderRow row;
    bool keep;
    std::size_t bytes;
  };
  std::vector<Item> items;
  const double start = flow.packets.empty() ? 0 : flow.packets.front().time;
  for (const auto& p : flow.packets) {
    const int side = flow.from_client(p) ? 0 : 1;
    auto& self = directions[side];
    if (p.is_tcp && !self.isn) self.isn = p.seq;  // the SYN's, when the capture saw it
    const std::uint32_t classes = analysis[index++];
    // Resent, out of order or after a hole in the capture: drawn in red, never summarised away.
    const bool unusual = classes & (tcp_analysis::any_retransmission | tcp_analysis::out_of_order |
                                    tcp_analysis::lost_segment | tcp_analysis::ack_lost_segment);
    LadderRow row;
    row.time = p.time - start;
    row.from_client = side == 0;
    row.label = describe_segment(p, self, directions[1 - side], options, classes);
    row.alarming = (p.flags & tcp_flag::rst) || unusual || (p.is_tcp && p.window == 0);
    // The handshake's three segments and the last one are always drawn, as is anything unusual.
    const bool edge = index <= 3 || index == flow.packets.size();
    items.push_back({row, edge || always_shown(p) || unusual, p.payload_length});
  }
  if (options.full || items.size() <= 2 * options.edge_rows + 8) {
    std::vector<LadderRow> rows;
    for (auto& item : items) rows.push_back(item.row);
    return rows;
  }
  // Keep the first and last few of every run of ordinary segments; summarise the middle.
  std::vector<LadderRow> rows;
  std::size_t i = 0;
  while (i < items.size()) {
    if (items[i].keep) {
      rows.push_back(items[i++].row);
      continue;
    }
    std::size_t j = i;
    while (j < items.size() && !items[j].keep) ++j;
    const std::size_t run = j - i;
    if (run <= 2 * options.edge_rows + 1) {
      for (; i < j; ++i) rows.push_back(items[i].row);
      continue;
    }
    for (std::size_t k = 0; k < options.edge_rows; ++k) rows.push_back(items[i + k].row);
    std::size_t client_bytes = 0, server_bytes = 0;
    for (std::size_t k = i + options.edge_rows; k < j - options.edge_rows; ++k)
      (items[k].row.from_client ? client_bytes : server_bytes) += items[k].bytes;
    LadderRow note;
    note.is_note = true;
    note.time = items[i + options.edge_rows].row.time;
    note.label = summary_label(run - 2 * options.edge_rows, client_bytes, server_bytes);
    rows.push_back(note);
    for (std::size_t k = j - options.edge_rows; k < j; ++k) rows.push_back(items[k].row);
    i = j;
  }
  return rows;
}

std::string ladder_text(const Flow& flow, const LadderOptions& options) {
  const std::size_t time_width = 11;  // "  12.345678"
  const std::size_t lane =
      std::max<std::size_t>(options.width > time_width + 4 ? options.width - time_width - 3 : 40, 40);
  const char* red = options.color ? "\x1b[31m" : "";
  const char* dim = options.color ? "\x1b[2m" : "";
  const char* reset = options.color ? "\x1b[0m" : "";
  std::ostringstream out;
  // Header: client on the left, server on the right.
  std::string left = "client " + flow.client, right = "server " + flow.server;
  std::string header(time_width + 1, ' ');
  header += left;
  const std::size_t total = time_width + 1 + lane + 2;
  if (header.size() + right.size() + 1 < total)
    header += std::string(total - header.size() - right.size(), ' ');
  else
    header += "  ";
  header += right;
  out << header << "\n";
  for (const auto& row : ladder_rows(flow, options)) {
    std::string time = fixed(row.time, 6);
    if (time.size() < time_width) time = std::string(time_width - time.size(), ' ') + time;
    if (row.is_note) {
      const std::string label = "  " + row.label;
      const std::size_t shown = columns(label);
      out << std::string(time_width, ' ') << " |" << dim << label << reset
          << std::string(lane > shown ? lane - shown : 0, ' ') << "|\n";
      continue;
    }
    std::string label = " " + row.label + " ";
    if (label.size() > lane - 4) label = label.substr(0, lane - 5) + "… ";
    const std::size_t width = columns(label);
    const std::size_t dashes = lane > width + 1 ? lane - width - 1 : 0;
    const std::size_t before = dashes / 2, after = dashes - before;
    std::string arrow;
    if (row.from_client)
      arrow = std::string(before, '-') + label + std::string(after, '-') + ">";
    else
      arrow = "<" + std::string(before, '-') + label + std::string(after, '-');
    out << time << " |" << (row.alarming ? red : "") << arrow << (row.alarming ? reset : "") << "|\n";
  }
  return out.str();
}

std::string ladder_mermaid(const Flow& flow, const LadderOptions& options) {
  std::ostringstream out;
  auto participant = [](const std::string& endpoint) {
    const auto colon = endpoint.rfind(':');
    return endpoint.substr(0, colon) + " port " + endpoint.substr(colon + 1);
  };
  out << "```mermaid\nsequenceDiagram\n"
      << "    participant C as client " << mermaid_safe(participant(flow.client)) << "\n"
      << "    participant S as server " << mermaid_safe(participant(flow.server)) << "\n";
  for (const auto& row : ladder_rows(flow, options)) {
    const std::string label = mermaid_safe(row.label);
    if (row.is_note)
      out << "    Note over C,S: " << label << "\n";
    else
      out << "    " << (row.from_client ? "C->>S" : "S->>C") << ": " << fixed(row.time * 1000, 3) << " ms " << label
          << "\n";
  }
  out << "```\n";
  return out.str();
}

std::string ladder_svg(const Flow& flow, const LadderOptions& options) {
  const auto rows = ladder_rows(flow, options);
  const int left = 140, right = 760, top = 60, step = 28;
  const int height = top + static_cast<int>(rows.size()) * step + 30;
  std::ostringstream out;
  out << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"900\" height=\"" << height
      << "\" font-family=\"monospace\" font-size=\"13\">\n"
      << "<defs><marker id=\"a\" markerWidth=\"10\" markerHeight=\"8\" refX=\"10\" refY=\"4\" orient=\"auto\">"
         "<path d=\"M0,0 L10,4 L0,8 z\" fill=\"context-stroke\"/></marker></defs>\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      << "<text x=\"" << left << "\" y=\"24\" text-anchor=\"middle\" font-weight=\"bold\">client "
      << html_escape(flow.client) << "</text>\n"
      << "<text x=\"" << right << "\" y=\"24\" text-anchor=\"middle\" font-weight=\"bold\">server "
      << html_escape(flow.server) << "</text>\n"
      << "<line x1=\"" << left << "\" y1=\"34\" x2=\"" << left << "\" y2=\"" << height - 10
      << "\" stroke=\"#444\" stroke-width=\"2\"/>\n"
      << "<line x1=\"" << right << "\" y1=\"34\" x2=\"" << right << "\" y2=\"" << height - 10
      << "\" stroke=\"#444\" stroke-width=\"2\"/>\n";
  int y = top;
  for (const auto& row : rows) {
    out << "<text x=\"10\" y=\"" << y + 4 << "\" fill=\"#666\">" << fixed(row.time * 1000, 3) << " ms</text>\n";
    const std::string label = html_escape(row.label);
    if (row.is_note) {
      out << "<text x=\"" << (left + right) / 2 << "\" y=\"" << y + 4
          << "\" text-anchor=\"middle\" fill=\"#666\" font-style=\"italic\">" << label << "</text>\n";
    } else {
      const int x1 = row.from_client ? left : right, x2 = row.from_client ? right : left;
      const char* colour = row.alarming ? "#c00" : "#1a5fb4";
      out << "<line x1=\"" << x1 << "\" y1=\"" << y - 6 << "\" x2=\"" << x2 << "\" y2=\"" << y + 6 << "\" stroke=\""
          << colour << "\" stroke-width=\"1.5\" marker-end=\"url(#a)\"/>\n"
          << "<text x=\"" << (left + right) / 2 << "\" y=\"" << y - 8 << "\" text-anchor=\"middle\" fill=\"" << colour
          << "\">" << label << "</text>\n";
    }
    y += step;
  }
  out << "</svg>\n";
  return out.str();
}

int representative_flow(const std::vector<Flow>& flows) {
  int first_tcp = -1;
  for (std::size_t i = 0; i < flows.size(); ++i) {
    if (!flows[i].is_tcp) continue;
    if (first_tcp < 0) first_tcp = static_cast<int>(i);
    bool syn = false, fin = false;
    for (const auto& p : flows[i].packets) {
      syn = syn || ((p.flags & tcp_flag::syn) && !(p.flags & tcp_flag::ack));
      fin = fin || (p.flags & tcp_flag::fin);
    }
    if (syn && fin) return static_cast<int>(i);
  }
  if (first_tcp >= 0) return first_tcp;
  return flows.empty() ? -1 : 0;
}

}  // namespace netlab
