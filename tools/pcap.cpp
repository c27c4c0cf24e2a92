// netlab-pcap: what a capture shows, for people and for the labs' checks.
//   ladder FILE   the ladder (sequence) diagram of one flow: text, svg or mermaid
//   facts  FILE   per flow: handshake and close segments, RSTs, zero windows,
//                 bytes on the wire, and the TCP analysis Wireshark does
//                 (retransmissions — plain, fast, spurious — told apart from
//                 out-of-order segments and from segments the capture itself
//                 missed; duplicate ACKs, zero windows and probes, keep-alives)
//                 — as JSON; totals per protocol, of SYNs, FINs (and FINs sent
//                 again), RSTs and each analysis class, and the ICMP port
//                 unreachables; --contains TEXT searches the payloads; --get
//                 POINTER prints single values (what the lab scripts' packet
//                 checks read). It streams the file: memory grows with the
//                 number of flows, not of packets.
//   flows  FILE   the flows in the capture, one line each (streamed too)
//   analysis FILE each classified TCP segment: frame number and classes
// It reads pcap and pcapng (tcpdump -w, Wireshark, any link type libpcap
// knows and netlab decodes) through libpcap and opens no socket.
#include "capture/capture.hpp"
#include "capture/ladder.hpp"
#include "program/options.hpp"

#include <boost/json.hpp>

#include <unistd.h>
#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <deque>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

namespace json = boost::json;
using namespace netlab;

namespace {

// The classes by Wireshark's names (tcp.analysis.<name>); "retransmission"
// counts the fast and spurious ones too, as Wireshark's filter does.
json::object analysis_json(const TcpAnalysisCounts& a) {
  return {{"retransmission", a.retransmission},
          {"fast_retransmission", a.fast_retransmission},
          {"spurious_retransmission", a.spurious_retransmission},
          {"out_of_order", a.out_of_order},
          {"lost_segment", a.lost_segment},
          {"ack_lost_segment", a.ack_lost_segment},
          {"duplicate_ack", a.duplicate_ack},
          {"zero_window", a.zero_window},
          {"zero_window_probe", a.zero_window_probe},
          {"zero_window_probe_ack", a.zero_window_probe_ack},
          {"keep_alive", a.keep_alive},
          {"keep_alive_ack", a.keep_alive_ack},
          {"sequence_jump", a.sequence_jump}};
}

json::object facts_json(const FlowFacts& f) {
  return {{"client", f.client},
          {"server", f.server},
          {"protocol", f.is_tcp ? "tcp" : "udp"},
          {"packets", f.packets},
          {"payload_bytes", f.payload_bytes},
          {"stream_bytes", f.stream_bytes},
          {"ip_bytes", f.ip_bytes},
          {"data_segments", f.data_segments},
          {"handshake_segments", f.handshake_segments},
          {"handshake_complete", f.handshake_complete},
          {"syn_segments", f.syn_segments},
          {"syn_ack_segments", f.syn_ack_segments},
          {"client_isn", f.client_isn},
          {"server_isn", f.server_isn},
          {"close_segments", f.close_segments},
          {"first_fin_from", f.first_fin_from},
          {"fin_segments", f.fin_segments},
          {"fin_retransmissions", f.fin_retransmissions},
          {"rst_segments", f.rst_segments},
          {"rst_from_server", f.rst_from_server},
          {"first_rst_from", f.first_rst_from},
          {"zero_window_segments", f.zero_window_segments},
          {"zero_window_from_server", f.zero_window_from_server},
          {"retransmissions", f.analysis.retransmission},
          {"capture_gaps", f.analysis.capture_has_gaps()},
          {"tcp_analysis", analysis_json(f.analysis)},
          {"tcp_analysis_from_client", analysis_json(f.analysis_by_side[0])},
          {"tcp_analysis_from_server", analysis_json(f.analysis_by_side[1])}};
}

// A value as a script reads it: strings without quotes, the rest as JSON.
std::string text_of(const json::value& value) {
  return value.is_string() ? std::string(value.as_string()) : json::serialize(value);
}

// --get: one line per pointer, in the order given; a missing one is an error.
// A pointer under /flow_facts/N builds only that flow's object: the flows'
// JSON is never held all at once (a capture may hold a million flows).
int print_values(const json::object& out, const std::vector<const FlowFacts*>& flows,
                 const std::vector<std::string>& pointers) {
  const json::value root = out;
  std::string lines;
  for (const auto& pointer : pointers) {
    json::error_code ec;
    json::value holder;
    const json::value* found = nullptr;
    const std::string prefix = "/flow_facts";
    if (pointer.rfind(prefix, 0) == 0) {
      const std::string rest = pointer.substr(prefix.size());
      std::size_t index = 0, used = 0;
      if (rest.size() > 1 && rest[0] == '/' && std::isdigit(static_cast<unsigned char>(rest[1]))) {
        try {
          index = std::stoul(rest.substr(1), &used);
        } catch (const std::exception&) {
          index = flows.size();
        }
        if (index < flows.size()) {
          holder = facts_json(*flows[index]);
          found = holder.find_pointer(rest.substr(1 + used), ec);
        }
      } else if (rest.empty()) {
        json::array all;
        for (const auto* f : flows) all.push_back(facts_json(*f));
        holder = std::move(all);
        found = &holder;
      }
    } else {
      found = root.find_pointer(pointer, ec);
    }
    if (!found) {
      std::cerr << "netlab-pcap: facts: nothing at " << pointer << " (the capture has " << out.at("flows")
                << " flows on the port)\n";
      return 1;
    }
    lines += text_of(*found) + "\n";
  }
  std::cout << lines;
  return 0;
}

// The flows of a capture as it streams by: one analyser per flow, found by
// the flow's two endpoints (smaller first) as raw bytes.
class FlowTable {
 public:
  FlowTable(std::uint16_t port, const std::string* needle) : port_(port), needle_(needle) {}

