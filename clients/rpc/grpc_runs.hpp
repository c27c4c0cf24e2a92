#pragma once
// The rpc lab's gRPC side, client half: the same seeded calls over gRPC
// (kv.proto on HTTP/2) one at a time and as concurrent streams on one
// connection, the check that they give the other transports' results, and
// the judgement of the capture: are gRPC's bytes HTTP/2 frames?
#include "io/net.hpp"
#include "program/result.hpp"
#include "proto/rpc_protocol.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace netlab::rpc_lab {

// One run: one transport, one connection, sequential or pipelined (gRPC: concurrent streams).
struct Run {
  std::string transport;  // "http+json" | "binary" | "grpc"
  std::size_t window = 1;
  std::vector<rpc::Response> results{};
  std::vector<double> latencies_us{};
  std::size_t bytes_out = 0, bytes_in = 0;
  bool bytes_counted = true;  // false for gRPC: its socket is gRPC's own (its bytes come from the capture)
  std::size_t connections = 0;
  std::size_t answered_out_of_order = 0;
  double seconds = 0;
  double rate() const { return seconds > 0 ? static_cast<double>(results.size()) / seconds : 0; }
  double per_call(std::size_t bytes) const {
    return results.empty() ? 0 : static_cast<double>(bytes) / static_cast<double>(results.size());
  }
};

// The calls over one gRPC channel: with run.window 1 one at a time; else on
// run.window threads at once, each a stream of the same connection. A key's
// calls all go to one thread, in plan order, so every key sees its calls in
// the order the other runs make them, and the results are comparable call by
// call. run.connections: the ESTABLISHED sockets to `port` the run opened
// (sock_diag), so "one connection" is the kernel's word, not gRPC's.
void run_grpc(const std::string& host, std::uint16_t port, const std::vector<rpc::Request>& calls,
              const std::string& prefix, Clock::time_point deadline, Run& run);

// grpc-same-results: every gRPC result equals the first non-gRPC run's.
void add_grpc_same_results(const std::vector<Run>& runs, const std::vector<rpc::Request>& calls, Result& result);

// grpc-is-http2, from a capture of the gRPC port: each connection's client
// bytes start with the HTTP/2 preface and then parse as frames, and so do the
// server's; frames and bytes per call (a call = a HEADERS frame the client sent).
// With `calls_result` (this client's JSON of the same calls), gRPC's bytes per
// call are set beside the other transports' in the observed text.
void judge_grpc_capture(const std::string& pcap, std::uint16_t port, const std::string& calls_result, Result& result);

}  // namespace netlab::rpc_lab
