// Basic authentication and the Date header: known vectors from the RFCs;
// rendering a message in one piece (http_session::render) against Beast's own
// ostream output.
#include "proto/http_basics.hpp"
#include "proto/http_session.hpp"

#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <sstream>

#include <catch2/catch.hpp>

using namespace netlab::http_basics;

TEST_CASE("base64 matches RFC 4648's test vectors", "[base64]") {
  const std::vector<std::pair<std::string, std::string>> vectors{{"", ""},
                                                                 {"f", "Zg=="},
                                                                 {"fo", "Zm8="},
                                                                 {"foo", "Zm9v"},
                                                                 {"foob", "Zm9vYg=="},
                                                                 {"fooba", "Zm9vYmE="},
                                                                 {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    CHECK(base64_encode(plain) == encoded);
    REQUIRE(base64_decode(encoded).has_value());
    CHECK(*base64_decode(encoded) == plain);
  }
  std::string all_bytes;
  for (int i = 0; i < 256; ++i) all_bytes.push_back(static_cast<char>(i));
  CHECK(base64_decode(base64_encode(all_bytes)) == all_bytes);
}

TEST_CASE("base64_decode refuses what is not base64", "[base64]") {
  CHECK_FALSE(base64_decode("Zg="));       // length not a multiple of 4
  CHECK_FALSE(base64_decode("Z!=="));      // outside the alphabet
  CHECK_FALSE(base64_decode("Zg==Zm8="));  // padding in the middle
  CHECK_FALSE(base64_decode("Z=g="));      // data after padding
  CHECK_FALSE(base64_decode("===="));
}

TEST_CASE("Basic credentials: RFC 7617's example and malformed headers", "[basic]") {
  // RFC 7617 §2: Aladdin / open sesame.
  CHECK(basic_authorization({"Aladdin", "open sesame"}) == "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
  auto parsed = parse_basic_authorization("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
  REQUIRE(parsed);
  CHECK(parsed->user == "Aladdin");
  CHECK(parsed->password == "open sesame");
  // The scheme is case-insensitive; the password may hold ':'.
  parsed = parse_basic_authorization("basic " + base64_encode("alice:pass:word"));
  REQUIRE(parsed);
  CHECK(parsed->password == "pass:word");
  CHECK_FALSE(parse_basic_authorization("Bearer QWxhZGRpbjpvcGVuIHNlc2FtZQ=="));
  CHECK_FALSE(parse_basic_authorization("Basic"));
  CHECK_FALSE(parse_basic_authorization("Basic not-base64!"));
  CHECK_FALSE(parse_basic_authorization("Basic " + base64_encode("no-colon")));
  CHECK_FALSE(parse_basic_authorization(""));
}

TEST_CASE("the Date header is IMF-fixdate", "[date]") {
  CHECK(http_date(784111777) == "Sun, 06 Nov 1994 08:49:37 GMT");  // RFC 9110's example
  CHECK(http_date(0) == "Thu, 01 Jan 1970 00:00:00 GMT");
}

TEST_CASE("user specs as --user takes them", "[users]") {
  const auto user = parse_user("alice:wonderland:reader");
  REQUIRE(user);
  CHECK(user->name == "alice");
  CHECK(user->password == "wonderland");
  CHECK(user->role == "reader");
  CHECK_FALSE(parse_user("alice:wonderland"));
  CHECK_FALSE(parse_user("alice::reader"));
  CHECK_FALSE(parse_user(":x:y"));
  CHECK_FALSE(parse_user("a:b:"));
}

TEST_CASE("render: the bytes Beast writes, in one string, and header_only stops before the body", "[render]") {
  namespace http = boost::beast::http;
  for (const std::size_t size : {std::size_t{0}, std::size_t{121}, std::size_t{300'000}}) {
    http::response<http::string_body> res{http::status::ok, 11};
    res.set(http::field::server, "netlab-test");
    res.set(http::field::content_type, "text/plain");
    for (std::size_t i = 0; i < size; ++i) res.body().push_back(static_cast<char>('a' + i % 26));
    res.prepare_payload();
    std::ostringstream whole, header;
    whole << res;
    header << res.base();
    INFO("body of " << size << " bytes");
    CHECK(netlab::http_session::render(res) == whole.str());
    const std::string head = netlab::http_session::render(res, true);
    CHECK(head == header.str());
    CHECK(head.find("Content-Length: " + std::to_string(size) + "\r\n") != std::string::npos);
    CHECK(head.size() + size == whole.str().size());
  }
  http::request<http::string_body> req{http::verb::post, "/rpc/get", 11};
  req.set(http::field::host, "127.0.0.1");
  req.body() = R"({"key":"k"})";
  req.prepare_payload();
  std::ostringstream expected;
  expected << req;
  CHECK(netlab::http_session::render(req) == expected.str());
}
