// netlab-pcap: what a capture shows, for people and for the labs' checks.
//   ladder FILE   the ladder (sequence) diagram of one flow: text, svg or mermaid
//   facts  FILE   per flow: handshake and close segments, RSTs, zero windows,
//                 retransmissions, bytes on the wire — as JSON; totals per
//                 protocol, of SYNs, FINs (and FINs sent again), RSTs and
//                 retransmissions, and the ICMP port unreachables; --contains TEXT
//                 searches the payloads; --get POINTER prints single values
//                 (what the lab scripts' packet checks read)
//   flows  FILE   the flows in the capture, one line each
// It reads a classic pcap file (tcpdump -w) and opens no socket.
#include "netlab/capture.hpp"
#include "netlab/ladder.hpp"
#include "netlab/options.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <iostream>
#include <string>
#include <unistd.h>
#include <vector>

namespace json = boost::json;
using namespace netlab;

namespace {

json::object facts_json(const FlowFacts& f) {
  return {{"client", f.client},
          {"server", f.server},
          {"protocol", f.is_tcp ? "tcp" : "udp"},
          {"packets", f.packets},
          {"payload_bytes", f.payload_bytes},
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
          {"retransmissions", f.retransmissions}};
}

// A value as a script reads it: strings without quotes, the rest as JSON.
std::string text_of(const json::value& value) {
  return value.is_string() ? std::string(value.as_string()) : json::serialize(value);
}

// --get: one line per pointer, in the order given; a missing one is an error.
int print_values(const json::object& out, const std::vector<std::string>& pointers) {
  const json::value root = out;
  std::string lines;
  for (const auto& pointer : pointers) {
    json::error_code ec;
    const json::value* found = root.find_pointer(pointer, ec);
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

int facts(const std::vector<Flow>& flows, std::size_t packets, const std::vector<PortUnreachable>& unreachables,
          std::uint16_t port, const std::string& needle, bool has_needle, const std::vector<std::string>& pointers) {
  json::array list;
  std::size_t ip_bytes = 0, rst = 0, rst_from_server = 0, retrans = 0, zero = 0, zero_from_server = 0;
  std::size_t syn = 0, fin = 0, fin_retrans = 0;
  std::size_t protocol_flows[2] = {0, 0}, protocol_packets[2] = {0, 0}, protocol_bytes[2] = {0, 0};  // UDP, TCP
  for (const auto& flow : flows) {
    const auto f = analyse_flow(flow);
    const int protocol = f.is_tcp ? 1 : 0;
    ip_bytes += f.ip_bytes;
    rst += f.rst_segments;
    syn += f.syn_segments;
    fin += f.fin_segments;
    fin_retrans += f.fin_retransmissions;
    rst_from_server += f.rst_from_server;
    retrans += f.retransmissions;
    zero += f.zero_window_segments;
    zero_from_server += f.zero_window_from_server;
    ++protocol_flows[protocol];
    protocol_packets[protocol] += f.packets;
    protocol_bytes[protocol] += f.ip_bytes;
    list.push_back(facts_json(f));
  }
  const auto totals = [&](int protocol) {
    return json::object{{"flows", protocol_flows[protocol]},
                        {"packets", protocol_packets[protocol]},
                        {"ip_bytes", protocol_bytes[protocol]}};
  };
  // The ICMP port unreachables that answer datagrams to or from the port.
  const auto icmp = std::count_if(unreachables.begin(), unreachables.end(), [&](const PortUnreachable& u) {
    return port == 0 || u.datagram_src_port == port || u.datagram_dst_port == port;
  });
  json::object out{{"packets", packets},
                   {"flows", flows.size()},
                   {"ip_bytes", ip_bytes},
                   {"tcp", totals(1)},
                   {"udp", totals(0)},
                   {"syn_segments", syn},
                   {"fin_segments", fin},
                   {"fin_retransmissions", fin_retrans},
                   {"rst_segments", rst},
                   {"rst_from_server", rst_from_server},
                   {"retransmissions", retrans},
                   {"zero_window_segments", zero},
                   {"zero_window_from_server", zero_from_server},
                   {"icmp_port_unreachable", icmp},
                   {"flow_facts", std::move(list)}};
  const int chosen = representative_flow(flows);
  out["representative_flow"] = chosen;
  if (has_needle) out["contains"] = capture_contains(flows, needle);
  if (!pointers.empty()) return print_values(out, pointers);
  std::cout << json::serialize(out) << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"netlab-pcap: ladder diagrams and facts from a capture (tcpdump -w)"};
  app.footer("It reads a file and opens no socket, so it has no --host; --port filters the capture.");
  app.require_subcommand(1);
  std::string file, format = "text", color = "auto", needle;
  int port = 0, tls_port = 7443, flow_index = -1;
  bool all = false;
  LadderOptions options;

  auto* ladder_cmd = app.add_subcommand("ladder", "the ladder diagram of one flow (default: a representative one)");
  auto* facts_cmd = app.add_subcommand("facts", "per-flow facts as JSON");
  auto* flows_cmd = app.add_subcommand("flows", "the flows, one line each");
  for (auto* cmd : {ladder_cmd, facts_cmd, flows_cmd}) {
    cmd->add_option("file", file, "a pcap file written by tcpdump -w")->required()->check(CLI::ExistingFile);
    cmd->add_option("--port", port, "only flows touching this port (0 = all)")->check(CLI::Range(0, 65535));
  }
  ladder_cmd->add_option("--flow", flow_index, "the flow's number (see flows)")->check(CLI::NonNegativeNumber);
  ladder_cmd->add_flag("--all", all, "every flow, one after the other");
  ladder_cmd->add_flag("--full", options.full, "every segment, no summary lines");
  ladder_cmd->add_option("--format", format, "text | svg | mermaid")
      ->check(CLI::IsMember({"text", "svg", "mermaid"}))->capture_default_str();
  ladder_cmd->add_option("--color", color, "auto | always | never")
      ->check(CLI::IsMember({"auto", "always", "never"}))->capture_default_str();
  ladder_cmd->add_option("--width", options.width, "columns of the text ladder")
      ->check(CLI::Range(60, 400))->capture_default_str();
  ladder_cmd->add_option("--tls-port", tls_port, "name the TLS records of this port's segments")
      ->check(CLI::Range(0, 65535))->capture_default_str();
  facts_cmd->add_option("--contains", needle, "also say whether these bytes appear in any payload");
  std::vector<std::string> pointers;
  facts_cmd->add_option("--get", pointers,
                        "print only this value, by JSON pointer (e.g. /flow_facts/0/close_segments); "
                        "repeat for more, one line each")
      ->allow_extra_args(false);

  if (auto code = parse_options(app, argc, argv)) return *code;
  try {
    std::vector<PortUnreachable> unreachables;
    const auto packets = read_pcap(file, &unreachables);
    const auto flows = group_flows(packets, static_cast<std::uint16_t>(port));
    if (*facts_cmd)
      return facts(flows, packets.size(), unreachables, static_cast<std::uint16_t>(port), needle,
                   facts_cmd->count("--contains") > 0, pointers);
    if (*flows_cmd) {
      for (std::size_t i = 0; i < flows.size(); ++i)
        std::cout << i << "  " << (flows[i].is_tcp ? "tcp" : "udp") << "  " << flows[i].client << " -> "
                  << flows[i].server << "  " << flows[i].packets.size() << " packets\n";
      return 0;
    }
    options.tls_port = static_cast<std::uint16_t>(tls_port);
    options.color = color == "always" || (color == "auto" && format == "text" && ::isatty(STDOUT_FILENO));
    if (flows.empty()) {
      std::cerr << "netlab-pcap: no TCP or UDP flow" << (port ? " on port " + std::to_string(port) : "")
                << " in " << file << "\n";
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
      if (format == "svg") std::cout << ladder_svg(flows[i], options);
      else if (format == "mermaid") std::cout << ladder_mermaid(flows[i], options);
      else std::cout << ladder_text(flows[i], options) << (chosen.size() > 1 ? "\n" : "");
    }
  } catch (const std::exception& e) {
    std::cerr << "netlab-pcap: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
