// netlab-rpc-client — the rpc lab's client (http和rpc).
//
// Makes the same N calls (a seeded mix of put / get / add on a few keys) to the
// same service over HTTP/1.1 + JSON and over the binary RPC, each on one
// persistent connection: first one call at a time, then pipelined (a batch of
// W calls written at once, then their W answers read). It counts every byte it
// writes and reads (headers and length prefixes included), times every call,
// and checks that both transports gave the same results. Verdicts on "RPC
// carries less" and "RPC is faster" come from the ratios measured here.
// --transport all adds gRPC (the server's --grpc-port): the same calls one at a
// time and as concurrent streams on one HTTP/2 connection (clients/rpc/); its
// bytes are read from the capture afterwards (--grpc-capture), since gRPC owns
// its socket.
#include "format.hpp"
#include "io/net.hpp"
#include "io/stats.hpp"
#include "observed.hpp"
#include "program/client.hpp"
#include "program/logging.hpp"
#include "program/options.hpp"
#include "program/result.hpp"
#include "proto/codec.hpp"
#include "proto/rpc_protocol.hpp"
#include "rpc/grpc_runs.hpp"

#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/describe/class.hpp>

#include <iomanip>
#include <iostream>
#include <optional>
#include <random>
#include <sstream>

namespace {

using namespace netlab;
using asio::awaitable;
namespace beast = boost::beast;
namespace http = beast::http;
// A run holds one connection and waits for its answers before it does
// anything else, so it talks through a BlockingSocket: one send and one recv
// per round trip, no event loop in between, each wait bounded by the
// --max-seconds deadline. Both transports go the same way, so the comparison
// stays one of protocols, not of I/O styles (docs/performance.md,
// request/response row).

enum class Transport { http, binary, grpc, both, all };  // both: http and binary; all: and gRPC

const ProgramInfo program_info{
    "rpc", "The rpc lab's client: the same calls over HTTP/1.1+JSON, a binary RPC and gRPC, measured.", 7007, 120};

struct Config {
  Transport transport = Transport::both;
  std::size_t calls = 2000;
  std::size_t pipeline = 16;
  std::size_t keys = 32;
  std::uint16_t grpc_port = 7008;
  std::string grpc_capture;  // judge this capture of grpc_port instead of calling
  std::string compare;       // with grpc_capture: the calls' own result, for the bytes of the other transports
};

// The result's "params": this run's options.
struct Params {
  std::string transport;  // http, binary, grpc, both or all
  std::size_t calls = 0, pipeline = 0, keys = 0;
  std::uint64_t seed = 0;
  std::string host;
};
BOOST_DESCRIBE_STRUCT(Params, (), (transport, calls, pipeline, keys, seed, host))

using rpc_lab::Run;

// The seeded call mix; keys get a per-run prefix so every run starts from an empty store.
std::vector<rpc::Request> plan_calls(const Config& config, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> kind(0, 9);
  std::uniform_int_distribution<std::size_t> key(0, config.keys - 1);
  std::uniform_int_distribution<std::int64_t> value(-1000, 1000);
  std::vector<rpc::Request> calls;
  for (std::size_t i = 0; i < config.calls; ++i) {
    const int k = kind(rng);
    const auto method = k < 3 ? rpc::Method::put : k < 7 ? rpc::Method::get : rpc::Method::add;
    calls.push_back({static_cast<std::uint32_t>(i + 1), method, "k" + std::to_string(key(rng)), value(rng)});
  }
  return calls;
}

std::string run_prefix(char letter) {
  static const std::uint32_t nonce = std::random_device{}();  // namespaces this client's keys on a shared server
  std::ostringstream out;
  out << 'r' << std::hex << std::setw(8) << std::setfill('0') << nonce << letter << '-';
  return out.str();
}

double micros(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

// ---- binary ------------------------------------------------------------------

void run_binary(BlockingSocket& socket, const std::vector<rpc::Request>& calls, const std::string& prefix, Run& run) {
  LengthHeaderCodec codec(rpc::max_frame);
  std::array<char, 65536> chunk;
  std::string batch;
  // Call i has request id i + 1 (plan_calls): an answer finds its call by its id.
  std::vector<bool> waiting(calls.size(), false);
  run.results.resize(calls.size());
  run.latencies_us.resize(calls.size());
  for (std::size_t first = 0; first < calls.size(); first += run.window) {
    const std::size_t last = std::min(first + run.window, calls.size());
    batch.clear();
    for (std::size_t i = first; i < last; ++i) {
      rpc::Request request = calls[i];
      request.key = prefix + request.key;
      rpc::encode_request(request, batch);
      waiting[i] = true;
    }
    const auto sent = Clock::now();
    boost::system::error_code write_ec;
    asio::write(socket, asio::buffer(batch), write_ec);
    if (write_ec) throw failure("write calls", write_ec);
    run.bytes_out += batch.size();
    // Answers carry the request id: match each to its call, whatever the order.
    std::size_t expected_next = first, outstanding = last - first;
    while (outstanding > 0) {
      boost::system::error_code read_ec;
      const std::size_t got = socket.read_some(asio::buffer(chunk), read_ec);
      if (read_ec) throw failure("read answers", read_ec);
      run.bytes_in += got;
      const auto arrived = Clock::now();
      const auto error = codec.decode_each({chunk.data(), got}, [&](std::string_view body) {
        rpc::Response response;
        if (auto bad = rpc::decode_response(body, response)) throw std::runtime_error("answer: " + *bad);
        const std::size_t i = response.id - std::size_t{1};
        if (response.id == 0 || i >= calls.size() || !waiting[i])
          throw std::runtime_error("answer for id " + std::to_string(response.id) + ", which no call is waiting for");
        run.answered_out_of_order += i != expected_next;
        ++expected_next;
        run.results[i] = std::move(response);
        run.latencies_us[i] = micros(arrived - sent);
        waiting[i] = false;
        --outstanding;
      });
      if (error) throw std::runtime_error("answers: " + error->message);
    }
  }
}

// ---- HTTP/1.1 + JSON ------------------------------------------------------------

std::string serialize(const rpc::Request& call, const std::string& key, const std::string& host) {
  http::request<http::string_body> req{http::verb::post, "/rpc/" + std::string(rpc::method_name(call.method)), 11};
  req.set(http::field::host, host);
  req.set(http::field::user_agent, "netlab-rpc-client/0.1");
  req.set(http::field::content_type, "application/json");
  rpc::Request named = call;
  named.key = key;
  req.body() = rpc::json_request_body(named);
  req.prepare_payload();
  std::ostringstream out;
  out << req;
  return out.str();
}

void run_http(BlockingSocket& socket, const std::vector<rpc::Request>& calls, const std::string& prefix,
              const std::string& host, Run& run) {
  beast::flat_buffer buffer;
  std::string batch;
  run.results.resize(calls.size());
  run.latencies_us.resize(calls.size());
  for (std::size_t first = 0; first < calls.size(); first += run.window) {
    const std::size_t last = std::min(first + run.window, calls.size());
    batch.clear();
    for (std::size_t i = first; i < last; ++i) batch += serialize(calls[i], prefix + calls[i].key, host);
    const auto sent = Clock::now();
    boost::system::error_code ec;
    const std::size_t n = asio::write(socket, asio::buffer(batch), ec);
    if (ec) throw failure("write requests", ec);
    run.bytes_out += n;
    // HTTP/1.1 has no request id: the answers come back strictly in order.
    for (std::size_t i = first; i < last; ++i) {
      http::response_parser<http::string_body> parser;
      parser.body_limit(rpc::max_frame);
      boost::system::error_code read_ec;
      const std::size_t used = http::read(socket, buffer, parser, read_ec);
      if (read_ec) throw failure("read response", read_ec);
      run.bytes_in += used;
      run.latencies_us[i] = micros(Clock::now() - sent);
      rpc::Response response;
      if (auto error = rpc::parse_json_response(parser.get().body(), response))
        throw std::runtime_error("response " + std::to_string(parser.get().result_int()) + ": " + *error);
      response.id = calls[i].id;
      run.results[i] = response;
    }
  }
}

awaitable<void> run_one(const CommonOptions& options, Clock::time_point deadline,
                        const std::vector<rpc::Request>& calls, Run& run, char letter) {
  tcp::socket connection = co_await connect_to(options.host, options.port, "netlab-rpc-server");
  ++run.connections;
  connection.set_option(tcp::no_delay(true));  // latency per call, not Nagle's batching
  const std::string who = describe_connection(connection);
  spdlog::info("UP   {} ({}, window {})", who, run.transport, run.window);
  BlockingSocket socket(connection, deadline);
  const auto started = Clock::now();
  if (run.transport == "binary")
    run_binary(socket, calls, run_prefix(letter), run);
  else
    run_http(socket, calls, run_prefix(letter), options.host + ":" + std::to_string(options.port), run);
  run.seconds = std::chrono::duration<double>(Clock::now() - started).count();
  spdlog::info("DOWN {}", who);
}

// One run as the result shows it.
struct RunRow {
  std::string transport;
  std::size_t window = 0, calls = 0, connections = 0;
  double seconds = 0, calls_per_s = 0, latency_p50_us = 0, latency_p99_us = 0;
  std::size_t bytes_out = 0, bytes_in = 0;
  double bytes_out_per_call = 0, bytes_in_per_call = 0;
  std::size_t answered_out_of_order = 0;
  bool bytes_counted = true;  // false: gRPC's bytes are counted on the wire (--grpc-capture)
};
BOOST_DESCRIBE_STRUCT(RunRow, (),
                      (transport, window, calls, connections, seconds, calls_per_s, latency_p50_us, latency_p99_us,
                       bytes_out, bytes_in, bytes_out_per_call, bytes_in_per_call, answered_out_of_order,
                       bytes_counted))

RunRow row(const Run& run) {
  return {.transport = run.transport,
          .window = run.window,
          .calls = run.results.size(),
          .connections = run.connections,
          .seconds = run.seconds,
          .calls_per_s = run.rate(),
          .latency_p50_us = percentile(run.latencies_us, 50),
          .latency_p99_us = percentile(run.latencies_us, 99),
          .bytes_out = run.bytes_out,
          .bytes_in = run.bytes_in,
          .bytes_out_per_call = run.per_call(run.bytes_out),
          .bytes_in_per_call = run.per_call(run.bytes_in),
          .answered_out_of_order = run.answered_out_of_order,
          .bytes_counted = run.bytes_counted};
}

// What the run observed (the result's "observed"); the ratios where both transports ran.
struct Observed {
  std::vector<RunRow> runs{};
  std::size_t result_mismatches = 0;
  std::optional<double> byte_ratio{}, rate_ratio{}, pipelined_rate_ratio{};

  friend void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const Observed& o) {
    v = present_members(o);
  }
};
BOOST_DESCRIBE_STRUCT(Observed, (), (runs, result_mismatches, byte_ratio, rate_ratio, pipelined_rate_ratio))

const Run* find(const std::vector<Run>& runs, std::string_view transport, bool pipelined) {
  for (const auto& r : runs)
    if (r.transport == transport && (r.window > 1) == pipelined) return &r;
  return nullptr;
}

void add_checks(const std::vector<Run>& runs, Observed& o, Result& result) {
  // The same calls must give the same outcomes, whichever way they travelled.
  std::size_t mismatches = 0, compared = 0;
  for (const auto& run : runs)
    for (std::size_t i = 0; i < run.results.size(); ++i, ++compared)
      mismatches += !rpc::same_outcome(run.results[i], runs.front().results[i]);
  o.result_mismatches = mismatches;
  result.add_check({.id = "same-results",
                    .claim = "one service, two transports: the same calls give the same results",
                    .expected = "every run's results equal, call by call",
                    .observed = std::to_string(compared - mismatches) + " of " + std::to_string(compared) +
                                " results equal over " + std::to_string(runs.size()) + " runs",
                    .verdict = mismatches == 0 ? Verdict::confirmed : Verdict::refuted,
                    .evidence = "status and value of every call compared with the first run's"});

  const Run* http_seq = find(runs, "http+json", false);
  const Run* bin_seq = find(runs, "binary", false);
  if (!http_seq || !bin_seq) return;
  const double http_bytes = http_seq->per_call(http_seq->bytes_out + http_seq->bytes_in);
  const double bin_bytes = bin_seq->per_call(bin_seq->bytes_out + bin_seq->bytes_in);
  const double byte_ratio = bin_bytes > 0 ? http_bytes / bin_bytes : 0;
  o.byte_ratio = byte_ratio;
  result.add_check(
      {.id = "rpc-fewer-bytes",
       .claim = "RPC carries less per call than HTTP+JSON",
       .expected = "fewer bytes per call (both directions, headers included) over the binary RPC",
       .observed = "HTTP+JSON " + fixed(http_bytes) + " B/call (" + fixed(http_seq->per_call(http_seq->bytes_out)) +
                   " out, " + fixed(http_seq->per_call(http_seq->bytes_in)) + " in), binary " + fixed(bin_bytes) +
                   " B/call: HTTP+JSON carries x" + fixed(byte_ratio, 2) +
                   (find(runs, "grpc", false) ? "; gRPC's bytes are counted on the wire (grpc-is-http2)" : ""),
       .verdict = bin_bytes < http_bytes ? Verdict::confirmed : Verdict::refuted,
       .evidence = "bytes written to and read from the socket by this client, counted per call"});

  const double rate_ratio = http_seq->rate() > 0 ? bin_seq->rate() / http_seq->rate() : 0;
  o.rate_ratio = rate_ratio;
  std::string observed = "one call at a time: binary " + fixed(bin_seq->rate(), 0) + " calls/s, HTTP+JSON " +
                         fixed(http_seq->rate(), 0) + " calls/s (x" + fixed(rate_ratio, 2) + ")";
  const Run* http_pipe = find(runs, "http+json", true);
  const Run* bin_pipe = find(runs, "binary", true);
  if (http_pipe && bin_pipe && http_pipe->rate() > 0) {
    const double pipelined_ratio = bin_pipe->rate() / http_pipe->rate();
    o.pipelined_rate_ratio = pipelined_ratio;
    observed += "; pipelined: binary " + fixed(bin_pipe->rate(), 0) + ", HTTP+JSON " + fixed(http_pipe->rate(), 0) +
                " (x" + fixed(pipelined_ratio, 2) + ")";
  }
  // gRPC is an RPC that runs over HTTP (HTTP/2): beside HTTP/1.1+JSON it
  // changes the serialization (protobuf), the headers (HPACK) and lets calls
  // share a connection as streams. Its rates say what that buys here.
  std::string grpc_evidence;
  if (const Run* grpc_seq = find(runs, "grpc", false); grpc_seq && http_seq->rate() > 0) {
    observed += "; gRPC (HTTP/2 + protobuf): " + fixed(grpc_seq->rate(), 0) + " calls/s one at a time (x" +
                fixed(grpc_seq->rate() / http_seq->rate(), 2) + " of HTTP+JSON)";
    grpc_evidence =
        "; gRPC is HTTP too (HTTP/2): against HTTP/1.1+JSON it differs in serialization, header "
        "compression and multiplexing, and ran x" +
        fixed(grpc_seq->rate() / http_seq->rate(), 2) + " its calls/s one at a time";
    if (const Run* grpc_streams = find(runs, "grpc", true)) {
      observed += ", " + fixed(grpc_streams->rate(), 0) + " with " + std::to_string(grpc_streams->window) +
                  " concurrent streams on " + std::to_string(grpc_streams->connections) + " connection(s)";
      if (http_pipe && http_pipe->rate() > 0)
        grpc_evidence += ", x" + fixed(grpc_streams->rate() / http_pipe->rate(), 2) + " pipelined HTTP/1.1's with " +
                         std::to_string(grpc_streams->window) + " concurrent streams";
    }
  }
  const Verdict verdict = rate_ratio >= 1.5   ? Verdict::confirmed
                          : rate_ratio >= 1.0 ? Verdict::nuanced
                                              : Verdict::refuted;
  result.add_check(
      {.id = "rpc-faster",
       .claim = "RPC is faster than HTTP",
       .expected = "binary at least 1.5x the calls/s of HTTP+JSON, one call at a time on a kept-alive connection",
       .observed = observed,
       .verdict = verdict,
       .evidence = verdict == Verdict::confirmed
                       ? "calls/s measured in this run; both transports kept one connection open" + grpc_evidence
                       : "HTTP/1.1 keep-alive comes close: with the connection reused, what is left is parsing "
                         "and bytes, and a round trip costs the same either way" +
                             grpc_evidence});
}

void print_summary(std::ostream& out, const Config& config, const std::vector<Run>& runs) {
  out << "netlab-rpc-client: " << config.calls << " calls each run, pipeline window " << config.pipeline << "\n"
      << "  transport  window   calls/s   p50 us   p99 us  B/call out  B/call in  connections\n";
  for (const auto& run : runs)
    out << "  " << std::left << std::setw(10) << run.transport << std::right << std::setw(7) << run.window
        << std::setw(10) << fixed(run.rate(), 0) << std::setw(9) << fixed(percentile(run.latencies_us, 50), 0)
        << std::setw(9) << fixed(percentile(run.latencies_us, 99), 0) << std::setw(12)
        << (run.bytes_counted ? fixed(run.per_call(run.bytes_out)) : "wire") << std::setw(11)
        << (run.bytes_counted ? fixed(run.per_call(run.bytes_in)) : "wire") << std::setw(13) << run.connections << "\n";
}

}  // namespace

