// netlab_fuzz_seeds FOLDER: writes the seed corpora of the fuzz targets,
// FOLDER/<target>/<name>, made with netlab's own encoders (nothing stored,
// nothing downloaded): framed messages for the codecs, transport messages,
// RPC calls of every kind in binary and JSON, HTTP requests to every route of
// the http lab (with and without Basic credentials) and of the rpc lab,
// small pcaps built here byte by byte, for every link type the reader knows,
// and every handshake message and alert of the https lab's TLS handshakes, run
// in memory between two OpenSSL objects with the lab's own contexts and PKI;
// for netlab-wire, Ethernet frames of a TCP life and a UDP datagram, and rules.
// Valid inputs take the fuzzer deep quickly; it finds the invalid ones itself.
#include "../capture/synthetic.hpp"
#include "../support/h2_frames.hpp"
#include "capture/pcap.hpp"
#include "proto/codec.hpp"
#include "proto/http_basics.hpp"
#include "proto/rpc_protocol.hpp"
#include "proto/transport_message.hpp"
#include "tls/tls.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace fs = std::filesystem;
namespace rpc = netlab::rpc;
namespace tr = netlab::transport;

class Seeds {
 public:
  explicit Seeds(fs::path root) : root_(std::move(root)) {}
  void write(const std::string& target, const std::string& name, std::string_view bytes) {
    const fs::path folder = root_ / target;
    fs::create_directories(folder);
    std::ofstream out(folder / name, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) throw std::runtime_error((folder / name).string() + ": cannot write");
    ++written_;
  }
  std::size_t written() const { return written_; }

 private:
  fs::path root_;
  std::size_t written_ = 0;
};

// ---- codecs: first byte = codec (bit 0: length header) and read size --------

void codec_seeds(Seeds& seeds) {
  netlab::DelimiterCodec lines('\n', 256);
  netlab::LengthHeaderCodec frames(256);
  std::string delimited, framed;
  for (const char* payload : {"hello", "", "world, a longer line of text"}) {
    (void)lines.encode(payload, delimited);
    (void)frames.encode(payload, framed);
  }
  seeds.write("codecs", "delimiter-byte-at-a-time", std::string(1, '\x00') + delimited);
  seeds.write("codecs", "delimiter-reads-of-33", std::string(1, '\x40') + delimited);
  seeds.write("codecs", "length-byte-at-a-time", std::string(1, '\x01') + framed);
  seeds.write("codecs", "length-reads-of-64", std::string(1, '\x7f') + framed);
  seeds.write("codecs", "length-truncated", std::string(1, '\x05') + framed.substr(0, framed.size() - 3));
}

// ---- transport: the 32-byte header, alone and as a stream ------------------

void transport_seeds(Seeds& seeds) {
  const auto message = [](tr::Kind kind, std::uint64_t sequence, std::string_view payload) {
    std::string out;
    tr::encode(kind, sequence, 1'000'000 + sequence, payload, out);
    return out;
  };
  const std::string data = message(tr::Kind::data, 7, "payload of message 7");
  seeds.write("transport_message", "data", data);
  seeds.write("transport_message", "data-empty", message(tr::Kind::data, 0, ""));
  seeds.write("transport_message", "done", message(tr::Kind::done, 3, "1"));
  seeds.write("transport_message", "report", message(tr::Kind::report, 0, R"({"unique":3,"lost":0})"));
  seeds.write("transport_message", "relay-query", message(tr::Kind::relay_query, 0, ""));
  seeds.write("transport_message", "stream-of-three",
              message(tr::Kind::data, 0, "a") + message(tr::Kind::data, 1, "bb") + message(tr::Kind::done, 2, "1"));
}

// ---- rpc: bodies, a frame stream, JSON ---------------------------------------

