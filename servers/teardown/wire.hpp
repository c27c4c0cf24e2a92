#pragma once
// The teardown server's side of the stories across netlab-wire: a passive
// close watched until the kernel lets it go (LAST_ACK, a FIN retransmitted
// when the client's last ACK is lost), a close at an agreed instant (the FINs
// cross), and "report port=N": what our census saw of our own end, for the
// client in the other namespace.
#include "io/net.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include <cstdint>
#include <map>
#include <string>

namespace netlab::teardown {

// What we saw of our own end of each connection, by the client's port.
struct Reports {
  std::map<std::uint16_t, boost::json::object> by_port;
};

// passive-close: the client sent nothing and closed; close at once and watch.
boost::asio::awaitable<std::string> passive_close(tcp::socket& socket, Reports& reports);
// simultaneous-close: shutdown(SHUT_WR) at CLOCK_MONOTONIC at_ns, and watch.
boost::asio::awaitable<std::string> simultaneous_close(tcp::socket& socket, long long at_ns, Reports& reports);
// old-segment: read to the client's FIN; report the bytes and the namespace's PAWS drops meanwhile.
boost::asio::awaitable<std::string> receive_and_report(tcp::socket& socket, Reports& reports);
// "report port=N": waits (at most 15 s) for that connection's report and sends it.
boost::asio::awaitable<std::string> answer_report(tcp::socket& socket, long port, Reports& reports);

}  // namespace netlab::teardown
