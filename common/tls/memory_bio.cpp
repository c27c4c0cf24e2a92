#include "tls/memory_bio.hpp"

#include "io/coro.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/write.hpp>

#include <openssl/err.h>

#include <array>
#include <stdexcept>

namespace netlab::tls {

namespace asio = boost::asio;

MemoryBioPump::MemoryBioPump(SSL* ssl) : ssl_(ssl), in_(BIO_new(BIO_s_mem())), out_(BIO_new(BIO_s_mem())) {
  if (!in_ || !out_) {
    BIO_free(in_);
    BIO_free(out_);
    throw std::runtime_error("BIO_new: out of memory");
  }
  // A drained memory BIO means "wait for the peer", not end of file.
  BIO_set_mem_eof_return(in_, -1);
  SSL_set_bio(ssl_, in_, out_);  // the SSL owns both from here on
}

asio::awaitable<void> MemoryBioPump::flush(tcp::socket& socket, boost::system::error_code& ec) {
  std::array<char, 16384> chunk{};
  for (;;) {
    const int n = BIO_read(out_, chunk.data(), static_cast<int>(chunk.size()));
    if (n <= 0) co_return;
    const auto size = static_cast<std::size_t>(n);
    if (!last_was_send_) ++flights_sent_;
    last_was_send_ = true;
    if (flights_received_ == 0 && first_flight_.size() + size <= max_first_flight)
      first_flight_.insert(first_flight_.end(), chunk.begin(), chunk.begin() + n);
    std::tie(ec, std::ignore) = co_await asio::async_write(socket, asio::buffer(chunk.data(), size), use_tuple);
    if (ec) co_return;
  }
}

asio::awaitable<int> MemoryBioPump::call(tcp::socket& socket, const std::function<int(SSL*)>& op,
                                         boost::system::error_code& ec) {
  std::array<char, 16384> chunk{};
  ec = {};
  for (std::size_t reads = 0;; ++reads) {
    ERR_clear_error();
    const int result = op(ssl_);
    const int error = result > 0 ? SSL_ERROR_NONE : SSL_get_error(ssl_, result);
    const unsigned long queued = ERR_get_error();
    // What OpenSSL wrote goes out first, an alert included.
    co_await flush(socket, ec);
    if (ec) co_return result;
    switch (error) {
      case SSL_ERROR_NONE:
        co_return result;
      case SSL_ERROR_WANT_READ:
        break;
      case SSL_ERROR_ZERO_RETURN:
        ec = asio::error::eof;  // close_notify, as Asio's stream reports it
        co_return result;
      case SSL_ERROR_SSL:
        ec = boost::system::error_code(static_cast<int>(queued), asio::error::get_ssl_category());
        co_return result;
      default:
        ec = queued ? boost::system::error_code(static_cast<int>(queued), asio::error::get_ssl_category())
                    : asio::ssl::error::stream_truncated;
        co_return result;
    }
    if (reads == max_reads) {
      ec = asio::error::message_size;
      co_return result;
    }
    auto [read_ec, n] = co_await socket.async_read_some(asio::buffer(chunk), use_tuple);
    if (n > 0) {
      if (last_was_send_ || flights_received_ == 0) ++flights_received_;
      last_was_send_ = false;
      BIO_write(in_, chunk.data(), static_cast<int>(n));
    }
    if (read_ec == asio::error::eof) {
      ec = asio::ssl::error::stream_truncated;  // TCP ended with OpenSSL still waiting for bytes
      co_return result;
    }
    if (read_ec) {
      ec = read_ec;
      co_return result;
    }
  }
}

}  // namespace netlab::tls
