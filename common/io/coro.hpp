// How the coroutines here await an operation: its error code comes back in a
// tuple beside the result (never as an exception), so that each step can name
// its own failure — `auto [ec, n] = co_await socket.async_read_some(buf, use_tuple);`.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace netlab {

inline constexpr auto use_tuple = boost::asio::as_tuple(boost::asio::use_awaitable);

}  // namespace netlab
