// netlab-framing-server — the 粘包 lab's server.
//
// TCP hands the application a byte stream: the kernel merges small writes into
// one segment (Nagle, coalescing) and the reader gets whatever has arrived, so
// one read is not one write. This server shows it and shows the cure:
//   --codec raw        record the size of every read; at the client's end of
//                      stream, send the read log back so the client can set
//                      its writes against our reads.
//   --codec delimiter  decode "payload\n" frames and echo each one the same way.
//   --codec length     decode 4-byte-length-header frames and echo each one.
//   --one-way          (delimiter/length) no echo: count the frames and
//                      tally their sizes and CRC-32Cs; at the client's end
//                      of stream, send that tally back (a bulk transfer, as
//                      iperf3 measures one).
// A peer that breaks the framing (oversized header, no delimiter within the
// maximum, stream cut inside a frame) gets one log line and its connection
// closed; every other connection keeps being served. So does one that moves
// no byte for --idle-timeout (default 300 s).
#include "io/coro.hpp"
#include "io/stats.hpp"
#include "program/server.hpp"
#include "proto/codec.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/json/serialize.hpp>

#include <iostream>

namespace {

using namespace netlab;
using asio::awaitable;

const ProgramInfo program_info{"framing", "The 粘包 lab's server: records reads (raw) or echoes framed messages.",
                               7006};

struct Config {
  CodecKind codec = CodecKind::length;
  std::size_t max_frame = 0;  // 0 = the codec's default
  std::size_t read_size = 65536;
  double idle_timeout = default_idle_timeout;  // --idle-timeout
  bool one_way = false;
};

struct Counters {
  std::size_t connections = 0;
  std::size_t reads = 0;
  std::size_t bytes_received = 0;
  std::size_t frames_echoed = 0;
  std::size_t frames_counted = 0;  // --one-way
  std::size_t codec_errors = 0;
};
BOOST_DESCRIBE_STRUCT(Counters, (), (connections, reads, bytes_received, frames_echoed, frames_counted, codec_errors))

// A raw peer could send one byte at a time forever; the log it gets back is capped.
constexpr std::size_t max_logged_reads = 200'000;

// One length-framed JSON message: the raw read log or the one-way tally.
awaitable<std::string> send_report(tcp::socket& socket, const boost::json::object& report, std::string_view what) {
  const std::string body = boost::json::serialize(report);
  std::string frame;
  LengthHeaderCodec::put_header(static_cast<std::uint32_t>(body.size()), frame);
  frame += body;
  auto [ec, written] = co_await asio::async_write(socket, asio::buffer(frame), use_tuple);
  (void)written;
  co_return ec ? "write " + std::string(what) + ": " + ec.message() : "end of stream, " + std::string(what) + " sent";
}

// raw: read whatever the kernel has, note the size, until the client's FIN.
awaitable<std::string> serve_raw(tcp::socket& socket, const Config& config, Counters& counters) {
  std::vector<char> buffer(config.read_size);
  boost::json::array read_sizes;
  std::size_t bytes = 0, reads = 0;
  std::uint32_t crc = 0;
  for (;;) {
    auto [ec, n] = co_await socket.async_read_some(asio::buffer(buffer), use_tuple);
    if (ec == asio::error::eof) break;
    if (ec) co_return "read: " + ec.message();
    ++reads;
    if (read_sizes.size() < max_logged_reads) read_sizes.push_back(n);
    bytes += n;
    crc = crc32({buffer.data(), n}, crc);
  }
  counters.reads += reads;
  counters.bytes_received += bytes;
  // The client half-closed (its FIN arrived); the connection still carries our reply.
  const boost::json::object log{{"reads", std::move(read_sizes)},
                                {"read_count", reads},
                                {"bytes", bytes},
                                {"crc32", crc},
                                {"read_size", config.read_size}};
  co_return co_await send_report(socket, log, "read log");
}

// delimiter / length: decode frames from whatever chunk arrives, echo each one.
template <typename Codec>
awaitable<std::string> serve_frames(tcp::socket& socket, Codec codec, Counters& counters) {
  std::vector<char> buffer(65536);
  std::vector<std::string> frames;
  std::string echo;
  for (;;) {
    auto [ec, n] = co_await socket.async_read_some(asio::buffer(buffer), use_tuple);
    if (ec == asio::error::eof) {
      if (auto error = codec.finish()) {
        ++counters.codec_errors;
        spdlog::warn("{}: {} — closing", describe_connection(socket), error->message);
        co_return "truncated frame";
      }
      co_return "end of stream";
    }
    if (ec) co_return "read: " + ec.message();
    ++counters.reads;
    counters.bytes_received += n;
    frames.clear();
    const auto error = codec.decode({buffer.data(), n}, frames);
    // Echo the frames completed so far, even when the bytes after them are bad.
    echo.clear();
    for (const auto& frame : frames) (void)codec.encode(frame, echo);
    if (!echo.empty()) {
      auto [write_ec, written] = co_await asio::async_write(socket, asio::buffer(echo), use_tuple);
      (void)written;
      if (write_ec) co_return "write: " + write_ec.message();
      counters.frames_echoed += frames.size();
    }
    if (error) {
      // Stop parsing: after a bad header nothing later in the stream can be trusted.
      ++counters.codec_errors;
      spdlog::warn("{}: {} — closing this connection", describe_connection(socket), error->message);
      co_return "codec error";
    }
  }
}

// --one-way: decode the frames and tally them (size and CRC-32C of each, in
// order, see tally_frame); the tally goes back at the client's end of stream.
template <typename Codec>
awaitable<std::string> serve_sink(tcp::socket& socket, Codec codec, Counters& counters) {
  std::vector<char> buffer(262144);  // bulk data: fewer, larger reads (iperf3 reads 128 KiB)
  std::size_t count = 0, payload_bytes = 0;
  std::uint32_t frames_tally = 0;
  for (;;) {
    auto [ec, n] = co_await socket.async_read_some(asio::buffer(buffer), use_tuple);
    if (ec == asio::error::eof) break;
    if (ec) co_return "read: " + ec.message();
    ++counters.reads;
    counters.bytes_received += n;
    const auto error = codec.decode_each({buffer.data(), n}, [&](std::string_view frame) {
      frames_tally = tally_frame(frames_tally, frame.size(), crc32c(frame));
      payload_bytes += frame.size();
      ++count;
      ++counters.frames_counted;
    });
    if (error) {
      ++counters.codec_errors;
      spdlog::warn("{}: {} — closing this connection", describe_connection(socket), error->message);
      co_return "codec error";
    }
  }
  if (auto error = codec.finish()) {
    ++counters.codec_errors;
    spdlog::warn("{}: {} — closing", describe_connection(socket), error->message);
    co_return "truncated frame";
  }
  const boost::json::object tally{{"frames", count}, {"payload_bytes", payload_bytes}, {"frames_crc32c", frames_tally}};
  co_return co_await send_report(socket, tally, "tally");
}

template <typename Codec>
awaitable<std::string> serve_codec(tcp::socket& socket, Codec codec, const Config& config, Counters& counters) {
  if (config.one_way) co_return co_await serve_sink(socket, std::move(codec), counters);
  co_return co_await serve_frames(socket, std::move(codec), counters);
}

awaitable<void> session(tcp::socket socket, const Config& config, Counters& counters, ConnectionRegistry& registry) {
  ServedConnection served(socket, registry, config.idle_timeout);
  std::string ending;
  switch (config.codec) {
    case CodecKind::raw:
      ending = co_await serve_raw(socket, config, counters);
      break;
    case CodecKind::delimiter:
      ending = co_await serve_codec(
          socket, DelimiterCodec('\n', config.max_frame ? config.max_frame : DelimiterCodec::default_max_frame), config,
          counters);
      break;
    case CodecKind::length:
      ending = co_await serve_codec(
          socket, LengthHeaderCodec(config.max_frame ? config.max_frame : LengthHeaderCodec::default_max_frame), config,
          counters);
      break;
  }
  if (served.idle().expired()) ending = "idle timeout";
  served.down(ending);
}

}  // namespace

