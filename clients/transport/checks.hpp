#pragma once
// The tcp和udp note's claims, against what the transport client measured
// (docs/labs/transport.md): the stream over TCP, over UDP, the two side by side,
// and the semantics probe. Each reads the observed JSON of its part and adds
// its checks to the result.
#include "program/result.hpp"

#include <boost/json/object.hpp>

#include <string>

namespace netlab::transport {

// "N of M arrived; lost ..., reordered ..., duplicated ..., corrupted ...": the server's account.
std::string account_text(const boost::json::object& server);

void tcp_checks(Result& result, const boost::json::object& tcp);
// `relay`: the UDP stream went through netlab-relay; `link_loss`: the lossy link's configured share.
void udp_checks(Result& result, const boost::json::object& udp, bool relay, double link_loss);
void comparison_checks(Result& result, const boost::json::object& tcp, const boost::json::object& udp);
void semantics_checks(Result& result, const boost::json::object& semantics);

}  // namespace netlab::transport
