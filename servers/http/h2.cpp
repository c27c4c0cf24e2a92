// HTTP/2 server session over nghttp2 (see h2.hpp): frames and HPACK in,
// one Beast request per stream to the handler, its response out as HEADERS + DATA.
#include "http/h2.hpp"

#include <boost/beast/http/field.hpp>

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <map>
#include <vector>

namespace netlab::h2 {

namespace http = boost::beast::http;
using Clock = std::chrono::steady_clock;

Preface match_preface(std::string_view first_bytes) {
  const std::size_t n = std::min(first_bytes.size(), client_preface.size());
  if (first_bytes.substr(0, n) != client_preface.substr(0, n)) return Preface::no;
  return n == client_preface.size() ? Preface::yes : Preface::undecided;
}

namespace {

struct Stream {
  Request request;
  std::size_t header_bytes = 0;  // decoded, as RFC 7541 §4.1 counts them
  bool over_limit = false;       // answered 413/431 early; the rest of its request is dropped
  bool answered = false;
  std::string body;  // the response body, sent as DATA from `sent` on
  std::size_t sent = 0;
  Clock::time_point began = Clock::now();
};

// Header fields that mean something only to one HTTP/1.1 connection: an
// HTTP/2 message must not carry them (RFC 9113 §8.2.2).
bool connection_specific(std::string_view name) {
  return name == "connection" || name == "keep-alive" || name == "proxy-connection" || name == "transfer-encoding" ||
         name == "upgrade";
}

std::string lowercase(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

nghttp2_nv field(const std::string& name, const std::string& value) {
  // nghttp2 copies name and value when the response is submitted.
  return {reinterpret_cast<std::uint8_t*>(const_cast<char*>(name.data())),
          reinterpret_cast<std::uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
          NGHTTP2_NV_FLAG_NONE};
}

}  // namespace

struct H2Connection::Impl {
  Handler handler;
  Limits limits;
  Counts& counts;
  nghttp2_session* session = nullptr;
  std::map<std::int32_t, Stream> streams;
  std::vector<std::uint8_t> pending;  // what output() handed out last
  std::string failure;                // why the connection ended as the peer's fault

  Impl(Handler h, Limits l, Counts& c) : handler(std::move(h)), limits(l), counts(c) {}

  static Impl& of(void* user_data) { return *static_cast<Impl*>(user_data); }

  void respond(std::int32_t id, Stream& stream, Response res) {
    stream.answered = true;
    const bool head = stream.request.method() == http::verb::head;
    std::vector<std::pair<std::string, std::string>> fields;
    fields.emplace_back(":status", std::to_string(res.result_int()));
    for (const auto& f : res.base()) {
      std::string name = lowercase(f.name_string());
      if (!connection_specific(name)) fields.emplace_back(std::move(name), std::string(f.value()));
    }
    std::vector<nghttp2_nv> nva;
    nva.reserve(fields.size());
    for (const auto& [name, value] : fields) nva.push_back(field(name, value));
    stream.body = head ? std::string() : std::move(res.body());
    nghttp2_data_provider provider{};
    provider.source.ptr = &stream;
    provider.read_callback = [](nghttp2_session*, std::int32_t, std::uint8_t* buf, std::size_t length,
                                std::uint32_t* flags, nghttp2_data_source* source, void*) -> ssize_t {
      auto& s = *static_cast<Stream*>(source->ptr);
      const std::size_t n = std::min(length, s.body.size() - s.sent);
      std::copy_n(s.body.data() + s.sent, n, buf);
      s.sent += n;
      if (s.sent == s.body.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
      return static_cast<ssize_t>(n);
    };
    nghttp2_submit_response(session, id, nva.data(), nva.size(), stream.body.empty() ? nullptr : &provider);
  }

  // A request that cannot be taken whole: answered now, the rest of it ignored.
  void refuse(std::int32_t id, Stream& stream, http::status status, std::string why) {
    stream.over_limit = true;
    ++counts.too_large;
    respond(id, stream,
            http_routes::make_response(status, 20, true, "text/plain; charset=utf-8",
                                       std::to_string(static_cast<unsigned>(status)) + " " + why + "\n"));
  }

  void answer(std::int32_t id, Stream& stream) {
    if (stream.over_limit || stream.answered) return;
    auto& req = stream.request;
    req.prepare_payload();
    ++counts.streams;
    respond(id, stream, handler(req));
  }

  static int on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    auto& self = of(user_data);
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
      auto& stream = self.streams[frame->hd.stream_id];
      stream.request.version(20);
    }
    return 0;
  }

