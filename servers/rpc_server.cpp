// netlab-rpc-server — the rpc lab's server (http和rpc).
//
// One service, a small key-value store (put, get, add), offered two ways on
// ONE port (7007); the first byte a client sends decides which:
//   0x00            a binary RPC: length-framed (LengthHeaderCodec), each frame
//                   request id | method id | key | value. A frame under 16 MiB
//                   always starts with a zero byte.
//   anything else   HTTP/1.1 + JSON: POST /rpc/<method> {"key":..,"value":..}
//                   (a request starts with a method name in ASCII letters).
// Both keep the connection open for many calls. Binary answers carry the
// request's id, so a client may pipeline; every answer completed by one read
// goes back in one write. HTTP/1.1 pipelining works too, answered strictly in order.
// Bad input never stops the server: an unknown method id, a bad field or
// invalid JSON get an error answer; an oversized frame or body, a frame too
// short to hold an id, or a stream cut inside a frame close that connection only.
//
// With --grpc-port, the same store is also a gRPC service (common/proto/kv.proto)
// on a port of its own: HTTP/2, each call a stream, served by gRPC's own
// bounded threads (common/grpc). gRPC answers a malformed message itself
// (grpc-status in the trailers, or RST_STREAM) and keeps serving.
#include "grpc/kv_grpc.hpp"
#include "io/coro.hpp"
#include "program/readiness.hpp"
#include "program/server.hpp"
#include "proto/codec.hpp"
#include "proto/http_basics.hpp"
#include "proto/http_routes.hpp"
#include "proto/http_session.hpp"
#include "proto/rpc_protocol.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <iostream>
#include <optional>