  // The packet's TCP analysis classes (0 for UDP and for other ports).
  std::uint32_t add(const PacketView& p, const Frame& frame) {
    if (port_ != 0 && p.src_port != port_ && p.dst_port != port_) return 0;
    Key key{};
    const bool src_first = std::tie(p.src.bytes, p.src_port) < std::tie(p.dst.bytes, p.dst_port);
    key[0] = p.is_tcp ? 1 : 0;
    key[1] = p.src.family;
    put(key, 2, src_first ? p.src : p.dst, src_first ? p.src_port : p.dst_port);
    put(key, 20, src_first ? p.dst : p.src, src_first ? p.dst_port : p.src_port);
    auto [it, added] = index_.try_emplace(key, flows_.size());
    if (added) {
      const bool sender_is_client = first_sender_is_client(p.is_tcp, p.flags, p.dst_port, port_);
      const std::string src = endpoint(p.src.text(), p.src_port), dst = endpoint(p.dst.text(), p.dst_port);
      flows_.push_back({FlowAnalyser(p.is_tcp, sender_is_client ? src : dst, sender_is_client ? dst : src),
                        sender_is_client ? p.src : p.dst, sender_is_client ? p.src_port : p.dst_port,
                        needle_ ? std::make_unique<StreamSearch>(*needle_) : nullptr});
    }
    auto& flow = flows_[it->second];
    const bool from_client = p.src == flow.client_ip && p.src_port == flow.client_port;
    const auto classes = flow.analyser.add(segment_info(p, frame), from_client);
    if (flow.search) flow.search->add(from_client ? 0 : 1, p.payload);
    return classes;
  }

  struct State {
    FlowAnalyser analyser;
    IpAddress client_ip;
    std::uint16_t client_port;
    std::unique_ptr<StreamSearch> search;  // only with --contains
  };
  const std::deque<State>& flows() const { return flows_; }