  static int on_header(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name_bytes,
                       std::size_t name_length, const std::uint8_t* value_bytes, std::size_t value_length, std::uint8_t,
                       void* user_data) {
    auto& self = of(user_data);
    const auto it = self.streams.find(frame->hd.stream_id);
    if (it == self.streams.end()) return 0;  // trailers of a stream we dropped
    auto& stream = it->second;
    const std::string_view name(reinterpret_cast<const char*>(name_bytes), name_length);
    const std::string_view value(reinterpret_cast<const char*>(value_bytes), value_length);
    // RFC 7541 §4.1: a field's size is its name, its value and 32 octets.
    stream.header_bytes += name_length + value_length + 32;
    self.counts.header_bytes_decoded += name_length + value_length + 4;  // as "name: value\r\n" would be
    if (stream.over_limit) return 0;
    if (stream.header_bytes > self.limits.max_header_bytes) {
      self.refuse(frame->hd.stream_id, stream, http::status::request_header_fields_too_large,
                  "Request Header Fields Too Large");
      return 0;
    }
    auto& req = stream.request;
    if (name == ":method") {
      req.method_string(value);
    } else if (name == ":path") {
      req.target(value);
    } else if (name == ":authority") {
      // The target's authority plays Host's part (RFC 9113 §8.3.1).
      if (req.find(http::field::host) == req.end()) req.set(http::field::host, value);
    } else if (!name.empty() && name.front() != ':') {
      req.insert(name, value);
    }
    return 0;
  }

  static int on_data_chunk(nghttp2_session*, std::uint8_t, std::int32_t id, const std::uint8_t* data, std::size_t n,
                           void* user_data) {
    auto& self = of(user_data);
    const auto it = self.streams.find(id);
    if (it == self.streams.end() || it->second.over_limit) return 0;
    auto& body = it->second.request.body();
    if (body.size() + n > self.limits.max_body_bytes) {
      self.refuse(id, it->second, http::status::payload_too_large, "Payload Too Large");
      return 0;
    }
    body.append(reinterpret_cast<const char*>(data), n);
    return 0;
  }

  static int on_begin_frame(nghttp2_session*, const nghttp2_frame_hd* hd, void* user_data) {
    // Every header block fragment, CONTINUATIONs included: HPACK as it crossed the wire.
    if (hd->type == NGHTTP2_HEADERS || hd->type == NGHTTP2_CONTINUATION)
      of(user_data).counts.header_block_bytes_received += hd->length;
    return 0;
  }

  static int on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    auto& self = of(user_data);
    if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
        (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
      const auto it = self.streams.find(frame->hd.stream_id);
      if (it != self.streams.end()) self.answer(frame->hd.stream_id, it->second);
    }
    return 0;
  }

