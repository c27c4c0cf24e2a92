// libFuzzer target: the rpc lab's binary frames and their payloads, as the
// server and the client see them. The input is read three ways:
//   - as a byte stream of frames (LengthHeaderCodec with the RPC cap), each
//     body decoded as a request, called on the key-value store, answered, and
//     the answer decoded back as the client would: the outcome must survive;
//   - as one request body and as one response body: what decodes must
//     re-encode to the same bytes;
//   - as the JSON body of POST /rpc/<method> under each method name, and as a
//     JSON answer: what parses must survive a round trip through the encoder.
#include "proto/codec.hpp"
#include "proto/rpc_protocol.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace rpc = netlab::rpc;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

// The server's answer to one frame body, read back by the client.
void serve(std::string_view body, rpc::KeyValueStore& store) {
  rpc::Request request;
  rpc::Response answer;
  if (auto bad = rpc::decode_request(body, request)) {
    check(!bad->message.empty());
    if (!bad->id) return;  // no id to answer to: the server closes the connection
    answer = {*bad->id, bad->status, 0, bad->message};
  } else {
    check(request.key.size() <= rpc::max_key);
    answer = store.call(request);
    check(answer.id == request.id);
  }
  std::string frame;
  rpc::encode_response(answer, frame);
  rpc::Response read_back;
  check(frame.size() >= 4 && !rpc::decode_response(std::string_view(frame).substr(4), read_back));
  check(read_back.id == answer.id && rpc::same_outcome(read_back, answer));
}

// A JSON call that parses must come out of the client's encoder the same.
void json_round_trip(std::string_view method, std::string_view body) {
  rpc::Request request;
  if (rpc::parse_json_request(method, body, request)) return;
  check(request.key.size() <= rpc::max_key);
  rpc::Request again;
  check(!rpc::parse_json_request(method, rpc::json_request_body(request), again));
  check(again.method == request.method && again.key == request.key && again.value == request.value);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  // A stream of frames, cut into reads of a size fixed per input.
  {
    netlab::LengthHeaderCodec codec(rpc::max_frame);
    rpc::KeyValueStore store;
    std::vector<std::string> bodies;
    const std::size_t read_size = 1 + size % 61;
    for (std::size_t at = 0; at < size; at += read_size) {
      bodies.clear();
      const auto error = codec.decode(input.substr(at, read_size), bodies);
      for (const auto& body : bodies) {
        check(body.size() <= rpc::max_frame);
        serve(body, store);
      }
      if (error) break;  // after a bad length nothing later can be trusted
    }
  }

  // One request body, as the server sees it after the codec.
  rpc::Request request;
  if (!rpc::decode_request(input, request)) {
    std::string frame;
    rpc::encode_request(request, frame);
    check(std::string_view(frame).substr(4) == input);
  }
  // One response body, as the client sees it.
  rpc::Response response;
  if (!rpc::decode_response(input, response)) {
    std::string frame;
    rpc::encode_response(response, frame);
    check(std::string_view(frame).substr(4) == input);
  }

  // The HTTP side's JSON bodies, under each method name and a wrong one.
  for (const char* method : {"get", "put", "add", "nope"}) json_round_trip(method, input);
  if (!rpc::parse_json_response(input, response)) {
    rpc::Response again;
    check(!rpc::parse_json_response(rpc::json_response_body(response), again));
    check(rpc::same_outcome(again, response));
  }
  return 0;
}
