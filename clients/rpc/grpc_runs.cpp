#include "rpc/grpc_runs.hpp"

#include "capture/h2_frames.hpp"
#include "format.hpp"
#include "grpc/kv_grpc.hpp"
#include "kernel/census.hpp"

#include <boost/describe/class.hpp>

#include <spdlog/spdlog.h>
#include <exception>
#include <filesystem>
#include <functional>
#include <mutex>
#include <set>
#include <thread>

namespace netlab::rpc_lab {

namespace {

double seconds_until(Clock::time_point deadline) {
  return std::chrono::duration<double>(deadline - Clock::now()).count();
}

std::set<std::uint16_t> established_to(std::uint16_t port) {
  std::set<std::uint16_t> local_ports;
  for (const auto& s : list_tcp_sockets({.remote_port = port}))
    if (s.state == TcpState::established) local_ports.insert(s.local_port);
  return local_ports;
}

}  // namespace

void run_grpc(const std::string& host, std::uint16_t port, const std::vector<rpc::Request>& calls,
              const std::string& prefix, Clock::time_point deadline, Run& run) {
  const auto before = established_to(port);
  grpc_kv::Client client(host, port);
  run.bytes_counted = false;
  run.results.resize(calls.size());
  run.latencies_us.resize(calls.size());
  const auto one_call = [&](std::size_t i) {
    rpc::Request request = calls[i];
    request.key = prefix + request.key;
    const auto sent = Clock::now();
    run.results[i] = client.call(request, seconds_until(deadline));
    run.latencies_us[i] = std::chrono::duration<double, std::micro>(Clock::now() - sent).count();
  };
  const auto started = Clock::now();
  if (run.window <= 1) {
    for (std::size_t i = 0; i < calls.size(); ++i) one_call(i);
  } else {
    const std::size_t threads = std::min(run.window, calls.size());
    std::exception_ptr first_error;
    std::mutex error_mutex;
    std::vector<std::thread> streams;
    for (std::size_t t = 0; t < threads; ++t)
      streams.emplace_back([&, t] {
        try {
          for (std::size_t i = 0; i < calls.size(); ++i)
            if (std::hash<std::string>{}(calls[i].key) % threads == t) one_call(i);
        } catch (...) {
          const std::lock_guard lock(error_mutex);
          if (!first_error) first_error = std::current_exception();
        }
      });
    for (auto& stream : streams) stream.join();
    if (first_error) std::rethrow_exception(first_error);
  }
  run.seconds = std::chrono::duration<double>(Clock::now() - started).count();
  for (const auto local : established_to(port)) run.connections += !before.contains(local);
  spdlog::info("gRPC {} calls, window {}, over {} new connection(s) to port {}", calls.size(), run.window,
               run.connections, port);
}

void add_grpc_same_results(const std::vector<Run>& runs, const std::vector<rpc::Request>& calls, Result& result) {
  const Run* reference = nullptr;
  for (const auto& run : runs)
    if (run.transport != "grpc") {
      reference = &run;
      break;
    }
  std::size_t compared = 0, equal = 0, grpc_runs = 0;
  std::string first_difference;
  for (const auto& run : runs) {
    if (run.transport != "grpc" || !reference) continue;
    ++grpc_runs;
    for (std::size_t i = 0; i < run.results.size() && i < reference->results.size(); ++i, ++compared) {
      if (rpc::same_outcome(run.results[i], reference->results[i])) {
        ++equal;
      } else if (first_difference.empty()) {
        const auto said = [](const rpc::Response& r) {
          return std::string(rpc::status_name(r.status)) +
                 (r.status == rpc::Status::ok ? " " + std::to_string(r.value) : "");
        };
        first_difference = "; first difference: call " + std::to_string(i + 1) + " (" +
                           std::string(rpc::method_name(calls[i].method)) + " " + calls[i].key + ", window " +
                           std::to_string(run.window) + "): gRPC " + said(run.results[i]) + ", " +
                           reference->transport + " " + said(reference->results[i]);
      }
    }
  }
  result.add_check({.id = "grpc-same-results",
                    .claim = "the same service over gRPC gives the same results as over HTTP+JSON and the binary RPC",
                    .expected = "every gRPC result (status and value) equal to the same call's over " +
                                (reference ? reference->transport : std::string("another transport")),
                    .observed = reference ? std::to_string(equal) + " of " + std::to_string(compared) +
                                                " gRPC results equal over " + std::to_string(grpc_runs) + " gRPC runs" +
                                                first_difference
                                          : "no other transport ran (--transport grpc): nothing to compare with",
                    .verdict = !reference || compared == 0 ? Verdict::skipped
                               : equal == compared         ? Verdict::confirmed
                                                           : Verdict::refuted,
                    .evidence = "status and value of every call; gRPC's NOT_FOUND / INVALID_ARGUMENT read as "
                                "not_found / bad_request"});
}

namespace {

// One direction of the gRPC connections, as the capture holds it.
struct Direction {
  double bytes_per_call = 0;         // TCP payload: preface, frame headers, HPACK blocks, DATA
  double header_bytes_per_call = 0;  // HEADERS + CONTINUATION payloads (HPACK, RFC 7541)
  double data_bytes_per_call = 0;    // DATA payloads: gRPC's 5-byte prefix + the protobuf message
  double headers_frames_per_call = 0, data_frames_per_call = 0, frames_per_call = 0;
};
BOOST_DESCRIBE_STRUCT(Direction, (),
                      (bytes_per_call, header_bytes_per_call, data_bytes_per_call, headers_frames_per_call,
                       data_frames_per_call, frames_per_call))

struct CaptureObserved {
  std::size_t connections = 0, connections_with_preface = 0, calls = 0;
  std::size_t connections_cut = 0;  // the capture missed bytes of them: judged up to the hole
  std::string first_gap;
  Direction client_to_server{}, server_to_client{};
  std::string first_flaw;
};
BOOST_DESCRIBE_STRUCT(CaptureObserved, (),
                      (connections, connections_with_preface, connections_cut, calls, client_to_server,
                       server_to_client, first_flaw, first_gap))

Direction per_call(const h2::FrameCount& c, std::size_t calls) {
  const auto per = [&](std::size_t v) { return calls ? static_cast<double>(v) / static_cast<double>(calls) : 0.0; };
  return {.bytes_per_call = per(c.bytes),
          .header_bytes_per_call = per(c.header_block_bytes),
          .data_bytes_per_call = per(c.data_bytes),
          .headers_frames_per_call = per(c.of(h2::FrameType::headers)),
          .data_frames_per_call = per(c.of(h2::FrameType::data)),
          .frames_per_call = per(c.frames)};
}

void add_to(h2::FrameCount& total, const h2::FrameCount& c) {
  total.frames += c.frames;
  for (std::size_t t = 0; t < h2::known_frame_types; ++t) total.by_type[t] += c.by_type[t];
  total.header_block_bytes += c.header_block_bytes;
  total.data_bytes += c.data_bytes;
  total.bytes += c.bytes;
}

std::string describe(const Direction& d) {
  return fixed(d.bytes_per_call) + " B/call (HPACK header blocks " + fixed(d.header_bytes_per_call) + ", DATA " +
         fixed(d.data_bytes_per_call) + "; " + fixed(d.headers_frames_per_call, 2) + " HEADERS and " +
         fixed(d.data_frames_per_call, 2) + " DATA frames per call)";
}

}  // namespace

namespace {

// "; beside the same calls over the other transports: ..." from the calls'
// own result (this client's JSON): what each sequential run carried per call,
// counted on its socket — the TCP payload the capture holds for gRPC.
std::string beside_the_others(const std::string& calls_result, double grpc_bytes_per_call) {
  if (calls_result.empty()) return "";
  const auto result = read_json_object(calls_result, "--compare");
  const auto* observed = result.if_contains("observed");
  const auto* runs = observed && observed->is_object() ? observed->as_object().if_contains("runs") : nullptr;
  if (!runs || !runs->is_array()) throw std::runtime_error("--compare " + calls_result + ": no observed.runs");
  std::string said;
  for (const auto& run : runs->as_array()) {
    const auto& r = run.as_object();
    if (r.at("window").to_number<double>() != 1 || r.at("transport") == "grpc") continue;
    const double bytes = r.at("bytes_out_per_call").to_number<double>() + r.at("bytes_in_per_call").to_number<double>();
    said += ", " + std::string(r.at("transport").as_string()) + " " + fixed(bytes) + " B/call";
  }
  if (said.empty()) return "";
  return "; both ways gRPC carried " + fixed(grpc_bytes_per_call) + " B/call, the same calls one at a time" + said +
         " (socket bytes, --compare)";
}

}  // namespace

void judge_grpc_capture(const std::string& pcap, std::uint16_t port, const std::string& calls_result, Result& result) {
  CaptureObserved o;
  result.set_params(boost::json::object{{"mode", "grpc-capture"}, {"pcap", pcap}, {"grpc_port", port}});
  if (!std::filesystem::exists(pcap)) {
    result.add_check({.id = "grpc-is-http2",
                      .claim = "gRPC is HTTP: its calls travel as HTTP/2",
                      .expected = "a capture of the gRPC port to read",
                      .observed = "no capture: " + pcap + " does not exist (tcpdump did not run)",
                      .verdict = Verdict::skipped,
                      .evidence = "nothing read"});
    return;
  }
  h2::FrameCount from_clients, from_servers;
  for (const auto& flow : group_flows(read_pcap(pcap), port)) {
    if (!flow.is_tcp) continue;
    const auto streams = h2::reassemble(flow);
    if (streams.from_client.empty()) continue;  // a connection that never spoke
    ++o.connections;
    const auto client = h2::count_frames(streams.from_client, true);
    const auto server = h2::count_frames(streams.from_server, false);
    o.connections_with_preface += client.preface;
    add_to(from_clients, client);
    add_to(from_servers, server);
    const std::string where = "connection " + flow.client + " -> " + flow.server + ": ";
    if (streams.client_cut || streams.server_cut) {
      ++o.connections_cut;
      if (o.first_gap.empty()) o.first_gap = where + streams.gap;
    }
    // What the capture missed is not held against gRPC: bytes that stop
    // inside a frame at a hole, or no preface where the capture began after
    // the connection did (tcpdump drops packets on a busy machine).
    const bool client_flaw = !client.flaw.empty() && !(streams.client_cut && client.ends_inside_frame) &&
                             (streams.client_syn || client.preface);
    const bool server_flaw = !server.flaw.empty() && !(streams.server_cut && server.ends_inside_frame);
    if (o.first_flaw.empty() && client_flaw) o.first_flaw = where + "client: " + client.flaw;
    if (o.first_flaw.empty() && server_flaw) o.first_flaw = where + "server: " + server.flaw;
  }
  o.calls = from_clients.of(h2::FrameType::headers);
  o.client_to_server = per_call(from_clients, o.calls);
  o.server_to_client = per_call(from_servers, o.calls);
  result.set_observed(o);
  // A connection without the preface is a flaw (client_flaw) unless its start was not captured.
  const bool http2 = o.connections > 0 && o.first_flaw.empty();
  result.add_check(
      {.id = "grpc-is-http2",
       .claim = "gRPC is HTTP: its calls travel as HTTP/2",
       .expected = "on every gRPC connection the client's first bytes are the HTTP/2 connection preface and every "
                   "byte after it, both ways, parses as HTTP/2 frames",
       .observed = o.connections == 0
                       ? "no gRPC connection with data in the capture"
                       : std::to_string(o.connections_with_preface) + " of " + std::to_string(o.connections) +
                             " connections start with the preface; " + std::to_string(from_clients.frames) +
                             " frames from the clients, " + std::to_string(from_servers.frames) + " from the server" +
                             (o.first_flaw.empty() ? ", every captured byte parsed" : "; " + o.first_flaw) +
                             (o.connections_cut ? "; the capture missed bytes of " + std::to_string(o.connections_cut) +
                                                      " connection(s), judged up to the hole (" + o.first_gap + ")"
                                                : "") +
                             "; " + std::to_string(o.calls) + " calls (client HEADERS frames): client -> server " +
                             describe(o.client_to_server) + ", server -> client " + describe(o.server_to_client) +
                             beside_the_others(calls_result,
                                               o.client_to_server.bytes_per_call + o.server_to_client.bytes_per_call),
       .verdict = o.connections == 0 ? Verdict::skipped
                  : http2            ? Verdict::confirmed
                                     : Verdict::refuted,
       .evidence = "TCP payload of the gRPC port in " + pcap +
                   ", reassembled per direction and read as RFC 9113 §3.4 preface + §4.1 frames"});
}

}  // namespace netlab::rpc_lab