namespace {

using namespace netlab;
using asio::awaitable;
namespace beast = boost::beast;
namespace http = beast::http;

const ProgramInfo program_info{
    "rpc", "The rpc lab's server: one key-value service over HTTP/1.1+JSON and a binary RPC, on one port.", 7007};

struct Config {
  double idle_timeout = 30;
  std::size_t max_frame = rpc::max_frame;    // binary frame and HTTP body cap
  std::optional<std::uint16_t> grpc_port{};  // unset: no gRPC; 0: the kernel picks
  std::string grpc_port_file;
  grpc_kv::ServerLimits grpc_limits{};
};

struct Counters {
  std::size_t connections = 0, binary_connections = 0, http_connections = 0;  // all, then by what they spoke
  std::size_t binary_calls = 0, http_calls = 0;
  std::size_t error_answers = 0;     // calls answered with an error status
  std::size_t closed_for_input = 0;  // connections closed because of what they sent
  std::size_t idle_timeouts = 0;
};
BOOST_DESCRIBE_STRUCT(Counters, (),
                      (connections, binary_connections, http_connections, binary_calls, http_calls, error_answers,
                       closed_for_input, idle_timeouts))

// ---- binary RPC -------------------------------------------------------------

awaitable<std::string> serve_binary(beast::tcp_stream& stream, std::string first_bytes, const Config& config,
                                    rpc::KeyValueStore& store, Counters& counters, const std::string& who) {
  ++counters.binary_connections;
  // One idle watch for the connection, not a timer armed for every read: that
  // cost two timerfd_settime calls per call, a third of the server's system
  // calls per round trip (docs/performance.md, request/response row).
  stream.expires_never();
  IdleTimeout idle(stream.socket(), config.idle_timeout, who);
  LengthHeaderCodec codec(config.max_frame);
  std::string answers;
  std::array<char, 65536> chunk;
  std::string_view received = first_bytes;
  for (;;) {
    answers.clear();
    const char* close_for = nullptr;  // a frame too short for an id: nothing to answer to
    const auto framing_error = codec.decode_each(received, [&](std::string_view body) {
      if (close_for) return;
      rpc::Request request;
      if (auto bad = rpc::decode_request(body, request)) {
        if (!bad->id) {
          ++counters.closed_for_input;
          spdlog::warn("{}: {} — closing", who, bad->message);
          close_for = "frame without an id";
          return;
        }
        ++counters.error_answers;
        spdlog::debug("{}: call {}: {}", who, *bad->id, bad->message);
        rpc::encode_response({*bad->id, bad->status, 0, bad->message}, answers);
        return;
      }
      ++counters.binary_calls;
      const auto response = store.call(request);
      if (response.status != rpc::Status::ok) ++counters.error_answers;
      rpc::encode_response(response, answers);
    });
    if (close_for) co_return close_for;
    // Every call this read completed is answered in one write.
    if (!answers.empty()) {
      if (auto ec = co_await write_all(stream.socket(), asio::buffer(answers))) co_return "write: " + ec.message();
    }
    if (framing_error) {
      // After a bad length header nothing later in the stream can be trusted: stop parsing.
      ++counters.closed_for_input;
      spdlog::warn("{}: {} — closing", who, framing_error->message);
      co_return "framing error";
    }
    auto [ec, n] = co_await stream.socket().async_read_some(asio::buffer(chunk), use_tuple);
    if (idle.expired()) {
      ++counters.idle_timeouts;
      co_return "idle timeout";
    }
    if (ec == asio::error::eof) {
      if (auto error = codec.finish()) {
        ++counters.closed_for_input;
        spdlog::warn("{}: {}", who, error->message);
        co_return "truncated frame";
      }
      co_return "peer closed";
    }
    if (ec) co_return ec.message();
    received = std::string_view(chunk.data(), n);
  }
}

// ---- HTTP/1.1 + JSON ----------------------------------------------------------

awaitable<std::string> serve_http(beast::tcp_stream& stream, beast::flat_buffer& buffer, const Config& config,
                                  rpc::KeyValueStore& store, Counters& counters, const std::string& who) {
  ++counters.http_connections;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(8 * 1024);
    parser.body_limit(config.max_frame);
    http_session::expire_after_seconds(stream, config.idle_timeout);
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, use_tuple);
    if (ec == http::error::end_of_stream) co_return "peer closed";
    if (ec == beast::error::timeout) {
      ++counters.idle_timeouts;
      co_return "idle timeout";
    }
    if (ec == http::error::partial_message || is_normal_ending(ec)) co_return ec.message();
    if (ec) {
      ++counters.closed_for_input;
      const auto status = http_session::status_for_parse_error(ec);
      spdlog::warn("{}: bad HTTP request ({}) — answering {} and closing", who, ec.message(),
                   static_cast<unsigned>(status));
      auto res = http_routes::json_response(static_cast<unsigned>(status), false,
                                            rpc::json_response_body({0, rpc::Status::bad_request, 0, ec.message()}));
      stream.expires_after(std::chrono::seconds(5));
      if (!co_await http_session::write_message(stream, res)) co_await http_session::linger_then_close(stream);
      co_return "bad HTTP request";
    }
    const auto req = parser.release();
    http_routes::RpcCounts counts;
    auto res = http_routes::rpc_call(req, store, counts);
    counters.http_calls += counts.calls;
    counters.error_answers += counts.error_answers;
    if (auto write_ec = co_await http_session::write_message(stream, res)) co_return "write: " + write_ec.message();
    if (!res.keep_alive()) {
      boost::system::error_code ignored;
      stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
      co_return "Connection: close";
    }
  }
}

// ---- one connection, either way ----------------------------------------------

awaitable<void> session(beast::tcp_stream stream, const Config& config, rpc::KeyValueStore& store, Counters& counters,
                        ConnectionRegistry& registry) {
  ServedConnection served(stream.socket(), registry);
  const std::string& who = served.who();
  // Answers are small and often several per round trip (pipelining): without
  // TCP_NODELAY, Nagle's algorithm holds the second one back until the first is
  // ACKed, and the peer's delayed ACK can make that 40 ms. nginx does the same.
  boost::system::error_code nodelay_ec;
  stream.socket().set_option(tcp::no_delay(true), nodelay_ec);
  beast::flat_buffer buffer;
  http_session::expire_after_seconds(stream, config.idle_timeout);
  auto [ec, n] = co_await stream.async_read_some(buffer.prepare(4096), use_tuple);
  std::string ending;
  if (ec) {
    if (ec == beast::error::timeout) ++counters.idle_timeouts;
    ending = ec == asio::error::eof ? "closed before sending anything" : ec.message();
  } else {
    buffer.commit(n);
    const auto first = static_cast<unsigned char>(*static_cast<const char*>(buffer.data().data()));
    if (first == 0) {
      ending = "binary: " +
               co_await serve_binary(stream, beast::buffers_to_string(buffer.data()), config, store, counters, who);
    } else {
      ending = "http: " + co_await serve_http(stream, buffer, config, store, counters, who);
    }
  }
  served.down(ending);
}

}  // namespace

