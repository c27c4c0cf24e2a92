// netlab-framing-client — the 粘包 lab's client.
//
// Sends N messages of seeded random sizes as fast as it can, one write each.
//   --codec raw        no framing: after the last write, half-close and fetch the
//                      server's read log, then set our writes against its reads:
//                      reads that merged several writes are 粘包, writes split
//                      over several reads are 拆包.
//   --codec delimiter  "payload\n" frames; every echo is checked (length, CRC-32C,
//   --codec length     order) against what was sent.
//   --one-way          (delimiter/length, with the server's --one-way) no echo:
//                      the server counts and checksums the frames and sends the
//                      tally back at our end of stream; a bulk transfer.
// The verdicts come from those counts, measured in this run.
#include "io/stats.hpp"
#include "kernel/tcp_info.hpp"
#include "program/client.hpp"
#include "proto/boundaries.hpp"
#include "proto/codec.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/json/parse.hpp>
#include <spdlog/spdlog.h>

#include <deque>
#include <type_traits>
#include <iostream>

namespace {

using namespace netlab;
using asio::awaitable;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

struct Config {
  CodecKind codec = CodecKind::length;
  std::size_t messages = 1000;
  std::size_t min_size = 1;
  std::size_t max_size = 512;
  bool nodelay = false;
  bool one_way = false;
  std::uint64_t seed = 1;
};

// What the run has done so far: reported if the deadline cuts it short.
struct Progress {
  std::size_t sent = 0;
  std::size_t received = 0;
};

// ---- raw: writes against reads ---------------------------------------------

// The server's one reply (its read log, or its one-way tally) up to its FIN.
awaitable<std::string> read_to_end(tcp::socket& socket, std::string_view what, std::size_t limit,
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

// The reply as one length-framed JSON object.
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

awaitable<void> run_raw(tcp::socket& socket, const Config& config, Progress& progress, Result& result) {
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
                             std::to_string(server_crc) + ", we sent " + std::to_string(bytes_sent) +
                             " with CRC " + std::to_string(crc));

  const auto report = compare_boundaries(write_sizes, read_sizes);
  auto& observed = result.observed();
  observed = {{"writes", report.writes},
              {"reads", report.reads},
              {"bytes_sent", bytes_sent},
              {"bytes_read_by_server", server_bytes},
              {"stream_intact", intact},
              {"merged_reads", report.merged_reads},
              {"split_writes", report.split_writes},
              {"exact_reads", report.exact_reads},
              {"max_writes_in_one_read", report.max_writes_in_one_read},
              {"server_read_size", log.at("read_size")}};
  if (sender_info) {
    observed["segments_sent"] = sender_info->segs_out;
    observed["tcp_info"] = describe(*sender_info);
  }

  const bool boundaries_lost = report.merged_reads + report.split_writes > 0;
  const std::string numbers = std::to_string(report.writes) + " writes arrived as " +
                              std::to_string(report.reads) + " reads: " + std::to_string(report.merged_reads) +
                              " reads merged several writes (up to " +
                              std::to_string(report.max_writes_in_one_read) + " in one), " +
                              std::to_string(report.split_writes) + " writes were split";
  result.add_check({.id = "write-is-not-read", .claim = "TCP is a byte stream: one write is not one read (粘包/拆包)",
                    .expected = "reads that merge writes or writes split over reads",
                    .observed = numbers,
                    .verdict = boundaries_lost ? Verdict::confirmed : Verdict::nuanced,
                    .evidence = boundaries_lost
                        ? "the server's read sizes against our write sizes, over the same byte stream (CRC-32 equal)"
                        : "every read matched one write in this run — the boundaries were kept by timing, "
                          "not by TCP; run with more or smaller messages, or --nodelay off"});
}

// ---- delimiter / length: echoes checked one by one --------------------------

struct Sent {
  std::size_t size;
  std::uint32_t crc;
};

struct EchoTally {
  std::size_t intact = 0;
  std::size_t mismatched = 0;
  std::size_t bytes_sent = 0;
  std::size_t bytes_received = 0;
  std::size_t reads = 0;
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
        buffers.push_back(asio::buffer(encoded.data() + k * LengthHeaderCodec::header_size, LengthHeaderCodec::header_size));
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
    if (auto error = codec.decode({buffer.data(), n}, frames)) throw std::runtime_error("decode echoes: " + error->message);
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
awaitable<void> run_echo(tcp::socket& socket, Codec codec, const Config& config, Progress& progress, Result& result) {
  std::deque<Sent> in_flight;
  EchoTally tally;
  const auto started = Clock::now();
  // Send and receive at once: if we only wrote, both sides' buffers would fill and deadlock.
  using namespace asio::experimental::awaitable_operators;
  co_await (send_messages(socket, codec, config, in_flight, progress, tally) &&
            receive_echoes(socket, codec, in_flight, progress, tally));
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  const std::size_t missing = in_flight.size();
  const std::size_t n = config.messages;

  auto& observed = result.observed();
  observed = {{"messages_sent", progress.sent},
              {"messages_received", progress.received},
              {"intact", tally.intact},
              {"mismatches", tally.mismatched},
              {"missing", missing},
              {"bytes_sent", tally.bytes_sent},
              {"bytes_received", tally.bytes_received},
              {"reads", tally.reads},
              {"seconds", seconds},
              {"messages_per_s", seconds > 0 ? static_cast<double>(tally.intact) / seconds : 0.0}};
  if (auto info = read_tcp_info(socket.native_handle())) observed["tcp_info"] = describe(*info);

  const bool restored = tally.intact == n && tally.mismatched == 0 && missing == 0;
  const bool delimiter = config.codec == CodecKind::delimiter;
  result.add_check({.id = delimiter ? "delimiter-restores-boundaries" : "length-restores-boundaries",
                    .claim = delimiter ? "粘包的解决: a delimiter after each message restores the boundaries"
                              : "粘包的解决: a length header before each message restores the boundaries",
                    .expected = std::to_string(n) + " of " + std::to_string(n) + " messages echoed intact, in order",
                    .observed = std::to_string(tally.intact) + " of " + std::to_string(n) + " intact, " +
                        std::to_string(tally.mismatched) + " mismatched, " + std::to_string(missing) +
                        " missing, over " + std::to_string(tally.reads) + " reads",
                    .verdict = restored ? Verdict::confirmed : Verdict::refuted,
                    .evidence = "length and CRC-32C of every echoed frame compared, in order, with what was sent"});
}

// ---- --one-way: the server's tally against ours ----------------------------

template <typename Codec>
awaitable<void> run_one_way(tcp::socket& socket, Codec codec, const Config& config, Progress& progress,
                            Result& result) {
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
      throw std::runtime_error(std::string(e.what()) + " — the server closed the connection without a tally; "
                                                       "its log says why (a frame over its --max-frame?)");
    if (!reader_failed) throw;
  }
  if (reader_failed) std::rethrow_exception(reader_failed);
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  if (reply.empty())
    throw std::runtime_error("the server closed the connection without a tally — its log says why "
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
  const bool same_tally = number("frames_crc32c") == frames_tally;
  const bool same = frames == config.messages && number("payload_bytes") == payload_bytes && same_tally;

  auto& observed = result.observed();
  observed = {{"one_way", true},
              {"messages_sent", progress.sent},
              {"frames_counted_by_server", frames},
              {"payload_bytes", payload_bytes},
              {"payload_bytes_counted_by_server", number("payload_bytes")},
              {"frames_crc32c", frames_tally},
              {"server_frames_crc32c", number("frames_crc32c")},
              {"bytes_sent", tally.bytes_sent},
              {"seconds", seconds},
              {"messages_per_s", seconds > 0 ? static_cast<double>(frames) / seconds : 0.0},
              {"payload_bytes_per_s", seconds > 0 ? static_cast<double>(payload_bytes) / seconds : 0.0}};
  if (auto info = read_tcp_info(socket.native_handle())) observed["tcp_info"] = describe(*info);

  const bool delimiter = config.codec == CodecKind::delimiter;
  const std::size_t n = config.messages;
  result.add_check({.id = delimiter ? "delimiter-restores-boundaries" : "length-restores-boundaries",
                    .claim = delimiter ? "粘包的解决: a delimiter after each message restores the boundaries"
                              : "粘包的解决: a length header before each message restores the boundaries",
                    .expected = std::to_string(n) + " frames counted by the server, with our sizes and bytes",
                    .observed = std::to_string(frames) + " frames counted, " + std::to_string(number("payload_bytes")) + " of " +
                        std::to_string(payload_bytes) + " payload bytes, frame tally (sizes and CRC-32C) " +
                        (same_tally ? "equal" : "different"),
                    .verdict = same ? Verdict::confirmed : Verdict::refuted,
                    .evidence = "--one-way: the server's frame count and its tally of every frame's size and CRC-32C, "
                    "against ours"});
}

template <typename Codec>
awaitable<void> run_framed(tcp::socket& socket, Codec codec, const Config& config, Progress& progress, Result& result) {
  if (config.one_way)
    co_await run_one_way(socket, std::move(codec), config, progress, result);
  else
    co_await run_echo(socket, std::move(codec), config, progress, result);
}

awaitable<void> run_lab(const CommonOptions& options, const Config& config, Progress& progress, Result& result) {
  tcp::socket socket = co_await connect_to(options.host, options.port, "netlab-framing-server");
  // Nagle's algorithm holds small writes back while data is unacknowledged, which
  // merges them into one segment; TCP_NODELAY sends each write at once.
  if (config.nodelay) socket.set_option(tcp::no_delay(true));
  const std::string who = describe_connection(socket);
  spdlog::info("UP   {}", who);
  switch (config.codec) {
    case CodecKind::raw:
      co_await run_raw(socket, config, progress, result);
      break;
    case CodecKind::delimiter:
      co_await run_framed(socket, DelimiterCodec('\n', std::max(config.max_size, DelimiterCodec::default_max_frame)),
                          config, progress, result);
      break;
    case CodecKind::length:
      co_await run_framed(socket, LengthHeaderCodec(std::max(config.max_size, LengthHeaderCodec::default_max_frame)),
                          config, progress, result);
      break;
  }
  spdlog::info("DOWN {}", who);
}

void print_summary(std::ostream& out, const Config& config, const Result& result) {
  const auto& o = result.observed();
  out << "netlab-framing-client --codec " << codec_name(config.codec) << ": " << config.messages
            << " messages of " << config.min_size << ".." << config.max_size << " bytes"
            << (config.nodelay ? ", TCP_NODELAY" : "") << (config.one_way ? ", one-way" : "") << "\n";
  if (config.one_way)
    out << "  frames counted by the server " << o.at("frames_counted_by_server") << ", "
              << static_cast<long>(o.at("messages_per_s").as_double()) << " messages/s, "
              << static_cast<long>(o.at("payload_bytes_per_s").as_double() / 1e6) << " MB/s of payload\n";
  else if (config.codec == CodecKind::raw)
    out << "  writes " << o.at("writes") << ", server reads " << o.at("reads") << ", merged reads "
              << o.at("merged_reads") << ", split writes " << o.at("split_writes") << ", exact reads "
              << o.at("exact_reads") << "\n";
  else
    out << "  echoed intact " << o.at("intact") << ", mismatches " << o.at("mismatches") << ", missing "
              << o.at("missing") << ", " << static_cast<long>(o.at("messages_per_s").as_double())
              << " messages/s\n";
  out << render_checks(result.checks());
}

}  // namespace

int main(int argc, char** argv) {
  ClientProgram program("framing", "The 粘包 lab's client: many small writes, then boundaries compared.", 7006, 60);
  auto& app = program.app();
  Config config;
  app.add_option("--codec", config.codec, "raw | delimiter | length")
      ->transform(CLI::CheckedTransformer(codec_kinds()))
      ->capture_default_str();
  app.add_option("--messages", config.messages, "messages to send")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{100'000}));
  app.add_option("--min-size", config.min_size, "smallest message, bytes")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{0}, std::size_t{1} << 20));
  app.add_option("--max-size", config.max_size, "largest message, bytes (delimiter: at most 65536)")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{0}, std::size_t{1} << 20));
  app.add_flag("--nodelay", config.nodelay, "set TCP_NODELAY (turn Nagle's algorithm off)");
  app.add_flag("--one-way", config.one_way,
               "delimiter/length: no echo; compare the server's tally at the end (server: --one-way)");
  program.check_usage([&] {
    if (config.one_way && config.codec == CodecKind::raw)
      throw UsageError("--one-way needs --codec delimiter or length (raw is one-way already)");
    if (config.min_size > config.max_size) throw UsageError("--min-size must not exceed --max-size (see --help)");
    if (config.codec == CodecKind::delimiter && config.max_size > DelimiterCodec::default_max_frame)
      throw UsageError("--max-size is at most 65536 with --codec delimiter (the server's default --max-frame)");
  });
  return program.run(argc, argv, [&](ClientRun& run) {
    config.seed = run.options().seed;
    Result& result = run.result();
    result.set_params(boost::json::object{{"codec", codec_name(config.codec)}, {"messages", config.messages},
                                          {"min_size", config.min_size},       {"max_size", config.max_size},
                                          {"nodelay", config.nodelay},         {"one_way", config.one_way},
                                          {"seed", config.seed}});
    Progress progress;
    run.within(run_lab(run.options(), config, progress, result), [&] {
      return "sent " + std::to_string(progress.sent) + ", received " + std::to_string(progress.received);
    });
    run.summary([&](std::ostream& out) { print_summary(out, config, result); });
    if (config.codec != CodecKind::raw && result.checks().front().verdict != Verdict::confirmed)
      run.fail(config.one_way ? "the server's tally did not match what was sent" : "echoes did not match what was sent");
  });
}
