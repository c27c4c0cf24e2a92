// The transport lab's message header and the receiver's accounting, on
// hand-made bytes and hand-made sequences: no sockets.
#include "kernel/netstat.hpp"
#include "proto/transport_message.hpp"

#include <catch2/catch.hpp>

#include <initializer_list>

namespace tr = netlab::transport;

namespace {

std::string message(std::uint64_t sequence, std::string_view payload, tr::Kind kind = tr::Kind::data) {
  std::string out;
  tr::encode(kind, sequence, 1234567, payload, out);
  return out;
}

tr::SequenceAccounting account(std::initializer_list<std::uint64_t> arrivals) {
  tr::SequenceAccounting a;
  for (auto s : arrivals) a.on_message(s, 10);
  return a;
}

}  // namespace

TEST_CASE("a message is a 32-byte big-endian header and the payload", "[header]") {
  const std::string bytes = message(0x0102030405060708, "abc");
  REQUIRE(bytes.size() == tr::header_size + 3);
  CHECK(bytes.substr(0, 4) == "NLT1");
  CHECK(bytes[4] == 0);
  CHECK(bytes[5] == 1);  // kind data
  CHECK(bytes.substr(8, 8) == std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8));
  CHECK(bytes.substr(24, 4) == std::string("\0\0\0\x03", 4));
  CHECK(bytes.substr(32) == "abc");
  const auto decoded = tr::decode_datagram(bytes);
  REQUIRE(decoded.message);
  CHECK(decoded.message->header.kind == tr::Kind::data);
  CHECK(decoded.message->header.sequence == 0x0102030405060708);
  CHECK(decoded.message->header.send_time_us == 1234567);
  CHECK(decoded.message->header.length == 3);
  CHECK(decoded.message->payload == "abc");
}

TEST_CASE("decode_datagram refuses truncated, foreign, oversized and corrupted datagrams", "[header]") {
  const std::string good = message(7, "payload");
  SECTION("every truncation") {
    for (std::size_t n = 0; n < good.size(); ++n) {
      const auto d = tr::decode_datagram(std::string_view(good).substr(0, n));
      CHECK_FALSE(d.message);
      CHECK(*d.error == (n < tr::header_size ? tr::DecodeError::too_short : tr::DecodeError::length_mismatch));
    }
  }
  SECTION("trailing bytes") { CHECK(*tr::decode_datagram(good + "x").error == tr::DecodeError::length_mismatch); }
  SECTION("not ours") {
    CHECK(*tr::decode_datagram("GET / HTTP/1.1\r\nHost: x\r\n\r\nxxxxxxxxxxxxxx").error == tr::DecodeError::bad_magic);
  }
  SECTION("an unknown kind") {
    std::string bad = good;
    bad[5] = 9;
    CHECK(*tr::decode_datagram(bad).error == tr::DecodeError::bad_kind);
  }
  SECTION("a length over the cap") {
    std::string bad = good;
    bad.replace(24, 4, std::string("\x7f\xff\xff\xff", 4));
    CHECK(*tr::decode_datagram(bad).error == tr::DecodeError::oversized);
  }
  SECTION("any one flipped bit is caught by the checksum") {
    for (std::size_t i = 8; i < good.size(); ++i) {
      if (i >= 24 && i < 28) continue;  // the length: a length mismatch instead
      std::string bad = good;
      bad[i] = static_cast<char>(bad[i] ^ 0x10);
      INFO("byte " << i);
      CHECK(*tr::decode_datagram(bad).error == tr::DecodeError::bad_checksum);
    }
  }
}

TEST_CASE("encode refuses a payload over the cap", "[header]") {
  std::string out;
  CHECK_THROWS_AS(tr::encode(tr::Kind::data, 0, 0, std::string(tr::max_payload + 1, 'x'), out), std::length_error);
  CHECK(out.empty());
  CHECK_NOTHROW(tr::encode(tr::Kind::data, 0, 0, std::string(tr::max_payload, 'x'), out));
}

TEST_CASE("the stream decoder takes messages one byte at a time", "[stream]") {
  const std::string stream =
      message(0, "first") + message(1, "") + message(2, std::string(1000, 'z')) + message(3, "", tr::Kind::done);
  tr::StreamDecoder decoder;
  std::vector<tr::StreamDecoder::Owned> got;
  for (char c : stream) REQUIRE_FALSE(decoder.feed({&c, 1}, got));
  REQUIRE(got.size() == 4);
  CHECK(got[0].payload == "first");
  CHECK(got[1].payload.empty());
  CHECK(got[2].payload == std::string(1000, 'z'));
  CHECK(got[3].header.kind == tr::Kind::done);
  CHECK(got[3].header.sequence == 3);
  CHECK(decoder.buffered() == 0);
}