void rpc_seeds(Seeds& seeds) {
  const std::vector<rpc::Request> calls = {{1, rpc::Method::put, "apples", 5},
                                           {2, rpc::Method::add, "apples", -2},
                                           {3, rpc::Method::get, "apples", 0},
                                           {4, rpc::Method::get, "pears", 0},
                                           {5, rpc::Method::add, "apples", INT64_MAX}};
  std::string stream;
  for (const auto& call : calls) {
    std::string frame;
    rpc::encode_request(call, frame);
    seeds.write("rpc_frame", "request-" + std::to_string(call.id) + "-" + std::string(rpc::method_name(call.method)),
                frame.substr(4));
    stream += frame;
    seeds.write("rpc_frame", "json-request-" + std::to_string(call.id), rpc::json_request_body(call));
  }
  seeds.write("rpc_frame", "frame-stream", stream);
  rpc::KeyValueStore store;
  for (const auto& call : calls) {
    const auto answer = store.call(call);
    std::string frame;
    rpc::encode_response(answer, frame);
    seeds.write("rpc_frame", "response-" + std::to_string(call.id), frame.substr(4));
    seeds.write("rpc_frame", "json-response-" + std::to_string(call.id), rpc::json_response_body(answer));
  }
}

// ---- http: requests to every route, Basic credentials, the rpc side ----------

std::string request(std::string_view start_line, std::vector<std::string> headers, std::string_view body = {}) {
  std::string out(start_line);
  out += "\r\nHost: 127.0.0.1:7080\r\n";
  for (const auto& header : headers) out += header + "\r\n";
  out += "\r\n";
  out += body;
  return out;
}

void http_seeds(Seeds& seeds) {
  namespace basics = netlab::http_basics;
  const std::string alice = "Authorization: " + basics::basic_authorization({"alice", "wonderland"});
  const std::string admin = "Authorization: " + basics::basic_authorization({"admin", "secret"});
  seeds.write("http", "get-root", request("GET / HTTP/1.1", {}));
  seeds.write("http", "head-old", request("HEAD /old HTTP/1.1", {}));
  seeds.write("http", "private-alice", request("GET /private HTTP/1.1", {alice}));
  seeds.write("http", "admin-alice", request("GET /admin HTTP/1.1", {alice}));
  seeds.write("http", "admin-admin", request("GET /admin?x=1 HTTP/1.1", {admin}));
  seeds.write("http", "private-wrong-password",
              request("GET /private HTTP/1.1", {"Authorization: " + basics::basic_authorization({"alice", "x:y"})}));
  seeds.write("http", "private-lowercase-scheme",
              request("GET /private HTTP/1.1", {"authorization: basic  YWxpY2U6d29uZGVybGFuZA==  "}));
  seeds.write("http", "private-bearer", request("GET /private HTTP/1.1", {"Authorization: Bearer abc"}));
  seeds.write("http", "private-bad-base64", request("GET /private HTTP/1.1", {"Authorization: Basic YWxp=2U6"}));
  seeds.write("http", "headers-repeated",
              request("GET /headers HTTP/1.1", {"X-Lab: one", "X-Lab: two", "Accept: */*", "Connection: close"}));
  seeds.write("http", "post-root", request("POST / HTTP/1.1", {"Content-Length: 5"}, "hello"));
  seeds.write("http", "missing-http10", "GET /missing HTTP/1.0\r\n\r\n");
  seeds.write("http", "pipelined",
              request("GET / HTTP/1.1", {}) + request("GET /old HTTP/1.1", {}) +
                  request("GET /private HTTP/1.1", {admin, "Connection: close"}));
  seeds.write("http", "body-over-limit", request("POST / HTTP/1.1", {"Content-Length: 100000"}));
  seeds.write("http", "chunked-post",
              request("POST / HTTP/1.1", {"Transfer-Encoding: chunked"},
                      "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\n"));
  // The rpc lab's HTTP side: POST /rpc/<method> with a JSON body.
  const auto call = [](std::string_view method, const rpc::Request& r) {
    const std::string body = rpc::json_request_body(r);
    return request("POST /rpc/" + std::string(method) + " HTTP/1.1",
                   {"Content-Type: application/json", "Content-Length: " + std::to_string(body.size())}, body);
  };
  seeds.write("http", "rpc-put-get-add",
              call("put", {0, rpc::Method::put, "apples", 5}) + call("get", {0, rpc::Method::get, "apples", 0}) +
                  call("add", {0, rpc::Method::add, "apples", 2}) + call("get", {0, rpc::Method::get, "pears", 0}));
  // The caching routes (servers/http/cache_routes.cpp): validators, ranges, gzip.
  seeds.write("http", "etag-if-none-match",
              request("GET /etag HTTP/1.1", {"If-None-Match: W/\"a\", \"etag-0\", *", "Accept-Encoding: gzip;q=0.5"}));
  seeds.write("http", "etag-if-modified-since",
              request("HEAD /etag HTTP/1.1", {"If-Modified-Since: Sat, 01 Jan 2000 00:00:00 GMT"}));
  seeds.write("http", "range-slices",
              request("GET /range HTTP/1.1", {"Range: bytes=0-99"}) +
                  request("GET /range HTTP/1.1", {"Range: bytes=-5"}) +
                  request("GET /range HTTP/1.1", {"Range: bytes=9990-"}));
  seeds.write("http", "range-odd",
              request("GET /range HTTP/1.1", {"Range: bytes=0-1,5-6", "Accept-Encoding: *"}) +
                  request("GET /range HTTP/1.1", {"Range: bytes=99999999999999999999-"}));
  seeds.write("http", "rpc-unknown-method", call("nope", {0, rpc::Method::get, "apples", 0}));
  seeds.write("http", "rpc-get-not-post", request("GET /rpc/get HTTP/1.1", {}));
  seeds.write("http", "rpc-chunked",
              request("POST /rpc/put HTTP/1.1", {"Transfer-Encoding: chunked"},
                      "8\r\n{\"key\":\"\r\n11\r\nk\",\"value\":9000}\r\n0\r\n\r\n"));
}

