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
#include "observed.hpp"
#include "program/options.hpp"
#include "program/result.hpp"

#include <boost/describe/class.hpp>
#include <boost/json/value_from.hpp>

#include <cstdint>
#include <optional>
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

// One connect() of a story, on CLOCK_MONOTONIC (the clock of the server's
// census and of the wire's rule log).
struct ConnectRecord {
  double started_mono_ms = 0, ended_mono_ms = 0, ms = 0;
  std::string outcome;  // "connected", "gave up", or the error
  // Once connected: TCP_INFO, and the two ISNs where TCP_REPAIR is allowed (root).
  std::optional<std::uint32_t> segments_out{}, segments_in{}, retransmits{}, client_isn{}, server_isn{};

  friend void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const ConnectRecord& r) {
    v = present_members(r);
  }
};
BOOST_DESCRIBE_STRUCT(ConnectRecord, (),
                      (started_mono_ms, ended_mono_ms, ms, outcome, segments_out, segments_in, retransmits, client_isn,
                       server_isn))

// What the scenario recorded (its result's "observed"): old-syn has `first`
// and `second`, lost-synack and lost-ack `connect`; lost-ack also the data it
// sent after connect() returned.
struct FailureRecord {
  std::uint16_t local_port = 0;
  std::optional<ConnectRecord> first{}, second{}, connect{};
  std::optional<std::string> client_state_after_connect{};
  std::optional<double> data_sent_mono_ms{};
  std::optional<std::size_t> data_bytes{};

  friend void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const FailureRecord& r) {
    v = present_members(r);
  }
};
BOOST_DESCRIBE_STRUCT(FailureRecord, (),
                      (local_port, first, second, connect, client_state_after_connect, data_sent_mono_ms, data_bytes))

// The record back from a scenario's result JSON (for the judge); throws when
// it is not one.
FailureRecord read_failure_record(const boost::json::object& observed);

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
