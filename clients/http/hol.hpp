#pragma once
// Head-of-line blocking on the lossy wire (docs/labs/http.md, "head-of-line
// blocking"), graded from what h2load and netlab-wire wrote: no sockets here,
// no Beast, so the unit tests feed it synthetic runs. The http lab's hol step
// (scripts/labs/http.sh) runs h2load four times across the wire — one HTTP/2
// connection with 10 concurrent streams and 10 HTTP/1.1 connections, each
// first without loss, then with loss — and writes a manifest, hol.tsv:
//   #hol  rtt_ms  <the wire's round trip>  loss  <its loss probability>
//   <run> <h2load --log-file>  <netlab-wire --stats-json, or ->
// for the runs h2-clean, h1-clean, h2-lossy, h1-lossy (paths relative to the manifest).
#include "program/result.hpp"

#include <boost/json/object.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace netlab::http_lab::hol {

// One request as h2load's --log-file has it: start (µs since the epoch) and duration (µs until the response ended).
struct Request {
  std::int64_t start_us = 0, duration_us = 0;
  std::int64_t end_us() const { return start_us + duration_us; }
};

struct Run {
  std::vector<Request> requests;  // the answered ones
  std::size_t failed = 0;         // status -1: streams that failed
  std::uint64_t dropped = 0;      // TCP frames the wire dropped during the run (both directions)
};

// A run's latencies, and how many requests the loss delayed (see grade()).
struct Distribution {
  std::size_t count = 0, failed = 0;
  double p50_ms = 0, p90_ms = 0, p99_ms = 0, max_ms = 0;
  double threshold_ms = 0;  // the clean run's median + half the wire's round trip
  std::size_t beyond = 0;   // requests that took threshold_ms or longer
  std::size_t delayed = 0;  // lossy runs: beyond, less the clean run's beyond (never below 0)
  std::size_t stalls =
      0;  // the requests beyond, in groups finishing within 1 ms of each other (one arriving segment freed them)
  std::uint64_t dropped = 0;
};

struct Setup {
  double rtt_ms = 0;  // the wire's round trip (2 x its one-way delay)
  double loss = 0;    // its loss probability
};

struct Graded {
  Distribution h2_clean, h1_clean, h2_lossy, h1_lossy;
  Check check;
};

// Fewer TCP frames dropped than this in either lossy run: too little loss to tell.
inline constexpr std::uint64_t min_dropped = 10;
// HTTP/2's requests delayed per dropped frame must be at least this many times HTTP/1.1's to confirm.
inline constexpr double confirm_ratio = 1.5;

// h2load's --log-file (tab-separated: start µs, status, duration µs), at most
// 100000 lines; a line that is not three numbers is a runtime error naming it.
Run read_h2load_log(const std::string& path);
// TCP frames netlab-wire dropped, both directions (its --stats-json: /directions/*/dropped/tcp).
std::uint64_t read_wire_dropped(const std::string& path);

// The four runs graded: check h2-hol-blocking-on-loss. A request is delayed by
// the loss when it took at least its protocol's clean median plus half a round
// trip (a retransmission repairs a hole at best one round trip late) — counted
// in the lossy run, less as many as the clean run had (slow start's first
// round). Requests delayed per dropped frame, HTTP/2 against HTTP/1.1:
// confirmed at confirm_ratio x or more, refuted when HTTP/2's is not above
// HTTP/1.1's, nuanced between, or when either lossy run dropped fewer than
// min_dropped frames.
Graded grade(const Setup& setup, const Run& h2_clean, const Run& h1_clean, const Run& h2_lossy, const Run& h1_lossy);

// The runs side by side, one line each, for the lab's output.
std::string table(const Setup& setup, const Graded& graded);
boost::json::object to_json(const Setup& setup, const Graded& graded);

// --hol-observed FILE: the manifest read, its runs graded; the table goes to `printed`.
Graded grade_manifest(const std::string& path, std::string& printed, boost::json::object& observed);

}  // namespace netlab::http_lab::hol