// ---- pcap: small captures built byte by byte ----------------------------------

void put16(std::string& out, std::uint16_t v) {
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v & 0xff));
}

void put32(std::string& out, std::uint32_t v) {
  put16(out, static_cast<std::uint16_t>(v >> 16));
  put16(out, static_cast<std::uint16_t>(v & 0xffff));
}

struct Segment {
  bool from_client = true;
  bool is_tcp = true;
  std::uint8_t flags = 0;
  std::uint32_t seq = 0, ack = 0;
  std::uint16_t window = 65535;
  std::string payload;
};

// One IP packet (IPv4 or IPv6, network byte order) carrying a TCP segment or a UDP datagram.
std::string ip_packet(const Segment& s, bool ipv6, std::uint16_t client_port, std::uint16_t server_port) {
  std::string transport;
  const std::uint16_t src_port = s.from_client ? client_port : server_port;
  const std::uint16_t dst_port = s.from_client ? server_port : client_port;
  put16(transport, src_port);
  put16(transport, dst_port);
  if (s.is_tcp) {
    put32(transport, s.seq);
    put32(transport, s.ack);
    transport.push_back(static_cast<char>(0x50));  // 20-byte header, no options
    transport.push_back(static_cast<char>(s.flags));
    put16(transport, s.window);
    put32(transport, 0);  // checksum, urgent pointer
  } else {
    put16(transport, static_cast<std::uint16_t>(8 + s.payload.size()));
    put16(transport, 0);
  }
  transport += s.payload;
  std::string ip;
  const std::uint8_t protocol = s.is_tcp ? 6 : 17;
  if (!ipv6) {
    const std::string client("\x7f\x00\x00\x01", 4), server("\x7f\x00\x00\x02", 4);
    ip.push_back(static_cast<char>(0x45));
    ip.push_back(0);
    put16(ip, static_cast<std::uint16_t>(20 + transport.size()));
    put32(ip, 0x40000000);  // id 0, don't fragment
    ip.push_back(64);
    ip.push_back(static_cast<char>(protocol));
    put16(ip, 0);
    ip += s.from_client ? client : server;
    ip += s.from_client ? server : client;
  } else {
    std::string client(16, '\0'), server(16, '\0');
    client[15] = 1;
    server[0] = static_cast<char>(0xfd);
    server[15] = 2;
    put32(ip, 0x60000000);
    put16(ip, static_cast<std::uint16_t>(transport.size()));
    ip.push_back(static_cast<char>(protocol));
    ip.push_back(64);
    ip += s.from_client ? client : server;
    ip += s.from_client ? server : client;
  }
  return ip + transport;
}

