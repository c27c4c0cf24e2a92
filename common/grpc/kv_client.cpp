// The gRPC client of the rpc lab's key-value service (kv.proto): one channel,
// one HTTP/2 connection, blocking calls that may come from many threads.
#include "grpc/kv_grpc.hpp"

#include "kv.grpc.pb.h"

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <chrono>
#include <stdexcept>

namespace netlab::grpc_kv {

namespace {

std::string_view code_name(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    default:
      return "status";
  }
}

}  // namespace

struct Client::Impl {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<kv::KeyValue::Stub> stub;
  std::string address;
};

Client::Client(const std::string& host, std::uint16_t port) : impl_(std::make_unique<Impl>()) {
  route_grpc_logs_to_debug();
  const bool v6 = host.find(':') != std::string::npos;
  grpc::ChannelArguments args;
  // Without it, channels to the same address share one subchannel, so one
  // connection: each Client is a connection of its own, as each run of the
  // other transports is.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetMaxReceiveMessageSize(static_cast<int>(rpc::max_frame));
  impl_->address = (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
  impl_->channel = grpc::CreateCustomChannel(impl_->address, grpc::InsecureChannelCredentials(), args);
  impl_->stub = kv::KeyValue::NewStub(impl_->channel);
}

Client::~Client() = default;

rpc::Response Client::call(const rpc::Request& request, double seconds_left) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::duration_cast<std::chrono::system_clock::duration>(
                           std::chrono::duration<double>(seconds_left > 0 ? seconds_left : 0)));
  // Wait for the connection instead of failing at once while it is being made.
  context.set_wait_for_ready(true);
  kv::KeyRequest in;
  in.set_key(request.key);
  in.set_value(request.value);
  kv::ValueReply out;
  grpc::Status status;
  switch (request.method) {
    case rpc::Method::put:
      status = impl_->stub->Put(&context, in, &out);
      break;
    case rpc::Method::get:
      status = impl_->stub->Get(&context, in, &out);
      break;
    case rpc::Method::add:
      status = impl_->stub->Add(&context, in, &out);
      break;
  }
  rpc::Response response{request.id, rpc::Status::ok, out.value(), {}};
  switch (status.error_code()) {
    case grpc::StatusCode::OK:
      return response;
    case grpc::StatusCode::NOT_FOUND:
      response.status = rpc::Status::not_found;
      break;
    case grpc::StatusCode::INVALID_ARGUMENT:
      response.status = rpc::Status::bad_request;
      break;
    case grpc::StatusCode::UNIMPLEMENTED:
      response.status = rpc::Status::unknown_method;
      break;
    default:
      // Never connected: say so, as the other transports' "connection refused" does.
      if ((status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED ||
           status.error_code() == grpc::StatusCode::UNAVAILABLE) &&
          impl_->channel->GetState(false) != GRPC_CHANNEL_READY)
        throw std::runtime_error("grpc " + impl_->address + ": no gRPC server answered (" +
                                 std::string(code_name(status.error_code())) +
                                 ") — is netlab-rpc-server running with --grpc-port?");
      throw std::runtime_error("grpc " + std::string(rpc::method_name(request.method)) + ": " +
                               std::string(code_name(status.error_code())) + " (" +
                               std::to_string(static_cast<int>(status.error_code())) + "): " + status.error_message());
  }
  response.value = 0;
  response.error = status.error_message();
  return response;
}

}  // namespace netlab::grpc_kv