 private:
  using Key = std::array<std::uint8_t, 38>;  // protocol, family, (address, port) twice
  struct KeyHash {
    std::size_t operator()(const Key& k) const {
      return std::hash<std::string_view>{}(std::string_view(reinterpret_cast<const char*>(k.data()), k.size()));
    }
  };
  static void put(Key& key, std::size_t at, const IpAddress& ip, std::uint16_t port) {
    std::memcpy(key.data() + at, ip.bytes.data(), 16);
    key[at + 16] = static_cast<std::uint8_t>(port >> 8);
    key[at + 17] = static_cast<std::uint8_t>(port & 0xff);
  }
  std::uint16_t port_;
  const std::string* needle_;
  std::unordered_map<Key, std::size_t, KeyHash> index_;
  std::deque<State> flows_;  // grows without copying (no doubling peak)
};

int facts(PcapReader& reader, std::uint16_t port, const std::string& needle, bool has_needle,
          const std::vector<std::string>& pointers) {
  FlowTable table(port, has_needle ? &needle : nullptr);
  std::size_t packets = 0, icmp = 0;
  Frame frame;
  PacketView view;
  PortUnreachable unreachable;
  while (reader.next(frame)) {
    if (decode_frame(reader.link(), frame.bytes, view)) {
      ++packets;
      table.add(view, frame);
    } else if (decode_port_unreachable(reader.link(), frame.bytes, unreachable)) {
      // The ICMP port unreachables that answer datagrams to or from the port.
      if (port == 0 || unreachable.datagram_src_port == port || unreachable.datagram_dst_port == port) ++icmp;
    }
  }
  std::vector<const FlowFacts*> list;  // the flows' facts, in order of their first packet
  list.reserve(table.flows().size());
  std::size_t ip_bytes = 0, rst = 0, rst_from_server = 0, zero = 0, zero_from_server = 0;
  std::size_t syn = 0, fin = 0, fin_retrans = 0;
  std::size_t protocol_flows[2] = {0, 0}, protocol_packets[2] = {0, 0}, protocol_bytes[2] = {0, 0};  // UDP, TCP
  TcpAnalysisCounts analysis;
  int chosen = -1, first_tcp = -1;  // the representative flow: the first TCP one with SYN and FIN
  bool found = false;
  for (const auto& flow : table.flows()) {
    const auto& f = flow.analyser.facts();
    const int protocol = f.is_tcp ? 1 : 0;
    const int index = static_cast<int>(list.size());
    if (f.is_tcp && first_tcp < 0) first_tcp = index;
    if (f.is_tcp && chosen < 0 && f.syn_segments > 0 && f.fin_segments > 0) chosen = index;
    ip_bytes += f.ip_bytes;
    rst += f.rst_segments;
    syn += f.syn_segments;
    fin += f.fin_segments;
    fin_retrans += f.fin_retransmissions;
    rst_from_server += f.rst_from_server;
    zero += f.zero_window_segments;
    zero_from_server += f.zero_window_from_server;
    analysis += f.analysis;
    ++protocol_flows[protocol];
    protocol_packets[protocol] += f.packets;
    protocol_bytes[protocol] += f.ip_bytes;
    found = found || (flow.search && flow.search->found());
    list.push_back(&f);
  }
  if (chosen < 0) chosen = first_tcp >= 0 ? first_tcp : (list.empty() ? -1 : 0);
  const auto totals = [&](int protocol) {
    return json::object{{"flows", protocol_flows[protocol]},
                        {"packets", protocol_packets[protocol]},
                        {"ip_bytes", protocol_bytes[protocol]}};
  };
  const bool complete = reader.error().empty();
  json::object out{{"packets", packets},
                   {"frames", reader.frames()},
                   {"complete", complete},
                   {"flows", list.size()},
                   {"ip_bytes", ip_bytes},
                   {"tcp", totals(1)},
                   {"udp", totals(0)},
                   {"syn_segments", syn},
                   {"fin_segments", fin},
                   {"fin_retransmissions", fin_retrans},
                   {"rst_segments", rst},
                   {"rst_from_server", rst_from_server},
                   {"retransmissions", analysis.retransmission},
                   {"capture_gaps", analysis.capture_has_gaps() || !complete},
                   {"tcp_analysis", analysis_json(analysis)},
                   {"zero_window_segments", zero},
                   {"zero_window_from_server", zero_from_server},
                   {"icmp_port_unreachable", icmp}};
  out["representative_flow"] = chosen;
  if (!complete) {
    // What was read is reported, and said to be partial.
    out["read_error"] = reader.error();
    std::cerr << "netlab-pcap: facts: " << reader.error() << " (facts of the " << reader.frames()
              << " frames before it; \"complete\": false)\n";
  }
  if (has_needle) out["contains"] = needle.empty() || found;
  if (!pointers.empty()) return print_values(out, list, pointers);
  // The totals, then the flows one by one: "flow_facts" is written, never built whole.
  std::string text = json::serialize(out);
  text.pop_back();  // the closing brace
  text += ",\"flow_facts\":[";
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (i > 0) text += ',';
    text += json::serialize(facts_json(*list[i]));
    if (text.size() > (1u << 16)) {
      std::cout << text;
      text.clear();
    }
  }
  text += "]}\n";
  std::cout << text;
  return 0;
}

