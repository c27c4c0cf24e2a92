// The gRPC face of the rpc lab's key-value service (kv.proto): the sync
// server, its bounds, and the mapping of the store's outcomes to gRPC statuses.
#include "grpc/kv_grpc.hpp"

#include "kv.grpc.pb.h"

#include <grpc/support/log.h>
#include <grpcpp/resource_quota.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include <spdlog/spdlog.h>
#include <chrono>
#include <mutex>
#include <stdexcept>

namespace netlab::grpc_kv {

namespace {

// "127.0.0.1:7008", "[::1]:7008": gRPC's form of an address.
std::string address(const std::string& host, std::uint16_t port) {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

class Service final : public kv::KeyValue::Service {
 public:
  explicit Service(rpc::KeyValueStore& store) : store_(store) {}

  grpc::Status Put(grpc::ServerContext*, const kv::KeyRequest* in, kv::ValueReply* out) override {
    return serve(rpc::Method::put, *in, *out);
  }
  grpc::Status Get(grpc::ServerContext*, const kv::KeyRequest* in, kv::ValueReply* out) override {
    return serve(rpc::Method::get, *in, *out);
  }
  grpc::Status Add(grpc::ServerContext*, const kv::KeyRequest* in, kv::ValueReply* out) override {
    return serve(rpc::Method::add, *in, *out);
  }

  std::atomic<std::size_t> calls{0}, error_answers{0};

 private:
  // The outcome travels in the trailers (grpc-status, grpc-message), as every
  // gRPC status does; only an OK call carries a ValueReply.
  grpc::Status serve(rpc::Method method, const kv::KeyRequest& in, kv::ValueReply& out) {
    ++calls;
    if (in.key().size() > rpc::max_key) {
      ++error_answers;
      return {grpc::StatusCode::INVALID_ARGUMENT,
              "key of " + std::to_string(in.key().size()) + " bytes, maximum is " + std::to_string(rpc::max_key)};
    }
    const auto response = store_.call({0, method, in.key(), in.value()});
    switch (response.status) {
      case rpc::Status::ok:
        out.set_value(response.value);
        return grpc::Status::OK;
      case rpc::Status::not_found:
        ++error_answers;
        return {grpc::StatusCode::NOT_FOUND, response.error};
      case rpc::Status::unknown_method:
        ++error_answers;
        return {grpc::StatusCode::UNIMPLEMENTED, response.error};
      case rpc::Status::bad_request:
        break;
    }
    ++error_answers;
    return {grpc::StatusCode::INVALID_ARGUMENT, response.error};
  }

  rpc::KeyValueStore& store_;
};

void log_at_debug(gpr_log_func_args* args) {
  spdlog::debug("grpc {}:{}: {}", args->file ? args->file : "?", args->line, args->message ? args->message : "");
}

}  // namespace

void route_grpc_logs_to_debug() {
  static std::once_flag once;
  std::call_once(once, [] { gpr_set_log_function(log_at_debug); });
}

struct Server::Impl {
  explicit Impl(rpc::KeyValueStore& store) : service(store) {}
  Service service;
  std::unique_ptr<grpc::Server> server;
  int port = 0;
  bool stopped = false;
};

Server::Server(const std::string& host, std::uint16_t port, rpc::KeyValueStore& store, const ServerLimits& limits)
    : impl_(std::make_unique<Impl>(store)) {
  route_grpc_logs_to_debug();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(address(host, port), grpc::InsecureServerCredentials(), &impl_->port);
  builder.RegisterService(&impl_->service);
  // gRPC sets SO_REUSEPORT by default: two servers could then share a port
  // without an error. The lab's other listeners refuse that; so does this one.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, limits.max_streams);
  builder.SetMaxReceiveMessageSize(static_cast<int>(limits.max_message));
  builder.SetMaxSendMessageSize(static_cast<int>(limits.max_message));
  grpc::ResourceQuota quota("netlab-rpc-grpc");
  quota.SetMaxThreads(limits.max_threads);
  builder.SetResourceQuota(quota);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::NUM_CQS, 1);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS, 1);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, 2);
  impl_->server = builder.BuildAndStart();
  if (!impl_->server || impl_->port == 0)
    throw std::runtime_error("grpc listen " + address(host, port) + ": cannot listen there (in use?)");
}

Server::~Server() { shutdown(0.2); }

std::uint16_t Server::port() const { return static_cast<std::uint16_t>(impl_->port); }

ServerCounts Server::counts() const { return {impl_->service.calls.load(), impl_->service.error_answers.load()}; }

void Server::shutdown(double grace_seconds) {
  if (impl_->stopped || !impl_->server) return;
  impl_->stopped = true;
  const auto grace =
      std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::duration<double>(grace_seconds));
  impl_->server->Shutdown(std::chrono::system_clock::now() + grace);
  impl_->server->Wait();
}

}  // namespace netlab::grpc_kv
