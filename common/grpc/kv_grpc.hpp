#pragma once
// The rpc lab's third transport: the same key-value service (rpc::KeyValueStore)
// as gRPC (common/proto/kv.proto), server and client. gRPC's own headers stay
// in kv_server.cpp and kv_client.cpp: a lab file includes only this one, so
// the heavy grpc++ templates are compiled twice per build, not once per user.
//
// gRPC runs its own threads (its completion-queue pollers and the sync
// server's handler threads), beside the lab's Asio event loop: the store is
// shared, and KeyValueStore::call locks.
#include "proto/rpc_protocol.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace netlab::grpc_kv {

// gRPC core writes its own log lines to stderr (a failed bind as a long
// "E1207 ... chttp2_server.cc" line before the program's own one-line error):
// from the first Server or Client on, they go to spdlog at debug instead.
void route_grpc_logs_to_debug();

// Every bound a server keeps (each enforced by gRPC itself).
struct ServerLimits {
  std::size_t max_message = rpc::max_frame;  // largest message either way, bytes (more: RESOURCE_EXHAUSTED)
  int max_streams = 100;                     // SETTINGS_MAX_CONCURRENT_STREAMS per connection (RFC 9113 §6.5.2)
  // The sync server runs each call on a thread of its own: a call that finds
  // none free is refused with RESOURCE_EXHAUSTED, so this is also the cap on
  // calls in progress at once (pollers included).
  int max_threads = 32;
};

struct ServerCounts {
  std::size_t calls = 0;          // calls that reached the service
  std::size_t error_answers = 0;  // of them, answered with a status other than OK
};

class Server {
 public:
  // Listens on host:port (port 0: the kernel picks one). SO_REUSEPORT off, so
  // a port another socket holds is refused as it is for the other transports.
  // Throws std::runtime_error("grpc listen HOST:PORT: ...") when it cannot.
  Server(const std::string& host, std::uint16_t port, rpc::KeyValueStore& store, const ServerLimits& limits);
  ~Server();  // shuts down, if not yet
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
  std::uint16_t port() const;
  ServerCounts counts() const;
  // Stops accepting, ends the calls in flight within `grace_seconds`, joins gRPC's threads.
  void shutdown(double grace_seconds = 1.0);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One channel: one HTTP/2 connection (its own, not shared with another
// channel of the process), on which call() may run from many threads at once,
// each call a stream of its own.
class Client {
 public:
  Client(const std::string& host, std::uint16_t port);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  // The answer as the other transports give it: NOT_FOUND is not_found,
  // INVALID_ARGUMENT bad_request, UNIMPLEMENTED unknown_method. Any other
  // status (UNAVAILABLE, DEADLINE_EXCEEDED ...) throws std::runtime_error with
  // the method, the status code and gRPC's message, on one line.
  rpc::Response call(const rpc::Request& request, double seconds_left);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace netlab::grpc_kv