int framing_server(ServerProgram& program, CLI::App& app, Config& config) {
  app.add_option("--codec", config.codec, "raw | delimiter | length")
      ->transform(CLI::CheckedTransformer(codec_kinds()))
      ->capture_default_str();
  app.add_option("--max-frame", config.max_frame,
                 "largest frame accepted (default: 65536 for delimiter, 1048576 for length)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{64} << 20));
  add_bounded_option(app, "--read-size", config.read_size, "bytes asked of each read (raw)", std::size_t{1},
                     std::size_t{1} << 24);
  program.add_idle_timeout(config.idle_timeout);
  program.add_max_connections();
  app.add_flag("--one-way", config.one_way,
               "delimiter/length: count and checksum the frames instead of echoing them; "
               "the tally is sent back at the client's end of stream");
  program.check_usage([&] {
    if (config.one_way && config.codec == CodecKind::raw)
      throw UsageError("--one-way needs --codec delimiter or length (raw is one-way already)");
  });
  Counters counters;
  return program.run([&](ServerRun& run) {
    run.serve([&](tcp::socket socket) {
      ++counters.connections;
      return session(std::move(socket), config, counters, run.registry());
    });
    run.listening("codec " + std::string(codec_name(config.codec)) + (config.one_way ? ", one-way" : ""));
    run.report([&](Result& result, std::ostream& out) {
      result.set_params(boost::json::object{{"codec", codec_name(config.codec)},
                                            {"read_size", config.read_size},
                                            {"max_frame", config.max_frame},
                                            {"one_way", config.one_way},
                                            {"idle_timeout", config.idle_timeout}});
      result.set_observed(counters);
      out << "netlab-framing-server (codec " << codec_name(config.codec) << ") on " << to_string(run.bound())
          << " stopped by " << run.stop_reason() << " after " << run.seconds() << " s\n"
          << "  connections " << counters.connections << ", reads " << counters.reads << ", bytes in "
          << counters.bytes_received << ", frames echoed " << counters.frames_echoed << ", frames counted (one-way) "
          << counters.frames_counted << ", codec errors " << counters.codec_errors << ", refused (--max-connections "
          << run.limit().max() << ") " << run.limit().refused() << "\n";
    });
  });
}

int main(int argc, char** argv) { return run_lab(argc, argv, program_info, framing_server); }