TEST_CASE("the stream decoder: half a header stays buffered, and a bad header stops parsing", "[stream]") {
  tr::StreamDecoder decoder;
  std::vector<tr::StreamDecoder::Owned> got;
  const std::string good = message(0, "ok");
  CHECK_FALSE(decoder.feed(good + good.substr(0, 16), got));
  CHECK(got.size() == 1);
  CHECK(decoder.buffered() == 16);  // half a header: reported at end of stream

  tr::StreamDecoder bad;
  got.clear();
  CHECK(*bad.feed(good + std::string(40, 'G') + good, got) == tr::DecodeError::bad_magic);
  CHECK(got.size() == 1);  // the message before the garbage, and nothing after it
  CHECK(*bad.feed(good, got) == tr::DecodeError::bad_magic);
  CHECK(got.size() == 1);
}

TEST_CASE("peek_header reads kind and sequence without the checksum", "[header]") {
  std::string bytes = message(42, "abc");
  bytes.back() = 'X';  // corrupt payload
  const auto h = tr::peek_header(bytes);
  REQUIRE(h);
  CHECK(h->sequence == 42);
  CHECK_FALSE(tr::peek_header("short"));
}

TEST_CASE("accounting: in order, nothing lost", "[accounting]") {
  const auto a = account({0, 1, 2, 3, 4});
  CHECK(a.received() == 5);
  CHECK(a.unique() == 5);
  CHECK(a.lost(5) == 0);
  CHECK(a.reordered() == 0);
  CHECK(a.duplicated() == 0);
  CHECK(a.bytes() == 50);
}

TEST_CASE("accounting: gaps never filled are lost, including the tail", "[accounting]") {
  const auto a = account({0, 2, 3, 6});
  CHECK(a.lost(8) == 4);  // 1, 4, 5, 7
  CHECK(a.reordered() == 0);
  CHECK(a.extent() == 7);
}

TEST_CASE("accounting: a number after a higher one is reordered, a repeat is duplicated", "[accounting]") {
  const auto a = account({0, 2, 1, 3, 3, 1, 5, 4});
  CHECK(a.reordered() == 2);   // 1 after 2, 4 after 5
  CHECK(a.duplicated() == 2);  // the second 3, the second 1
  CHECK(a.received() == 8);
  CHECK(a.unique() == 6);
  CHECK(a.lost(6) == 0);
}

TEST_CASE("accounting: a late arrival fills its gap, so it is reordered, not lost", "[accounting]") {
  const auto a = account({1, 2, 3, 0});
  CHECK(a.lost(4) == 0);
  CHECK(a.reordered() == 1);
}

TEST_CASE("accounting: numbers over the cap are corrupt, not allocated", "[accounting]") {
  tr::SequenceAccounting a(100);
  CHECK(a.on_message(100, 1) == tr::SequenceAccounting::Arrival::out_of_range);
  CHECK(a.on_message(UINT64_MAX, 1) == tr::SequenceAccounting::Arrival::out_of_range);
  CHECK(a.corrupted() == 2);
  CHECK(a.received() == 0);
  CHECK(a.extent() == 0);
}

TEST_CASE("/proc/net/snmp text is read by group and name", "[snmp]") {
  const std::string text =
      "Ip: Forwarding DefaultTTL\nIp: 1 64\n"
      "Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors\n"
      "Udp: 26 3 5 27 4 0\n"
      "UdpLite: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors\n"
      "UdpLite: 0 0 0 0 0 0\n";
  const auto udp = netlab::parse_snmp(text, "Udp");
  CHECK(udp.at("RcvbufErrors") == 4);
  CHECK(udp.at("InErrors") == 5);
  CHECK(udp.size() == 6);
  CHECK(netlab::parse_snmp(text, "Tcp").empty());
  CHECK(netlab::parse_snmp("Udp: A B\nUdp: 1\n", "Udp").empty());  // names and values do not match
  // The real file on this machine has the counter the lab reads.
  CHECK(netlab::read_snmp_counter("Udp", "RcvbufErrors").has_value());
}
