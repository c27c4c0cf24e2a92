#pragma once
// The small pieces of HTTP/1.1 the http lab needs that are not Beast's job:
// Basic authentication (RFC 7617: "Authorization: Basic base64(user:password)")
// and the Date header's format (RFC 9110, IMF-fixdate). Pure functions, no
// sockets and no Beast headers, so they are unit-tested on their own.
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

namespace netlab::http_basics {

// Standard base64 (RFC 4648, with '=' padding).
std::string base64_encode(std::string_view bytes);
// nullopt on any character outside the alphabet or a wrong length/padding.
std::optional<std::string> base64_decode(std::string_view text);

struct Credentials {
  std::string user;
  std::string password;
};

// The value of an Authorization header for Basic credentials: "Basic YWxpY2U6d29uZGVybGFuZA==".
std::string basic_authorization(const Credentials& credentials);

// Parses an Authorization header value. nullopt when it is not Basic, is not
// valid base64, or has no ':' between user and password. The scheme name is
// case-insensitive (RFC 9110 §11.1).
std::optional<Credentials> parse_basic_authorization(std::string_view header_value);

// "Sun, 06 Nov 1994 08:49:37 GMT" for `when`.
std::string http_date(std::time_t when);

// A user of the lab's server: "alice:wonderland:reader". Parsed from the
// --user option; nullopt when a part is missing or empty.
struct User {
  std::string name;
  std::string password;
  std::string role;
};
std::optional<User> parse_user(std::string_view spec);

}  // namespace netlab::http_basics
