#pragma once
// What the three segments synchronise (为什么三次握手, RFC 9293 §3.4): each
// side picks an initial sequence number and the other side acknowledges it,
// ack = ISN + 1 (the SYN takes one sequence number). Read from the lab's
// capture, connection by connection: the SYN's seq, the SYN-ACK's ack, the
// SYN-ACK's seq and the ack of the client's third segment.
#include "program/result.hpp"

#include <cstdint>
#include <string>

namespace netlab::handshake {

// The check `isn-acknowledged`, from the handshakes in `pcap` on `port`.
void judge_isns(const std::string& pcap, std::uint16_t port, Result& result);

}  // namespace netlab::handshake
