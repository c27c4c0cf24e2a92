// --codec raw: no framing. Our writes, then the server's read log of the same
// bytes: reads that merged several writes are 粘包, writes split over several
// reads are 拆包.
#include "framing.hpp"

#include "boundaries.hpp"
#include "io/coro.hpp"
#include "io/stats.hpp"
#include "kernel/tcp_info.hpp"
#include "program/client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/json/parse.hpp>

#include <vector>

namespace netlab::framing {

namespace {}  // namespace

asio::awaitable<std::string> read_to_end(tcp::socket& socket, std::string_view what, std::size_t limit,
                                         std::string_view over_limit) {
  std::string bytes;
  std::vector<char> buffer(65536);
  for (;;) {
    auto [ec, n] = co_await socket.async_read_some(asio::buffer(buffer), use_tuple);
    // A reset ends the reply too: a server that refused our stream closes with
    // our bytes unread, and the caller says what an empty reply means.
    if (ec == asio::error::eof || ec == asio::error::connection_reset) co_return bytes;
    if (ec) throw failure("read the server's " + std::string(what), ec);
    bytes.append(buffer.data(), n);
    if (bytes.size() > limit) throw std::runtime_error(std::string(over_limit));
  }
}

boost::json::object parse_report(const std::string& reply, std::string_view wrong_mode) {
  LengthHeaderCodec codec(std::size_t{64} << 20);
  std::vector<std::string> frames;
  if (auto error = codec.decode(reply, frames); error || frames.size() != 1)
    throw std::runtime_error(std::string(wrong_mode));
  boost::system::error_code ec;
  auto value = boost::json::parse(frames.front(), ec);
  if (ec || !value.is_object()) throw std::runtime_error(std::string(wrong_mode));
  return std::move(value.as_object());
}

asio::awaitable<void> run_raw(tcp::socket& socket, const Config& config, Progress& progress, RawObserved& observed) {
  PayloadGenerator generator(config.seed, config.min_size, config.max_size);
  std::vector<std::size_t> write_sizes;
  std::uint32_t crc = 0;
  std::size_t bytes_sent = 0;
  for (std::size_t i = 0; i < config.messages; ++i) {
    const std::string message = generator.next();
    auto [ec, n] = co_await asio::async_write(socket, asio::buffer(message), use_tuple);
    if (ec) throw failure("write", ec);
    write_sizes.push_back(n);
    bytes_sent += n;
    crc = crc32(message, crc);
    ++progress.sent;
  }
  const auto sender_info = read_tcp_info(socket.native_handle());
  // Half-close: our FIN tells the server the stream is complete; it answers
  // with its read log on the same connection.
  socket.shutdown(tcp::socket::shutdown_send);

  const auto log = parse_report(
      co_await read_to_end(socket, "read log", std::size_t{64} << 20, "read log over 64 MiB — not a netlab server?"),
      "the server's read log is not one length-framed message — is it running --codec raw?");
  std::vector<std::size_t> read_sizes;
  for (const auto& size : log.at("reads").as_array()) read_sizes.push_back(size.to_number<std::size_t>());
  progress.received = read_sizes.size();
  const auto server_bytes = log.at("bytes").to_number<std::size_t>();
  const auto server_crc = log.at("crc32").to_number<std::uint32_t>();
  const bool intact = server_bytes == bytes_sent && server_crc == crc;
  if (!intact)
    throw std::runtime_error("the server read " + std::to_string(server_bytes) + " bytes with CRC " +
                             std::to_string(server_crc) + ", we sent " + std::to_string(bytes_sent) + " with CRC " +
                             std::to_string(crc));

  const auto report = compare_boundaries(write_sizes, read_sizes);
  observed = {.writes = report.writes,
              .reads = report.reads,
              .bytes_sent = bytes_sent,
              .bytes_read_by_server = server_bytes,
              .stream_intact = intact,
              .merged_reads = report.merged_reads,
              .split_writes = report.split_writes,
              .exact_reads = report.exact_reads,
              .max_writes_in_one_read = report.max_writes_in_one_read,
              .server_read_size = log.at("read_size")};
  if (sender_info) {
    observed.segments_sent = sender_info->segs_out;
    observed.tcp_info = describe(*sender_info);
  }
}

}  // namespace netlab::framing