int rpc_client(ClientProgram& program, CLI::App& app, Config& config) {
  app.add_option("--transport", config.transport, "http | binary | grpc | both (http and binary) | all")
      ->transform(CLI::CheckedTransformer(std::map<std::string, Transport>{{"http", Transport::http},
                                                                           {"binary", Transport::binary},
                                                                           {"grpc", Transport::grpc},
                                                                           {"both", Transport::both},
                                                                           {"all", Transport::all}}))
      ->capture_default_str();
  app.add_option("--grpc-port", config.grpc_port, "the server's gRPC port (its --grpc-port)")->capture_default_str();
  app.add_option("--grpc-capture", config.grpc_capture,
                 "make no calls: judge grpc-is-http2 in this capture of --grpc-port, and count gRPC's bytes there");
  app.add_option("--compare", config.compare,
                 "with --grpc-capture: this client's JSON of the same calls, to set gRPC's bytes beside theirs");
  add_bounded_option(app, "--calls", config.calls, "calls in each run", std::size_t{1}, std::size_t{100'000});
  add_bounded_option(app, "--pipeline", config.pipeline,
                     "calls written at once in the pipelined runs (1 = no pipelined run)", std::size_t{1},
                     std::size_t{1024});
  add_bounded_option(app, "--keys", config.keys, "distinct keys the calls use", std::size_t{1}, std::size_t{1000});
  // Kept outside the body: the summary reads them after the body has returned.
  std::vector<Run> runs;
  return program.run([&](ClientRun& lab) {
    const auto& options = lab.options();
    Result& result = lab.result();
    if (!config.grpc_capture.empty()) {
      rpc_lab::judge_grpc_capture(config.grpc_capture, config.grpc_port, config.compare, result);
      return;
    }
    const auto uses = [&](Transport t) {
      return config.transport == t || config.transport == Transport::all ||
             (config.transport == Transport::both && t != Transport::grpc);
    };
    result.set_params(Params{.transport = config.transport == Transport::http     ? "http"
                                          : config.transport == Transport::binary ? "binary"
                                          : config.transport == Transport::grpc   ? "grpc"
                                          : config.transport == Transport::both   ? "both"
                                                                                  : "all",
                             .calls = config.calls,
                             .pipeline = config.pipeline,
                             .keys = config.keys,
                             .seed = options.seed,
                             .host = options.host});
    const auto calls = plan_calls(config, options.seed);
    for (std::size_t window : {std::size_t{1}, config.pipeline}) {
      if (window == 1 && !runs.empty()) break;  // --pipeline 1: sequential only
      if (uses(Transport::http)) runs.push_back({.transport = "http+json", .window = window});
      if (uses(Transport::binary)) runs.push_back({.transport = "binary", .window = window});
    }
    // gRPC's runs come last: one call at a time, then `pipeline` concurrent streams.
    for (std::size_t window : {std::size_t{1}, config.pipeline}) {
      if (window == 1 && !runs.empty() && runs.back().transport == "grpc") break;  // --pipeline 1
      if (uses(Transport::grpc)) runs.push_back({.transport = "grpc", .window = window});
    }
    const auto deadline =
        Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options.max_seconds));
    const auto all_runs = [&]() -> awaitable<void> {
      char letter = 'a';
      for (auto& run : runs) {
        if (run.transport == "grpc")
          rpc_lab::run_grpc(options.host, config.grpc_port, calls, run_prefix(letter++), deadline, run);
        else
          co_await run_one(options, deadline, calls, run, letter++);
      }
    };
    try {
      lab.within(all_runs());
    } catch (const StepError& e) {
      // run_one's own deadline ends a read or write with timed_out.
      if (e.code() == asio::error::timed_out)
        throw std::runtime_error(e.step() + ": no answer before --max-seconds ran out");
      throw;
    }
    Observed observed;
    for (const auto& run : runs) observed.runs.push_back(row(run));
    add_checks(runs, observed, result);
    if (uses(Transport::grpc)) rpc_lab::add_grpc_same_results(runs, calls, result);
    result.set_observed(observed);
    lab.summary([&](std::ostream& out) { print_summary(out, config, runs); });
    if (result.checks().front().verdict != Verdict::confirmed) lab.fail("the transports gave different results");
  });
}

int main(int argc, char** argv) { return run_lab(argc, argv, program_info, rpc_client); }
