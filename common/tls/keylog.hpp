#pragma once
// The session's secrets, for a person with Wireshark and for the proof that
// both ends hold the same keys: the NSS key log (--keylog, SSLKEYLOGFILE) and
// the exporter digest.
#include <boost/asio/ssl/context.hpp>

#include <string>
#include <string_view>

namespace netlab::tls {

// Appends NSS key log lines ("CLIENT_RANDOM ...", "CLIENT_HANDSHAKE_TRAFFIC_SECRET ...")
// of every connection of `context` to `path` (created 0600). Throws on an unwritable path.
// `path` empty = the SSLKEYLOGFILE variable when set, else nothing. Returns the path used.
std::string enable_keylog(boost::asio::ssl::context& context, std::string path);

// RFC 5705 §4: a label not registered with IANA begins with "EXPERIMENTAL".
inline constexpr std::string_view exporter_label = "EXPERIMENTAL-netlab-https";

// SHA-256 of 32 bytes of keying material exported from the session (RFC 5705 / 8446
// 7.5) under exporter_label, in hex: both ends print it; equal digests prove equal
// session keys without showing any secret.
std::string exporter_digest(SSL* ssl);

}  // namespace netlab::tls
