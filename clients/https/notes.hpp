#pragma once
// The https client's reading of its handshake trace (docs/labs/https.md): each
// message next to the note's step, the trace as JSON, and the note's claims
// checked against the trace and the exporter comparison.
#include "program/result.hpp"
#include "tls/tls.hpp"

#include <boost/json/array.hpp>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace netlab::https {

// What the handshake settled, read from the connection after it.
struct Session {
  std::string version, suite, group;
  bool tls13 = false;
  long verify_result = 0;
  int server_key_bits = 0;
  std::string client_digest, server_digest;
  // The master secret (TLS 1.2): the SHA-256 of this side's, as OpenSSL holds it,
  // and what the server says it recomputed (1.2-rsa: from the pre-master secret it
  // decrypted out of the ClientKeyExchange, with the TLS 1.2 PRF).
  std::string client_master_sha256;
  std::string server_recomputed_master_sha256, server_recomputed_inputs, server_recompute_error;
};

// A response's head and body, split at the blank line.
std::pair<std::string, std::string> split_response(const std::string& response);
// The value of header `name` (lower case) in a response head ("" when absent).
std::string header_value(const std::string& head, std::string_view name);

// The first message `message` sent or received in the trace (nullptr: none).
const tls::Step* find_step(const std::vector<tls::Step>& steps, tls::Direction direction, std::string_view message);
// The note's step a message of the trace stands for ("" for none).
std::string note_step(const tls::Step& step, bool tls13);
// The trace for the result JSON.
boost::json::array trace_json(const std::vector<tls::Step>& steps, bool tls13);
// The first ClientHello's detail line in a trace_json trace ("" for none).
std::string client_hello_detail(const boost::json::array& trace);
// same-session-key: with RSA key transport, confirmed only when the master secret
// the server recomputed from the decrypted pre-master and the two randoms equals
// this side's OpenSSL master secret; otherwise (ECDHE, TLS 1.3: no pre-master
// crosses the wire) the exporter comparison, which a finished handshake implies.
Check same_session_key(const Session& s, bool rsa_key_transport);
// The note's claims, from the trace and the exporter comparison.
void add_checks(const std::vector<tls::Step>& steps, const Session& s, bool verify, const std::string& ca,
                Result& result);

}  // namespace netlab::https
