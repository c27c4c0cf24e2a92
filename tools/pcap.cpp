// netlab-pcap: what a capture shows, for people and for the labs' checks.
//   ladder FILE   the ladder (sequence) diagram of one flow: text, svg or mermaid
//   facts  FILE   per flow: handshake and close segments, RSTs, zero windows,
//                 retransmissions, bytes on the wire — as JSON
//   flows  FILE   the flows in the capture, one line each
// It reads a classic pcap file (tcpdump -w) and opens no socket.
#include "netlab/capture.hpp"
#include "netlab/ladder.hpp"
#include "netlab/options.hpp"

#include <boost/json.hpp>

#include <iostream>
#include <unistd.h>

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
          {"client_isn", f.client_isn},
          {"server_isn", f.server_isn},
          {"close_segments", f.close_segments},
          {"first_fin_from", f.first_fin_from},
          {"rst_segments", f.rst_segments},
          {"first_rst_from", f.first_rst_from},
          {"zero_window_segments", f.zero_window_segments},
          {"retransmissions", f.retransmissions}};
}

int facts(const std::vector<Flow>& flows, std::size_t packets, const std::string& needle, bool has_needle) {
  json::array list;
  std::size_t ip_bytes = 0, rst = 0, retrans = 0, zero = 0;
  for (const auto& flow : flows) {
    const auto f = analyse_flow(flow);
    ip_bytes += f.ip_bytes;
    rst += f.rst_segments;
    retrans += f.retransmissions;
    zero += f.zero_window_segments;
    list.push_back(facts_json(f));
  }
  json::object out{{"packets", packets},          {"flows", flows.size()}, {"ip_bytes", ip_bytes},
                   {"rst_segments", rst},         {"retransmissions", retrans},
                   {"zero_window_segments", zero}, {"flow_facts", std::move(list)}};
  const int chosen = representative_flow(flows);
  out["representative_flow"] = chosen;
  if (has_needle) out["contains"] = capture_contains(flows, needle);
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

  if (auto code = parse_options(app, argc, argv)) return *code;
  try {
    const auto packets = read_pcap(file);
    const auto flows = group_flows(packets, static_cast<std::uint16_t>(port));
    if (*facts_cmd) return facts(flows, packets.size(), needle, facts_cmd->count("--contains") > 0);
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