  static int on_frame_send(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    auto& self = of(user_data);
    if (frame->hd.type == NGHTTP2_HEADERS) self.counts.header_block_bytes_sent += frame->hd.length;
    if (frame->hd.type == NGHTTP2_RST_STREAM)
      ++(frame->rst_stream.error_code == NGHTTP2_REFUSED_STREAM ? self.counts.refused_streams
                                                                : self.counts.reset_streams);
    if (frame->hd.type == NGHTTP2_GOAWAY && frame->goaway.error_code != NGHTTP2_NO_ERROR) {
      // A connection error (RFC 9113 §5.4.1): a malformed frame, a bad HPACK block (COMPRESSION_ERROR).
      ++self.counts.goaways_sent;
      if (self.failure.empty()) {
        ++self.counts.protocol_errors;
        self.failure = std::string("HTTP/2 connection error: GOAWAY ") +
                       nghttp2_http2_strerror(frame->goaway.error_code) + " sent";
      }
    }
    return 0;
  }

  static int on_stream_close(nghttp2_session*, std::int32_t id, std::uint32_t, void* user_data) {
    of(user_data).streams.erase(id);
    return 0;
  }
};

H2Connection::H2Connection(Handler handler, Limits limits, Counts& counts)
    : impl_(std::make_unique<Impl>(std::move(handler), limits, counts)) {
  nghttp2_session_callbacks* callbacks = nullptr;
  nghttp2_session_callbacks_new(&callbacks);
  nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, Impl::on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(callbacks, Impl::on_header);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, Impl::on_data_chunk);
  nghttp2_session_callbacks_set_on_begin_frame_callback(callbacks, Impl::on_begin_frame);
  nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, Impl::on_frame_recv);
  nghttp2_session_callbacks_set_on_frame_send_callback(callbacks, Impl::on_frame_send);
  nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, Impl::on_stream_close);
  nghttp2_session_server_new(&impl_->session, callbacks, impl_.get());
  nghttp2_session_callbacks_del(callbacks);
  ++counts.connections;
  const nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, limits.max_concurrent_streams},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, static_cast<std::uint32_t>(limits.max_header_bytes)}};
  nghttp2_submit_settings(impl_->session, NGHTTP2_FLAG_NONE, settings, std::size(settings));
}

H2Connection::~H2Connection() { nghttp2_session_del(impl_->session); }

std::string H2Connection::receive(std::span<const std::uint8_t> bytes) {
  if (bytes.empty() || !impl_->failure.empty()) return impl_->failure;
  const auto n = nghttp2_session_mem_recv(impl_->session, bytes.data(), bytes.size());
  if (n < 0) {
    // The client's preface was wrong, or it flooded us: nghttp2 queues GOAWAY
    // where it can (RFC 9113 §5.4.1) and the connection ends.
    ++impl_->counts.protocol_errors;
    impl_->failure = std::string("HTTP/2 connection error: ") + nghttp2_strerror(static_cast<int>(n));
  }
  return impl_->failure;
}

const std::string& H2Connection::failure() const { return impl_->failure; }

std::span<const std::uint8_t> H2Connection::output() {
  impl_->pending.clear();
  // Bounded: nghttp2 hands out at most what it has queued; cap one call at 1 MiB.
  while (impl_->pending.size() < (1u << 20)) {
    const std::uint8_t* data = nullptr;
    const auto n = nghttp2_session_mem_send(impl_->session, &data);
    if (n <= 0) break;
    impl_->pending.insert(impl_->pending.end(), data, data + n);
  }
  return impl_->pending;
}

bool H2Connection::alive() const {
  return nghttp2_session_want_read(impl_->session) != 0 || nghttp2_session_want_write(impl_->session) != 0;
}

std::size_t H2Connection::open_streams() const { return impl_->streams.size(); }

void H2Connection::expire_streams(double seconds) {
  const auto oldest =
      Clock::now() - std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  for (auto& [id, stream] : impl_->streams) {
    if (stream.answered || stream.over_limit || stream.began > oldest) continue;
    // A request that trickles in cannot hold its stream forever: CANCEL (RFC 9113 §7).
    stream.over_limit = true;
    nghttp2_submit_rst_stream(impl_->session, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
  }
}

void H2Connection::go_away(std::uint32_t error_code) { nghttp2_session_terminate_session(impl_->session, error_code); }

}  // namespace netlab::h2
