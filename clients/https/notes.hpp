#pragma once
// The https client's reading of its handshake trace (docs/labs/https.md): each
// message next to the note's step, the trace as JSON, and the note's claims
// checked against the trace and the exporter comparison.
#include "program/result.hpp"
#include "tls/tls.hpp"

#include <boost/json/array.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace netlab::https {

// What the handshake settled, read from the connection after it.
struct Session {
  std::string version, suite, group;
  bool tls13 = false;
  long verify_result = 0;
  int server_key_bits = 0;
  std::string client_digest, server_digest;
};

// The first message `message` sent or received in the trace (nullptr: none).
const tls::Step* find_step(const std::vector<tls::Step>& steps, tls::Direction direction, std::string_view message);
// The note's step a message of the trace stands for ("" for none).
std::string note_step(const tls::Step& step, bool tls13);
// The trace for the result JSON.
boost::json::array trace_json(const std::vector<tls::Step>& steps, bool tls13);
// The note's claims, from the trace and the exporter comparison.
void add_checks(const std::vector<tls::Step>& steps, const Session& s, bool verify, const std::string& ca,
                Result& result);

}  // namespace netlab::https
