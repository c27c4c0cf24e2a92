#pragma once
// The handshake's failure stories, made to happen on netlab-wire (为什么三次握手):
//   old-syn      our first SYN is held in the wire; we give up on it and connect
//                again from the same local port with a new ISN; the old SYN
//                then reaches the server (RFC 9293 §3.5, Figure 8)
//   lost-synack  the wire drops the server's SYN-ACK once
//   lost-ack     the wire drops our third segment (the ACK) once or more
// Two phases: the scenario runs the connections and records what this end saw
// (CLOCK_MONOTONIC times, the same clock as the server's census and the wire's
// rule log); the judge then reads every piece of evidence — this record, the
// server's JSON (accepts, census timeline), the wire's stats (rule log) and
// the capture on the client's link — and gives the verdicts.
#include "io/net.hpp"
#include "program/options.hpp"
#include "program/result.hpp"

#include <string>

namespace netlab::handshake {

struct FailureConfig {
  std::string mode;           // old-syn, lost-synack, lost-ack
  long give_up_ms = 200;      // old-syn: the first connect() is abandoned after this
  long timeout_ms = 5000;     // bound on a connect() that should succeed
  long data_after_ms = 1500;  // lost-ack: the first data segment leaves this long after connect() returned
  long hold_ms = 300;         // keep the connection open this long before closing
};

bool is_failure_mode(const std::string& mode);

// The scenario: the connections, from this (the client's) namespace.
asio::awaitable<void> run_failure(const CommonOptions& options, const FailureConfig& config, Result& result);

struct Evidence {
  std::string run_json;     // what the scenario wrote
  std::string server_json;  // netlab-handshake-server --census-ms ... --json
  std::string wire_json;    // netlab-wire --stats-json
  std::string pcap;         // tcpdump on the client's link (may be "": no capture)
};

// The verdicts, from all the evidence; result gets the scenario's params and
// observed values with what the judge read added.
void judge_failure(const Evidence& evidence, Result& result);

}  // namespace netlab::handshake