// analysis: one line per segment the TCP analysis classifies, "<frame> <classes>",
// frames numbered as Wireshark numbers them (1 = the file's first).
int list_analysis(PcapReader& reader, std::uint16_t port) {
  FlowTable table(port, nullptr);
  Frame frame;
  PacketView view;
  std::string lines;
  while (reader.next(frame)) {
    if (!decode_frame(reader.link(), frame.bytes, view)) continue;
    if (const auto classes = table.add(view, frame)) {
      lines += std::to_string(frame.number) + " " + tcp_analysis_names(classes) + "\n";
      if (lines.size() > 1 << 16) {
        std::cout << lines;
        lines.clear();
      }
    }
  }
  std::cout << lines;
  if (!reader.error().empty()) {
    std::cerr << "netlab-pcap: analysis: " << reader.error() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"netlab-pcap: ladder diagrams and facts from a capture (pcap or pcapng)"};
  app.footer("It reads a file and opens no socket, so it has no --host; --port filters the capture.");
  app.require_subcommand(1);
  std::string file, format = "text", color = "auto", needle;
  int port = 0, tls_port = 7443, flow_index = -1;
  bool all = false;
  LadderOptions options;

  auto* ladder_cmd = app.add_subcommand("ladder", "the ladder diagram of one flow (default: a representative one)");
  auto* facts_cmd = app.add_subcommand("facts", "per-flow facts as JSON");
  auto* flows_cmd = app.add_subcommand("flows", "the flows, one line each");
  auto* analysis_cmd =
      app.add_subcommand("analysis",
                         "each TCP segment the analysis classifies, one line: frame number, classes (as Wireshark's "
                         "tcp.analysis.<class> filters match)");
  for (auto* cmd : {ladder_cmd, facts_cmd, flows_cmd, analysis_cmd}) {
    cmd->add_option("file", file, "a capture: pcap or pcapng (tcpdump -w, Wireshark)")
        ->required()
        ->check(CLI::ExistingFile);
    cmd->add_option("--port", port, "only flows touching this port (0 = all)")->check(CLI::Range(0, 65535));
  }
  ladder_cmd->add_option("--flow", flow_index, "the flow's number (see flows)")->check(CLI::NonNegativeNumber);
  ladder_cmd->add_flag("--all", all, "every flow, one after the other");
  ladder_cmd->add_flag("--full", options.full, "every segment, no summary lines");
  ladder_cmd->add_option("--format", format, "text | svg | mermaid")
      ->check(CLI::IsMember({"text", "svg", "mermaid"}))
      ->capture_default_str();
  ladder_cmd->add_option("--color", color, "auto | always | never")
      ->check(CLI::IsMember({"auto", "always", "never"}))
      ->capture_default_str();
  ladder_cmd->add_option("--width", options.width, "columns of the text ladder")
      ->check(CLI::Range(60, 400))
      ->capture_default_str();
  ladder_cmd->add_option("--tls-port", tls_port, "name the TLS records of this port's segments")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  facts_cmd->add_option("--contains", needle, "also say whether these bytes appear in any payload");
  std::vector<std::string> pointers;
  facts_cmd
      ->add_option("--get", pointers,
                   "print only this value, by JSON pointer (e.g. /flow_facts/0/close_segments); "
                   "repeat for more, one line each")
      ->allow_extra_args(false);

  if (auto code = parse_options(app, argc, argv)) return *code;
  try {
    if (*facts_cmd) {
      PcapReader reader(file);
      return facts(reader, static_cast<std::uint16_t>(port), needle, facts_cmd->count("--contains") > 0, pointers);
    }
    if (*analysis_cmd) {
      PcapReader reader(file);
      return list_analysis(reader, static_cast<std::uint16_t>(port));
    }
    if (*flows_cmd) {  // streamed, as facts
      PcapReader reader(file);
      FlowTable table(static_cast<std::uint16_t>(port), nullptr);
      Frame frame;
      PacketView view;
      while (reader.next(frame))
        if (decode_frame(reader.link(), frame.bytes, view)) table.add(view, frame);
      std::size_t i = 0;
      for (const auto& flow : table.flows()) {
        const auto& f = flow.analyser.facts();
        std::cout << i++ << "  " << (f.is_tcp ? "tcp" : "udp") << "  " << f.client << " -> " << f.server << "  "
                  << f.packets << " packets\n";
      }
      if (!reader.error().empty()) {
        std::cerr << "netlab-pcap: flows: " << reader.error() << "\n";
        return 1;
      }
      return 0;
    }
    const auto flows = group_flows(read_pcap(file), static_cast<std::uint16_t>(port));
    options.tls_port = static_cast<std::uint16_t>(tls_port);
    options.color = color == "always" || (color == "auto" && format == "text" && ::isatty(STDOUT_FILENO));
    if (flows.empty()) {
      std::cerr << "netlab-pcap: no TCP or UDP flow" << (port ? " on port " + std::to_string(port) : "") << " in "
                << file << "\n";
      return 1;
    }
    std::vector<std::size_t> chosen;
    if (all) {
      for (std::size_t i = 0; i < flows.size(); ++i) chosen.push_back(i);
    } else {
      const int index = flow_index >= 0 ? flow_index : representative_flow(flows);
      if (index >= static_cast<int>(flows.size())) {
        std::cerr << "netlab-pcap: no flow " << index << " (the capture has " << flows.size() << ")\n";
        return 1;
      }
      chosen.push_back(static_cast<std::size_t>(index));
    }
    for (auto i : chosen) {
      if (format == "svg")
        std::cout << ladder_svg(flows[i], options);
      else if (format == "mermaid")
        std::cout << ladder_mermaid(flows[i], options);
      else
        std::cout << ladder_text(flows[i], options) << (chosen.size() > 1 ? "\n" : "");
    }
  } catch (const std::exception& e) {
    std::cerr << "netlab-pcap: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