int rpc_server(ServerProgram& program, CLI::App& app, Config& config) {
  add_bounded_option(app, "--idle-timeout", config.idle_timeout,
                     "seconds a connection may stay silent (or take for one HTTP request)", 0.01, 3600.0);
  add_bounded_option(app, "--max-frame", config.max_frame, "largest binary frame and HTTP body accepted, bytes",
                     std::size_t{64}, std::size_t{1} << 20);
  app.add_option("--grpc-port", config.grpc_port,
                 "also serve the store as gRPC (kv.proto, HTTP/2) on this port (0: the kernel picks; "
                 "left out: no gRPC; the lab uses 7008)");
  app.add_option("--grpc-port-file", config.grpc_port_file, "write the gRPC port here once it listens");
  add_bounded_option(app, "--grpc-max-streams", config.grpc_limits.max_streams,
                     "gRPC: concurrent streams per connection (SETTINGS_MAX_CONCURRENT_STREAMS)", 1, 1000);
  add_bounded_option(app, "--grpc-max-threads", config.grpc_limits.max_threads,
                     "gRPC: threads the server may run (its ResourceQuota; each call in progress holds one)", 4, 256);
  // One over the limit reads "503 Service Unavailable": both kinds of client
  // connect before saying a byte, and a person with nc or curl reads HTTP.
  program.add_max_connections(Refusal::http_503);
  program.concurrency_hint(1);  // one thread runs the event loop
  Counters counters;
  rpc::KeyValueStore store;
  std::optional<grpc_kv::Server> grpc;
  return program.run([&](ServerRun& run) {
    // gRPC first, so that its port file exists before --port-file says "ready".
    if (config.grpc_port) {
      config.grpc_limits.max_message = config.max_frame;
      grpc.emplace(run.options().host, *config.grpc_port, store, config.grpc_limits);
      spdlog::info("gRPC listening on {}:{} (HTTP/2, max {} streams per connection, {} threads)", run.options().host,
                   grpc->port(), config.grpc_limits.max_streams, config.grpc_limits.max_threads);
      if (!config.grpc_port_file.empty()) write_port_file(config.grpc_port_file, grpc->port());
      run.on_stop([&](std::string_view) { grpc->shutdown(); });
      run.at_exit([&] { grpc.reset(); });
    }
    run.serve([&](tcp::socket socket) {
      ++counters.connections;
      return session(beast::tcp_stream(std::move(socket)), config, store, counters, run.registry());
    });
    run.listening("binary RPC and HTTP/1.1+JSON: POST /rpc/put|get|add");
    run.report([&](Result& result, std::ostream& out) {
      result.set_params(boost::json::object{{"idle_timeout", config.idle_timeout}, {"max_frame", config.max_frame}});
      result.set_observed(counters);
      result.observed()["keys"] = store.size();
      const auto grpc_counts = grpc ? grpc->counts() : grpc_kv::ServerCounts{};
      if (grpc) {
        result.params()["grpc_port"] = grpc->port();
        result.observed()["grpc_calls"] = grpc_counts.calls;
        result.observed()["grpc_error_answers"] = grpc_counts.error_answers;
      }
      out << "netlab-rpc-server on " << to_string(run.bound()) << " stopped by " << run.stop_reason() << " after "
          << run.seconds() << " s\n"
          << "  connections " << counters.connections << " (binary " << counters.binary_connections << ", http "
          << counters.http_connections << "), calls binary " << counters.binary_calls << ", http "
          << counters.http_calls << ", error answers " << counters.error_answers << "\n"
          << "  closed for bad input " << counters.closed_for_input << ", idle timeouts " << counters.idle_timeouts
          << ", keys " << store.size() << ", refused (--max-connections " << run.limit().max() << ") "
          << run.limit().refused() << "\n";
      if (grpc)
        out << "  gRPC on port " << grpc->port() << ": calls " << grpc_counts.calls << ", error answers "
            << grpc_counts.error_answers << "\n";
    });
  });
}

int main(int argc, char** argv) { return run_lab(argc, argv, program_info, rpc_server); }
