// The result JSON keeps the schema of DESIGN.md.
#include "program/result.hpp"

#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>

#include <unistd.h>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

TEST_CASE("result JSON has the DESIGN.md schema", "[result]") {
  netlab::Result result("framing", "client");
  result.params()["messages"] = 10;
  result.observed()["mismatches"] = 0;
  result.add_check({.id = "length-restores-boundaries",
                    .claim = "length header restores boundaries",
                    .expected = "10 of 10",
                    .observed = "10 of 10",
                    .verdict = netlab::Verdict::confirmed,
                    .evidence = "checksums"});
  const auto json = result.to_json().as_object();
  CHECK(json.at("lab") == "framing");
  CHECK(json.at("role") == "client");
  CHECK(json.at("params").at("messages") == 10);
  CHECK(json.at("observed").at("mismatches") == 0);
  const auto& check = json.at("checks").as_array().at(0).as_object();
  for (const char* key : {"id", "note", "expected", "observed", "verdict", "evidence"}) CHECK(check.contains(key));
  CHECK(check.at("verdict") == "confirmed");
}

TEST_CASE("result JSON is written to a file and parses back", "[result]") {
  netlab::Result result("framing", "server");
  const auto path = (std::filesystem::temp_directory_path() / ("netlab-result-" + std::to_string(::getpid()))).string();
  result.write(path);
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  CHECK(boost::json::parse(text.str()).at("role") == "server");
  std::remove(path.c_str());
}

TEST_CASE("verdict names", "[result]") {
  CHECK(netlab::to_string(netlab::Verdict::confirmed) == "confirmed");
  CHECK(netlab::to_string(netlab::Verdict::refuted) == "refuted");
  CHECK(netlab::to_string(netlab::Verdict::nuanced) == "nuanced");
  CHECK(netlab::to_string(netlab::Verdict::fact) == "fact");
  CHECK(netlab::to_string(netlab::Verdict::skipped) == "skipped");
}