// The link-layer frame around an IP packet, for the link types the reader knows.
std::string frame(std::uint32_t link, bool ipv6, const std::string& ip) {
  const std::uint16_t ethertype = ipv6 ? 0x86DD : 0x0800;
  std::string out;
  switch (link) {
    case 1:  // Ethernet
      out.append(12, '\x02');
      put16(out, ethertype);
      break;
    case 113:  // Linux cooked v1
      out.append(14, '\0');
      put16(out, ethertype);
      break;
    case 276:  // Linux cooked v2
      put16(out, ethertype);
      out.append(18, '\0');
      break;
    default:  // raw IP
      break;
  }
  return out + ip;
}

struct PcapFormat {
  std::uint32_t link = 1;
  bool big_endian = false;  // the file's byte order: the reader must swap on a little-endian host
  bool nanoseconds = false;
  bool ipv6 = false;
};

std::string pcap(const PcapFormat& format, const std::vector<Segment>& segments, std::uint16_t server_port) {
  std::string out;
  const auto u16 = [&](std::uint16_t v) {
    if (format.big_endian) {
      put16(out, v);
    } else {
      out.push_back(static_cast<char>(v & 0xff));
      out.push_back(static_cast<char>(v >> 8));
    }
  };
  const auto u32 = [&](std::uint32_t v) {
    if (format.big_endian) {
      put32(out, v);
    } else {
      for (int shift = 0; shift < 32; shift += 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
    }
  };
  u32(format.nanoseconds ? 0xa1b23c4d : 0xa1b2c3d4);
  u16(2);
  u16(4);
  u32(0);
  u32(0);
  u32(262144);
  u32(format.link);
  std::uint32_t fraction = 0;
  for (const auto& segment : segments) {
    const std::string bytes = frame(format.link, format.ipv6, ip_packet(segment, format.ipv6, 40000, server_port));
    fraction += format.nanoseconds ? 150'000 : 150;
    u32(1'700'000'000);
    u32(fraction);
    u32(static_cast<std::uint32_t>(bytes.size()));
    u32(static_cast<std::uint32_t>(bytes.size()));
    out += bytes;
  }
  return out;
}

// A whole TCP life: handshake, data both ways (a long run, a retransmission,
// a zero window), and a four-segment close.
std::vector<Segment> tcp_life(std::string_view request, std::string_view answer, std::size_t extra_segments) {
  namespace f = netlab::tcp_flag;
  const std::uint32_t c = 1000, s = 5000;  // the ISNs
  std::vector<Segment> out;
  out.push_back({true, true, f::syn, c, 0, 65535, ""});
  out.push_back({false, true, f::syn | f::ack, s, c + 1, 65535, ""});
  out.push_back({true, true, f::ack, c + 1, s + 1, 65535, ""});
  std::uint32_t cs = c + 1, ss = s + 1;
  out.push_back({true, true, f::psh | f::ack, cs, ss, 65535, std::string(request)});
  out.push_back({true, true, f::psh | f::ack, cs, ss, 65535, std::string(request)});  // a retransmission
  cs += static_cast<std::uint32_t>(request.size());
  for (std::size_t i = 0; i < extra_segments; ++i) {
    out.push_back({false, true, f::ack, ss, cs, 65535, std::string(answer)});
    ss += static_cast<std::uint32_t>(answer.size());
  }
  out.push_back({true, true, f::ack, cs, ss, 0, ""});  // zero window
  out.push_back({true, true, f::fin | f::ack, cs, ss, 65535, ""});
  out.push_back({false, true, f::ack, ss, cs + 1, 65535, ""});
  out.push_back({false, true, f::fin | f::ack, ss, cs + 1, 65535, ""});
  out.push_back({true, true, f::ack, cs + 1, ss + 1, 65535, ""});
  return out;
}

// ---- wire: first byte even = one Ethernet frame, odd = a --rules-file ----------

void wire_seeds(Seeds& seeds) {
  const auto life = tcp_life("hello\n", "hello\n", 1);
  for (std::size_t i = 0; i < life.size(); ++i)
    seeds.write("wire", "frame-tcp-" + std::to_string(i),
                '\0' + frame(1, false, ip_packet(life[i], false, 40000, 7001)));
  const Segment datagram{true, false, 0, 0, 0, 0, "a datagram"};
  const std::string udp = frame(1, false, ip_packet(datagram, false, 40000, 7001));
  seeds.write("wire", "frame-udp", '\0' + udp);
  seeds.write("wire", "frame-udp-cut", '\0' + udp.substr(0, udp.size() - 12));
  seeds.write("wire", "frame-ipv6", '\0' + frame(1, true, ip_packet(life[0], true, 40000, 7001)));
  seeds.write("wire", "rules",
              "\x01# the rules of docs/wire.md\n"
              "left>right tcp flags=S nth=1 drop\n"
              "right>left tcp flags=SA nth=1-2 delay=3000\n"
              "both tcp len>0 sport=7001 nth=3+ duplicate\n"
              "left>right udp dport=7001 len<=512 hold-and-replay=50\n"
              "both icmp drop\n"
              "right>left ip port=7001 len>=1 delay=20\n");
  seeds.write("wire", "rule-bad", "\x01left>right tcp flags=SX drop\n");
  seeds.write("wire", "directional", "\x01left>right=20");
}

void pcap_seeds(Seeds& seeds) {
  const auto life = tcp_life("hello\n", "hello\n", 2);
  seeds.write("pcap", "ethernet-ipv4", pcap({1, false, false, false}, life, 7006));
  seeds.write("pcap", "ethernet-ipv4-big-endian-ns", pcap({1, true, true, false}, life, 7006));
  seeds.write("pcap", "sll2-ipv6-long-run",
              pcap({276, false, false, true}, tcp_life("GET / HTTP/1.1\r\n\r\n", "x", 24), 7080));
  seeds.write("pcap", "sll-ipv4", pcap({113, false, false, false}, life, 7004));
  // A TLS ClientHello and ServerHello, so the ladder names the records.
  const std::string client_hello("\x16\x03\x01\x00\x05\x01\x00\x00\x01\x03", 10);
  const std::string server_hello("\x16\x03\x03\x00\x04\x02\x00\x00\x00\x14\x03\x03\x00\x01\x01", 15);
  seeds.write("pcap", "raw-ipv4-tls", pcap({101, false, false, false}, tcp_life(client_hello, server_hello, 1), 7443));
  std::vector<Segment> udp;
  for (std::uint32_t i = 0; i < 3; ++i) {
    std::string message;
    tr::encode(tr::Kind::data, i, i, "datagram", message);
    udp.push_back({i != 1, false, 0, 0, 0, 0, message});
  }
  seeds.write("pcap", "raw-ipv6-udp", pcap({101, false, false, true}, udp, 7001));
  // pcapng (what Wireshark saves), with a block no reader knows, and the TCP
  // analysis' classes: a hole, a segment resent, a zero window and its probe.
  namespace syn = netlab::synthetic;
  namespace f = netlab::synthetic::flag;
  syn::CaptureWriter ng(syn::Link::sll2, syn::CaptureWriter::Format::pcapng);
  auto segment = [&](bool from_client, std::uint8_t flags, std::uint32_t seq, std::uint32_t ack, std::uint32_t length,
                     std::uint16_t window = 502) {
    ng.wait(40'000).segment(syn::Segment{from_client, flags, seq, ack, length, window, (flags & f::syn) ? 7 : -1});
  };
  segment(true, f::syn, 100, 0, 0);
  segment(false, f::syn | f::ack, 900, 101, 0);
  ng.unknown_block();
  segment(true, f::ack, 101, 901, 0);
  segment(true, f::ack, 101, 901, 100);
  segment(true, f::ack, 301, 901, 100);                  // 201..301 not captured
  segment(false, f::ack, 901, 201, 0, 0);                // zero window
  segment(true, f::ack, 201, 901, 1);                    // window probe
  segment(true, f::ack, 101, 901, 100);                  // resent
  segment(true, f::ack, 401 + 1'000'000'000u, 901, 10);  // a billion-byte jump
  seeds.write("pcap", "pcapng-sll2-tcp-analysis", ng.bytes());
}

// ---- tls: the messages of real handshakes, run in memory --------------------

namespace tls = netlab::tls;

// The tls target's input: a mode byte (bit 0 received, bit 1 TLS 1.3, bit 2
// alert), then the message as OpenSSL's message callback hands it over.
std::string tls_input(bool received, bool tls13, bool alert, std::span<const std::uint8_t> message) {
  std::string out(1, static_cast<char>((received ? 1 : 0) | (tls13 ? 2 : 0) | (alert ? 4 : 0)));
  out.append(reinterpret_cast<const char*>(message.data()), message.size());
  return out;
}

struct TlsMessage {
  bool received = false;
  int content_type = 0;  // SSL3_RT_HANDSHAKE or SSL3_RT_ALERT
  std::vector<std::uint8_t> bytes;
};

// On the client: every handshake message and alert it sends or receives, in order.
void capture(int write_p, int, int content_type, const void* buf, std::size_t len, SSL*, void* arg) {
  if (content_type != SSL3_RT_HANDSHAKE && content_type != SSL3_RT_ALERT) return;
  const auto* bytes = static_cast<const std::uint8_t*>(buf);
  static_cast<std::vector<TlsMessage>*>(arg)->push_back({write_p == 0, content_type, {bytes, bytes + len}});
}

struct TlsHandshake {
  const char* name;
  tls::Mode mode;
  bool force_hrr;        // the client's first key share is for a group the server does not take
  tls::CertChoice cert;  // expired: the client refuses it with a fatal alert
};

using SslOwner = std::unique_ptr<SSL, decltype(&SSL_free)>;

// Runs SSL_do_handshake on one side; false once that side is done or has failed.
bool step_handshake(SSL* ssl, bool& ok) {
  const int result = SSL_do_handshake(ssl);
  if (result == 1) {
    ok = true;
    return false;
  }
  const int error = SSL_get_error(ssl, result);
  return error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE;
}

// The lab's client and server, joined by a BIO pair instead of a socket, each
// side stepped in turn until neither can go on. Then the client reads (the TLS
// 1.3 session tickets) and both send close_notify.
std::vector<TlsMessage> run_handshake(const TlsHandshake& handshake, const tls::Pki& pki) {
  namespace ssl = boost::asio::ssl;
  ssl::context server_context(ssl::context::tls_server);
  ssl::context client_context(ssl::context::tls_client);
  tls::configure_server(server_context, handshake.mode, pki, handshake.cert);
  tls::configure_client(client_context, handshake.mode, pki.ca_cert().string(), true, handshake.force_hrr);
  SslOwner server(SSL_new(server_context.native_handle()), SSL_free);
  SslOwner client(SSL_new(client_context.native_handle()), SSL_free);
  BIO* client_end = nullptr;
  BIO* server_end = nullptr;
  if (!server || !client || BIO_new_bio_pair(&client_end, 0, &server_end, 0) != 1)
    throw std::runtime_error(std::string("tls seeds ") + handshake.name + ": " + tls::last_error_text());
  SSL_set_bio(client.get(), client_end, client_end);  // each SSL owns its end of the pair from here
  SSL_set_bio(server.get(), server_end, server_end);
  SSL_set_connect_state(client.get());
  SSL_set_accept_state(server.get());
  tls::set_expected_server_name(client.get(), "localhost");
  std::vector<TlsMessage> messages;
  SSL_set_msg_callback(client.get(), capture);
  SSL_set_msg_callback_arg(client.get(), &messages);

  bool client_ok = false, server_ok = false, client_going = true, server_going = true;
  for (int round = 0; round < 32 && (client_going || server_going); ++round) {
    if (client_going) client_going = step_handshake(client.get(), client_ok);
    if (server_going) server_going = step_handshake(server.get(), server_ok);
  }
  const bool should_succeed = handshake.cert == tls::CertChoice::valid;
  if (should_succeed != (client_ok && server_ok))
    throw std::runtime_error(std::string("tls seeds ") + handshake.name + ": the handshake " +
                             (should_succeed ? "failed: " + tls::last_error_text() : "succeeded"));
  if (client_ok && server_ok) {
    char byte = 0;
    (void)SSL_read(client.get(), &byte, 1);  // takes in the session tickets, then wants more
    (void)SSL_shutdown(client.get());        // close_notify, sent
    (void)SSL_shutdown(server.get());
    (void)SSL_shutdown(client.get());  // close_notify, received
  }
  ERR_clear_error();
  return messages;
}

// The DER of a PEM certificate file (the CA's, which no handshake sends).
std::vector<std::uint8_t> certificate_der(const fs::path& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> in(BIO_new_file(pem.c_str(), "r"), BIO_free);
  X509* read = in ? PEM_read_bio_X509(in.get(), nullptr, nullptr, nullptr) : nullptr;
  std::unique_ptr<X509, decltype(&X509_free)> cert(read, X509_free);
  unsigned char* der = nullptr;
  const int length = cert ? i2d_X509(cert.get(), &der) : -1;
  if (length <= 0) throw std::runtime_error("tls seeds: read " + pem.string() + ": " + tls::last_error_text());
  std::vector<std::uint8_t> out(der, der + length);
  OPENSSL_free(der);
  return out;
}

// Removes the PKI made for the handshakes, whatever happens.
struct TemporaryFolder {
  fs::path path;
  ~TemporaryFolder() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
};

void tls_seeds(Seeds& seeds) {
  const TemporaryFolder pki_folder{fs::temp_directory_path() / ("netlab-fuzz-seeds-pki-" + std::to_string(::getpid()))};
  const tls::Pki pki{pki_folder.path};
  tls::ensure_pki(pki.dir);
  const std::vector<TlsHandshake> handshakes = {
      {"tls13", tls::Mode::tls13, false, tls::CertChoice::valid},
      {"tls13-hrr", tls::Mode::tls13, true, tls::CertChoice::valid},
      {"tls13-expired", tls::Mode::tls13, false, tls::CertChoice::expired},
      {"tls12-ecdhe", tls::Mode::tls12_ecdhe, false, tls::CertChoice::valid},
      {"tls12-rsa", tls::Mode::tls12_rsa, false, tls::CertChoice::valid},
  };
  // The certificates alone, for summarize_certificate (as a handshake message they do not parse).
  std::set<std::vector<std::uint8_t>> certificates;
  const auto write_certificate = [&](const std::string& name, const std::vector<std::uint8_t>& der) {
    if (certificates.insert(der).second) seeds.write("tls", name, tls_input(false, false, false, der));
  };
  write_certificate("certificate-der-ca", certificate_der(pki.ca_cert()));
  for (const auto& handshake : handshakes) {
    const bool tls13 = handshake.mode == tls::Mode::tls13;
    const auto messages = run_handshake(handshake, pki);
    for (std::size_t i = 0; i < messages.size(); ++i) {
      const auto& m = messages[i];
      const bool alert = m.content_type == SSL3_RT_ALERT;
      const auto direction = m.received ? tls::Direction::received : tls::Direction::sent;
      const tls::Step step =
          alert ? tls::decode_alert(direction, m.bytes) : tls::decode_handshake(direction, m.bytes, tls13);
      std::string what = alert ? "Alert-" + step.alert : step.message;
      std::replace(what.begin(), what.end(), ' ', '-');
      const std::string number = (i < 10 ? "0" : "") + std::to_string(i);
      seeds.write("tls", std::string(handshake.name) + "-" + number + (m.received ? "-received-" : "-sent-") + what,
                  tls_input(m.received, tls13, alert, m.bytes));
      if (!step.leaf_certificate_der.empty())
        write_certificate(std::string("certificate-der-") + handshake.name + "-leaf", step.leaf_certificate_der);
    }
  }
  // Alerts by hand: one of each level, and one a byte too long.
  const std::vector<std::uint8_t> close_notify = {1, 0}, unknown_ca = {2, 48}, three_bytes = {2, 40, 0};
  seeds.write("tls", "alert-warning-close-notify", tls_input(false, false, true, close_notify));
  seeds.write("tls", "alert-fatal-unknown-ca", tls_input(true, true, true, unknown_ca));
  seeds.write("tls", "alert-three-bytes", tls_input(true, false, true, three_bytes));
}

}  // namespace

namespace {

// ---- h2: h2c connections as a client sends them (frames of RFC 9113 §4.1, HPACK of RFC 7541) ----

void h2_seeds(Seeds& seeds) {
  namespace h2 = netlab::test::h2;
  const std::string start = std::string(h2::preface) + h2::frame(h2::SETTINGS, 0, 0, "");
  // :method POST (static 3), :path /method as a literal with the name of :path (4).
  const std::string post_method = std::string("\x83\x86\x04\x07", 4) + "/method" + "\x01\x09" + "127.0.0.1";
  seeds.write("h2", "get-root", start + h2::frame(h2::HEADERS, h2::END_HEADERS | h2::END_STREAM, 1, h2::get_root()));
  std::string many = start;
  for (std::uint32_t id = 1; id <= 11; id += 2) many += h2::frame(h2::HEADERS, h2::END_HEADERS, id, h2::get_root());
  for (std::uint32_t id = 1; id <= 11; id += 2) many += h2::frame(h2::DATA, h2::END_STREAM, id, "");
  seeds.write("h2", "six-streams-limit-four", many);
  seeds.write("h2", "post-with-body",
              start + h2::frame(h2::HEADERS, h2::END_HEADERS, 1, post_method) + h2::frame(h2::DATA, 0, 1, "hello ") +
                  h2::frame(h2::DATA, h2::END_STREAM, 1, "world") + h2::frame(h2::PING, 0, 0, "12345678") +
                  h2::frame(h2::GOAWAY, 0, 0, std::string(8, '\0')));
  seeds.write("h2", "settings-ack-window-update",
              start + h2::frame(h2::SETTINGS, h2::ACK, 0, "") +
                  h2::frame(h2::WINDOW_UPDATE, 0, 0, std::string("\x00\x01\x00\x00", 4)) +
                  h2::frame(h2::HEADERS, h2::END_HEADERS | h2::END_STREAM, 1, h2::get_root()) +
                  h2::frame(h2::RST_STREAM, 0, 1, std::string("\x00\x00\x00\x08", 4)));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: netlab_fuzz_seeds FOLDER  (writes FOLDER/<target>/<seed>)\n";
    return 2;
  }
  try {
    Seeds seeds(argv[1]);
    codec_seeds(seeds);
    transport_seeds(seeds);
    rpc_seeds(seeds);
    http_seeds(seeds);
    pcap_seeds(seeds);
    wire_seeds(seeds);
    tls_seeds(seeds);
    h2_seeds(seeds);
    std::cout << seeds.written() << " seeds written under " << argv[1] << "\n";
  } catch (const std::exception& e) {
    std::cerr << "netlab_fuzz_seeds: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
