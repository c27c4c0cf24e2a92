// The table of the note's claims (tools/report/claims.cpp) and the report
// card rendered from it: every check the labs emit has a claim with both
// texts, no claim twice, and steps that disagree make a nuanced row that
// says which step gave which verdict.
#include "report/card.hpp"
#include "report/claims.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

namespace fs = std::filesystem;
using netlab::report::Claim;
using netlab::report::claims;
using netlab::report::Source;

namespace {

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Every check id written in the labs' sources: the programs' add_check({.id = "id", ...}
// (also `cond ? "a" : "b"`) and the https script's check_json / demo_check.
// An id ending in "-$mode" stands for that id with some mode: "-1.3" here.
std::set<std::string> emitted_ids() {
  std::set<std::string> ids;
  const std::regex program(
      R"re(add_check\(\s*\{\s*(?:\.id\s*=\s*)?(?:[a-z_]+\s*\?\s*)?"([a-z0-9.-]+)"(?:\s*:\s*"([a-z0-9.-]+)")?)re");
  const std::regex script(R"re((?:check_json|demo_check) "?([a-z0-9.-]+(?:\$mode)?))re");
  const fs::path root = NETLAB_SOURCE_DIR;
  for (const char* dir : {"clients", "servers", "scripts"}) {
    for (const auto& entry : fs::recursive_directory_iterator(root / dir)) {
      const auto ext = entry.path().extension();
      if (!entry.is_regular_file() || (ext != ".cpp" && ext != ".hpp" && ext != ".sh")) continue;
      const std::string text = read_file(entry.path());
      const auto& pattern = ext == ".sh" ? script : program;
      for (std::sregex_iterator it(text.begin(), text.end(), pattern), end; it != end; ++it) {
        for (std::size_t group = 1; group < it->size(); ++group) {
          if (!(*it)[group].matched) continue;
          std::string id = (*it)[group].str();
          if (id.ends_with("$mode")) id.replace(id.size() - 5, 5, "1.3");
          ids.insert(id);
        }
      }
    }
  }
  return ids;
}

// A run folder of one lab with the given checks, in a temporary folder.
struct SyntheticRun {
  fs::path dir;
  explicit SyntheticRun(const std::string& checks) {
    dir = fs::temp_directory_path() / ("netlab-card-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    std::ofstream(dir / "client.json") << R"({"lab":"transport","role":"client","params":{},"observed":{},"checks":[)"
                                       << checks << "]}";
    std::ofstream(dir / "summary.md") << "# netlab transport\n\ncapture skipped: not root (synthetic)\n";
  }
  ~SyntheticRun() { fs::remove_all(dir); }
  std::string card(netlab::report::Lang lang, std::vector<std::string>* unknown = nullptr) const {
    std::ostringstream out;
    auto ids = netlab::report::write_card(netlab::report::card_inputs(dir.string()), "run", lang,
                                          netlab::report::CardFormat::markdown, out);
    if (unknown) *unknown = ids;
    return out.str();
  }
};

std::string check(const std::string& id, const std::string& step, const std::string& verdict,
                  const std::string& observed) {
  return R"({"id":")" + id + R"(","note":"the lab's words","expected":"x","observed":")" + observed +
         R"(","verdict":")" + verdict + R"(","evidence":"e","step":")" + step + R"("})";
}

// The one row of the card for claim `id`.
std::string row_of(const std::string& card, const std::string& id) {
  std::istringstream lines(card);
  std::string line, found;
  while (std::getline(lines, line))
    if (line.find(" `" + id + "` |") != std::string::npos) {
      REQUIRE(found.empty());
      found = line;
    }
  REQUIRE_FALSE(found.empty());
  return found;
}

}  // namespace

TEST_CASE("every claim has an id once, both texts, a heading of the note, and headings in the note's order",
          "[claims]") {
  const auto headings = netlab::report::note_headings();
  std::set<std::string_view> ids;
  std::size_t last_heading = 0;
  for (const Claim& claim : claims()) {
    INFO(claim.id);
    CHECK(ids.insert(claim.id).second);
    CHECK_FALSE(claim.zh.empty());
    CHECK_FALSE(claim.en.empty());
    CHECK(claim.zh != claim.en);
    for (const auto text : {claim.zh, claim.en}) CHECK(text.find_first_of("\t\n|") == std::string_view::npos);
    const auto heading = std::find(headings.begin(), headings.end(), claim.heading);
    REQUIRE(heading != headings.end());
    const auto index = static_cast<std::size_t>(heading - headings.begin());
    CHECK(index >= last_heading);  // grouped, in the note's order
    last_heading = index;
    // An alias is no other claim's id, and resolves to this claim.
    if (!claim.also.empty()) {
      const std::string alias(claim.also.substr(0, claim.also.find(',')));
      const std::string example = alias.ends_with("-*") ? alias.substr(0, alias.size() - 1) + "1.3" : alias;
      CHECK(netlab::report::claim_of(example) == &claim);
      CHECK(netlab::report::claim_of(claim.id) == &claim);
    }
  }
  CHECK(netlab::report::claim_of("no-such-check") == nullptr);
}

TEST_CASE("what the note does not say is not sourced to the note", "[claims]") {
  // The note's http code names only 401 and 403; http header and http和rpc
  // are empty; it never says how random 3 travels nor that TIME_WAIT uses up ports.
  for (const Claim& claim : claims()) {
    INFO(claim.id);
    if (claim.heading == "http header" || claim.heading == "http和rpc") CHECK(claim.source == Source::asked_next);
  }
  for (const char* id : {"status-codes", "random-3-encrypted-with-public-key", "time-wait-exhausts-ports"})
    CHECK(netlab::report::claim_of(id)->source == Source::asked_next);
  for (const char* id : {"401-unauthenticated", "403-forbidden"})
    CHECK(netlab::report::claim_of(id)->source == Source::note);
}

TEST_CASE("every check id the labs' sources emit is a claim with both texts", "[claims]") {
  const auto ids = emitted_ids();
  // The sources hold far more than a handful: an empty set means the patterns broke.
  REQUIRE(ids.size() > 60);
  for (const auto& id : ids) {
    INFO(id);
    const Claim* claim = netlab::report::claim_of(id);
    REQUIRE(claim != nullptr);
    CHECK_FALSE(claim->zh.empty());
    CHECK_FALSE(claim->en.empty());
  }
}

TEST_CASE("steps that disagree make one nuanced row naming which step gave which verdict", "[card]") {
  const SyntheticRun run(check("udp-no-guarantee", "plain", "confirmed", "lost 52") + "," +
                         check("udp-no-guarantee", "lossy-link", "refuted", "lost 0 of 3000") + "," +
                         check("udp-no-guarantee", "idle", "skipped", "not run") + "," +
                         check("tcp-reliable-ordered", "plain", "confirmed", "3000 of 3000") + "," +
                         check("tcp-reliable-ordered", "idle", "skipped", "not run") + "," +
                         check("capture-certificate-1.3", "capture", "refuted", "issuer name not found") + "," +
                         check("made-up-check", "plain", "confirmed", "x"));
  std::vector<std::string> unknown;
  const std::string en = run.card(netlab::report::Lang::en, &unknown);
  const std::string zh = run.card(netlab::report::Lang::zh);

  const std::string udp = row_of(en, "udp-no-guarantee");
  CHECK(udp.find("| **nuanced** |") != std::string::npos);
  CHECK(udp.find("confirmed in plain: lost 52") != std::string::npos);
  CHECK(udp.find("refuted in lossy-link: lost 0 of 3000") != std::string::npos);
  CHECK(udp.find("skipped in idle") != std::string::npos);
  CHECK(udp.find("](summary.md#udp-no-guarantee)") != std::string::npos);
  const std::string udp_zh = row_of(zh, "udp-no-guarantee");
  CHECK(udp_zh.find("| **有条件** |") != std::string::npos);
  CHECK(udp_zh.find("成立：plain（lost 52）") != std::string::npos);
  CHECK(udp_zh.find("不成立：lossy-link（lost 0 of 3000）") != std::string::npos);

  // A skipped step does not make a claim nuanced; an aliased id is its claim's row.
  CHECK(row_of(en, "tcp-reliable-ordered").find("| **confirmed** |") != std::string::npos);
  const std::string certificate = row_of(en, "certificate-in-clear");
  CHECK(certificate.find("| **refuted** | issuer name not found |") != std::string::npos);
  CHECK(certificate.find("https") == std::string::npos);  // the lab is the run's: transport

  // An id the table lacks is listed apart, never given a claim it does not have.
  CHECK(unknown == std::vector<std::string>{"made-up-check"});
  CHECK(en.find("`made-up-check` — **confirmed**") != std::string::npos);
  CHECK(en.find("capture skipped: not root (synthetic)") != std::string::npos);
}

TEST_CASE("a fact is printed on the card but not tallied among the graded verdicts", "[card]") {
  // three-segments only states facts; isn-per-connection has a fact and a
  // graded step (the graded one decides); tcp-needs-connection is graded.
  const SyntheticRun run(check("three-segments", "plain", "fact", "SYN, SYN-ACK, ACK") + "," +
                         check("isn-per-connection", "plain", "fact", "3 different ISNs") + "," +
                         check("isn-per-connection", "capture", "confirmed", "ISN acknowledged") + "," +
                         check("tcp-needs-connection", "plain", "refuted", "x"));
  const std::string en = run.card(netlab::report::Lang::en);
  const std::string zh = run.card(netlab::report::Lang::zh);
  CHECK(row_of(en, "three-segments").find("| **fact** | SYN, SYN-ACK, ACK |") != std::string::npos);
  CHECK(row_of(zh, "three-segments").find("| **事实** | SYN, SYN-ACK, ACK |") != std::string::npos);
  CHECK(row_of(en, "isn-per-connection").find("| **confirmed** |") != std::string::npos);
  // Two graded claims (one confirmed, one refuted), the fact apart.
  CHECK(en.find("` · 2 claims: 1 confirmed, 1 refuted; 1 fact, not graded\n") != std::string::npos);
  CHECK(zh.find("` · 2 个论断：1 成立，1 不成立；另有 1 条事实，不评分\n") != std::string::npos);
}
