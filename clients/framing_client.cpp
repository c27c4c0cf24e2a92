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
//   --write-write-read N  (length) N requests written as a header write and a
//                      body write, then a wait for the echo: with Nagle on,
//                      each waits for the server's delayed ACK; timed beside
//                      TCP_NODELAY, one writev and TCP_CORK (framing/stall.cpp).
// The verdicts come from those counts, measured in this run.
#include "format.hpp"
#include "framing/framing.hpp"
#include "program/client.hpp"

#include <spdlog/spdlog.h>
#include <boost/describe/class.hpp>

#include <iostream>

namespace {

using namespace netlab;
using namespace netlab::framing;

const ProgramInfo program_info{"framing", "The 粘包 lab's client: many small writes, then boundaries compared.", 7006,
                               60};

// The result's "params": this run's options.
struct Params {
  std::string codec;
  std::size_t messages = 0, min_size = 0, max_size = 0;
  bool nodelay = false, one_way = false;
  std::size_t write_write_read = 0;
  std::uint64_t seed = 0;
};
BOOST_DESCRIBE_STRUCT(Params, (), (codec, messages, min_size, max_size, nodelay, one_way, write_write_read, seed))

asio::awaitable<void> run_lab(const CommonOptions& options, const Config& config, Progress& progress,
                              Observed& observed) {
  if (config.write_write_read > 0) {
    co_await run_stall(options.host, options.port, config, progress, observed.stall.emplace());
    co_return;
  }
  tcp::socket socket = co_await connect_to(options.host, options.port, "netlab-framing-server");
  // Nagle's algorithm holds small writes back while data is unacknowledged, which
  // merges them into one segment; TCP_NODELAY sends each write at once.
  if (config.nodelay) socket.set_option(tcp::no_delay(true));
  const std::string who = describe_connection(socket);
  spdlog::info("UP   {}", who);
  if (config.codec == CodecKind::raw)
    co_await run_raw(socket, config, progress, observed.raw.emplace());
  else
    co_await run_framed(socket, config, progress, observed);
  spdlog::info("DOWN {}", who);
}

void print_summary(std::ostream& out, const Config& config, const Observed& o) {
  if (o.stall)
    out << "netlab-framing-client --codec length --write-write-read " << config.write_write_read
        << ": requests of a 4-byte header and a " << o.stall->body_bytes << "-byte body, two writes each, four ways\n";
  else
    out << "netlab-framing-client --codec " << codec_name(config.codec) << ": " << config.messages << " messages of "
        << config.min_size << ".." << config.max_size << " bytes" << (config.nodelay ? ", TCP_NODELAY" : "")
        << (config.one_way ? ", one-way" : "") << "\n";
  if (o.one_way)
    out << "  frames counted by the server " << o.one_way->frames_counted_by_server << ", "
        << static_cast<long>(o.one_way->messages_per_s) << " messages/s, "
        << static_cast<long>(o.one_way->payload_bytes_per_s / 1e6) << " MB/s of payload\n";
  else if (o.raw)
    out << "  writes " << o.raw->writes << ", server reads " << o.raw->reads << ", merged reads " << o.raw->merged_reads
        << ", split writes " << o.raw->split_writes << ", exact reads " << o.raw->exact_reads << "\n";
  else if (o.stall)
    for (const auto& v : o.stall->variants)
      out << "  " << v.name << ": median " << fixed(v.median_ms, 2) << " ms, max " << fixed(v.max_ms, 2)
          << " ms per request" << (v.delayed_acks ? ", delayed ACKs " + std::to_string(*v.delayed_acks) : "") << "\n";
  else if (o.echo)
    out << "  echoed intact " << o.echo->intact << ", mismatches " << o.echo->mismatches << ", missing "
        << o.echo->missing << ", " << static_cast<long>(o.echo->messages_per_s) << " messages/s\n";
}

}  // namespace

int framing_client(ClientProgram& program, CLI::App& app, Config& config) {
  app.add_option("--codec", config.codec, "raw | delimiter | length")
      ->transform(CLI::CheckedTransformer(codec_kinds()))
      ->capture_default_str();
  add_bounded_option(app, "--messages", config.messages, "messages to send", std::size_t{1}, std::size_t{100'000});
  add_bounded_option(app, "--min-size", config.min_size, "smallest message, bytes", std::size_t{0},
                     std::size_t{1} << 20);
  add_bounded_option(app, "--max-size", config.max_size, "largest message, bytes (delimiter: at most 65536)",
                     std::size_t{0}, std::size_t{1} << 20);
  app.add_flag("--nodelay", config.nodelay, "set TCP_NODELAY (turn Nagle's algorithm off)");
  app.add_flag("--one-way", config.one_way,
               "delimiter/length: no echo; compare the server's tally at the end (server: --one-way)");
  app.add_option("--write-write-read", config.write_write_read,
                 "length: instead of the stream, N requests as two writes each (header, body), timed with Nagle, "
                 "TCP_NODELAY, one writev and TCP_CORK")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1000}));
  app.add_option("--loopback-result", config.loopback_result,
                 "--write-write-read across a wire: the loopback run's result, set beside this one in the check")
      ->check(CLI::ExistingFile);
  program.check_usage([&] {
    if (!config.loopback_result.empty() && config.write_write_read == 0)
      throw UsageError("--loopback-result goes with --write-write-read");
    if (config.write_write_read > 0 && (config.codec != CodecKind::length || config.one_way))
      throw UsageError("--write-write-read needs --codec length and no --one-way (the server echoes each request)");
    if (config.one_way && config.codec == CodecKind::raw)
      throw UsageError("--one-way needs --codec delimiter or length (raw is one-way already)");
    if (config.min_size > config.max_size) throw UsageError("--min-size must not exceed --max-size (see --help)");
    if (config.codec == CodecKind::delimiter && config.max_size > DelimiterCodec::default_max_frame)
      throw UsageError("--max-size is at most 65536 with --codec delimiter (the server's default --max-frame)");
  });
  Observed observed;  // kept here: the summary reads it after the body has returned
  return program.run([&](ClientRun& run) {
    config.seed = run.options().seed;
    Result& result = run.result();
    result.set_params(Params{.codec = std::string(codec_name(config.codec)),
                             .messages = config.messages,
                             .min_size = config.min_size,
                             .max_size = config.max_size,
                             .nodelay = config.nodelay,
                             .one_way = config.one_way,
                             .write_write_read = config.write_write_read,
                             .seed = config.seed});
    Progress progress;
    run.within(run_lab(run.options(), config, progress, observed), [&] {
      return "sent " + std::to_string(progress.sent) + ", received " + std::to_string(progress.received);
    });
    if (observed.stall) {
      result.set_observed(*observed.stall);
      stall_checks(*observed.stall, result);
    } else if (observed.raw) {
      result.set_observed(*observed.raw);
      raw_checks(*observed.raw, result);
    } else if (observed.echo) {
      result.set_observed(*observed.echo);
      echo_checks(config, *observed.echo, result);
    } else if (observed.one_way) {
      result.set_observed(*observed.one_way);
      one_way_checks(config, *observed.one_way, result);
    }
    run.summary([&](std::ostream& out) { print_summary(out, config, observed); });
    if (config.codec != CodecKind::raw && !observed.stall && result.checks().front().verdict != Verdict::confirmed)
      run.fail(config.one_way ? "the server's tally did not match what was sent"
                              : "echoes did not match what was sent");
  });
}

int main(int argc, char** argv) { return run_lab(argc, argv, program_info, framing_client); }
