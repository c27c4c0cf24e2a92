// --codec delimiter|length: framed messages. Every echo is checked (length,
// CRC-32C, order) against what was sent; with --one-way the server counts and
// checksums the frames instead and sends its tally at our end of stream.
#include "framing.hpp"

#include "io/coro.hpp"
#include "io/stats.hpp"
#include "kernel/tcp_info.hpp"
#include "program/client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <deque>
#include <exception>
#include <type_traits>
#include <vector>

namespace netlab::framing {

namespace {

using asio::awaitable;

struct Sent {
  std::size_t size;
  std::uint32_t crc;
};

// What came back (echoes) and what went out, counted as it happens.
struct EchoTally {
  std::size_t intact = 0, mismatched = 0;
  std::size_t bytes_sent = 0, bytes_received = 0, reads = 0;
};

// One write per message; with --one-way (a bulk transfer) as many messages
// per write as fit in 256 KiB, as iperf3 writes 128 KiB at a time. Length
// frames are gathered from their headers and the payloads in place (no copy).
template <typename Codec>
awaitable<void> send_messages(tcp::socket& socket, Codec codec, const Config& config, std::deque<Sent>& in_flight,
                              Progress& progress, EchoTally& tally) {
  PayloadGenerator generator(config.seed, config.min_size, config.max_size,
                             config.codec == CodecKind::delimiter ? '\n' : -1);
  const std::size_t batch_bytes = config.one_way ? std::size_t{256} << 10 : 0;
  std::vector<std::string_view> batch;
  std::string encoded;  // this write's headers (length) or whole frames (delimiter)
  std::vector<asio::const_buffer> buffers;
  for (std::size_t i = 0; i < config.messages;) {
    batch.clear();
    std::size_t bytes = 0;
    do {
      batch.push_back(generator.next_view());
      bytes += batch.back().size();
      ++i;
    } while (i < config.messages && bytes < batch_bytes);
    encoded.clear();
    buffers.clear();
    for (const auto payload : batch) {
      if constexpr (std::is_same_v<Codec, LengthHeaderCodec>) {
        if (payload.size() > codec.max_frame()) throw std::runtime_error("encode: message over the maximum frame");
        LengthHeaderCodec::put_header(static_cast<std::uint32_t>(payload.size()), encoded);
      } else if (auto error = codec.encode(payload, encoded)) {
        throw std::runtime_error("encode: " + error->message);
      }
      in_flight.push_back({payload.size(), crc32c(payload)});
    }
    if constexpr (std::is_same_v<Codec, LengthHeaderCodec>) {
      for (std::size_t k = 0; k < batch.size(); ++k) {
        buffers.push_back(
            asio::buffer(encoded.data() + k * LengthHeaderCodec::header_size, LengthHeaderCodec::header_size));
        buffers.push_back(asio::buffer(batch[k]));
      }
    } else {
      buffers.push_back(asio::buffer(encoded));
    }
    auto [ec, n] = co_await asio::async_write(socket, buffers, use_tuple);
    if (ec) throw failure("write", ec);
    tally.bytes_sent += n;
    progress.sent += batch.size();
  }
  // Everything is sent: our FIN lets the server finish, and it closes after the last echo.
  socket.shutdown(tcp::socket::shutdown_send);
}

template <typename Codec>
awaitable<void> receive_echoes(tcp::socket& socket, Codec codec, std::deque<Sent>& in_flight, Progress& progress,
                               EchoTally& tally) {
  std::vector<char> buffer(65536);
  std::vector<std::string> frames;
  for (;;) {
    auto [ec, n] = co_await socket.async_read_some(asio::buffer(buffer), use_tuple);
    if (ec == asio::error::eof) break;
    if (ec) throw failure("read echoes", ec);
    ++tally.reads;
    tally.bytes_received += n;
    frames.clear();
    if (auto error = codec.decode({buffer.data(), n}, frames))
      throw std::runtime_error("decode echoes: " + error->message);
    for (const auto& frame : frames) {
      ++progress.received;
      if (in_flight.empty()) {  // an echo of something never sent
        ++tally.mismatched;
        continue;
      }
      const Sent expected = in_flight.front();
      in_flight.pop_front();
      if (frame.size() == expected.size && crc32c(frame) == expected.crc)
        ++tally.intact;
      else
        ++tally.mismatched;
    }
  }
  if (auto error = codec.finish()) throw std::runtime_error("echo stream: " + error->message);
}

template <typename Codec>
awaitable<void> run_echo(tcp::socket& socket, Codec codec, const Config& config, Progress& progress,
                         EchoObserved& observed) {
  std::deque<Sent> in_flight;
  EchoTally tally;
  const auto started = Clock::now();
  // Send and receive at once: if we only wrote, both sides' buffers would fill and deadlock.
  using namespace asio::experimental::awaitable_operators;
  co_await (send_messages(socket, codec, config, in_flight, progress, tally) &&
            receive_echoes(socket, codec, in_flight, progress, tally));
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  observed = {.messages_sent = progress.sent,
              .messages_received = progress.received,
              .intact = tally.intact,
              .mismatches = tally.mismatched,
              .missing = in_flight.size(),
              .bytes_sent = tally.bytes_sent,
              .bytes_received = tally.bytes_received,
              .reads = tally.reads,
              .seconds = seconds,
              .messages_per_s = seconds > 0 ? static_cast<double>(tally.intact) / seconds : 0.0};
  if (auto info = read_tcp_info(socket.native_handle())) observed.tcp_info = describe(*info);
}

// --one-way: the server's tally against ours.
template <typename Codec>
awaitable<void> run_one_way(tcp::socket& socket, Codec codec, const Config& config, Progress& progress,
                            OneWayObserved& observed) {
  std::deque<Sent> sent;
  EchoTally tally;
  std::string reply;
  const auto started = Clock::now();
  // Reading while sending: a server that echoes (not --one-way) is caught at
  // once instead of filling both buffers until --max-seconds. The reader's
  // error is the one that says why; it stops the writer by shutting the socket.
  std::exception_ptr reader_failed;
  const auto receive = [&]() -> awaitable<void> {
    try {
      reply = co_await read_to_end(socket, "tally", std::size_t{1} << 20,
                                   "more than 1 MiB came back before our end of stream — "
                                   "is the server running --one-way?");
    } catch (...) {
      reader_failed = std::current_exception();
      // Cancel a write in progress, and make the next one fail at once.
      boost::system::error_code ignored;
      socket.shutdown(tcp::socket::shutdown_both, ignored);
      socket.cancel(ignored);
    }
  };
  using namespace asio::experimental::awaitable_operators;
  try {
    co_await (send_messages(socket, codec, config, sent, progress, tally) && receive());
  } catch (const StepError& e) {
    // A write that failed: the server closed on us (it logs why) before any tally.
    if (!reader_failed && e.step() == "write")
      throw std::runtime_error(std::string(e.what()) +
                               " — the server closed the connection without a tally; "
                               "its log says why (a frame over its --max-frame?)");
    if (!reader_failed) throw;
  }
  if (reader_failed) std::rethrow_exception(reader_failed);
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  if (reply.empty())
    throw std::runtime_error(
        "the server closed the connection without a tally — its log says why "
        "(a frame over its --max-frame?)");
  const auto tally_json = parse_report(reply, "the server's reply is not a one-way tally — is it running --one-way?");

  // Our side of the same tally: every frame's size and CRC-32C, in order.
  std::uint32_t frames_tally = 0;
  std::size_t payload_bytes = 0;
  for (const auto& message : sent) {
    frames_tally = tally_frame(frames_tally, message.size, message.crc);
    payload_bytes += message.size;
  }
  const auto number = [&](const char* key) { return tally_json.at(key).to_number<std::uint64_t>(); };
  const std::size_t frames = number("frames");
  progress.received = frames;
  observed = {.messages_sent = progress.sent,
              .frames_counted_by_server = frames,
              .payload_bytes = payload_bytes,
              .payload_bytes_counted_by_server = number("payload_bytes"),
              .frames_crc32c = frames_tally,
              .server_frames_crc32c = number("frames_crc32c"),
              .bytes_sent = tally.bytes_sent,
              .seconds = seconds,
              .messages_per_s = seconds > 0 ? static_cast<double>(frames) / seconds : 0.0,
              .payload_bytes_per_s = seconds > 0 ? static_cast<double>(payload_bytes) / seconds : 0.0};
  if (auto info = read_tcp_info(socket.native_handle())) observed.tcp_info = describe(*info);
}

template <typename Codec>
awaitable<void> run_with(tcp::socket& socket, Codec codec, const Config& config, Progress& progress,
                         Observed& observed) {
  if (config.one_way)
    co_await run_one_way(socket, std::move(codec), config, progress, observed.one_way.emplace());
  else
    co_await run_echo(socket, std::move(codec), config, progress, observed.echo.emplace());
}

}  // namespace

awaitable<void> run_framed(tcp::socket& socket, const Config& config, Progress& progress, Observed& observed) {
  if (config.codec == CodecKind::delimiter)
    co_await run_with(socket, DelimiterCodec('\n', std::max(config.max_size, DelimiterCodec::default_max_frame)),
                      config, progress, observed);
  else
    co_await run_with(socket, LengthHeaderCodec(std::max(config.max_size, LengthHeaderCodec::default_max_frame)),
                      config, progress, observed);
}

}  // namespace netlab::framing
