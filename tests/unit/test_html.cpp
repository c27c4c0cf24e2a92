// The report page (tools/report/html.cpp): everything that comes from a
// run's JSON, logs or chart files reaches the page as text or as an image,
// never as markup; a verdict word the page does not know gets a neutral badge.
#include "report/html.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace fs = std::filesystem;
using netlab::report::data_uri;
using netlab::report::html_escape;

namespace {

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// A run folder whose client.json, server.log and ladder.svg all carry markup.
struct HostileRun {
  fs::path dir;
  HostileRun() {
    dir = fs::temp_directory_path() / ("netlab-html-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    std::ofstream(dir / "client.json")
        << R"({"lab":"transport","role":"client","params":{},"observed":{},"checks":[)"
        << R"({"id":"tcp-needs-connection","note":"n","expected":"x","observed":"<script>alert(1)</script> & \"q\"","verdict":"confirmed","evidence":"e","step":"plain"},)"
        << R"({"id":"tcp-reliable-ordered","note":"n","expected":"x","observed":"o","verdict":"fact","evidence":"e","step":"plain"},)"
        << R"({"id":"no-such-claim","note":"<img src=x onerror=alert(2)>","expected":"x","observed":"o","verdict":"refuted","evidence":"e","step":"plain"})"
        << "]}";
    std::ofstream(dir / "server.log") << "ok line\n<script>alert(3)</script>\n";
    std::ofstream(dir / "ladder.svg")
        << R"(<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(4)</script></svg>)";
  }
  ~HostileRun() { fs::remove_all(dir); }
  std::string page(netlab::report::Lang lang) const {
    std::ostringstream out;
    netlab::report::write_html(dir.string(), lang, out);
    return out.str();
  }
};

}  // namespace

TEST_CASE("html_escape turns markup into text", "[html]") {
  CHECK(html_escape(R"(<script>alert('x')</script> & "q")") ==
        "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;");
  CHECK(html_escape("&lt;") == "&amp;lt;");
  CHECK(html_escape("a\tb\nc") == "a\tb\nc");
  CHECK(html_escape(std::string("a\x01\x1b[31mb\x7f", 9)) == "a[31mb");
  CHECK(html_escape("四次挥手") == "四次挥手");
}

TEST_CASE("data_uri is base64 with padding", "[html]") {
  CHECK(data_uri("text/plain", "") == "data:text/plain;base64,");
  CHECK(data_uri("t", "f") == "data:t;base64,Zg==");
  CHECK(data_uri("t", "fo") == "data:t;base64,Zm8=");
  CHECK(data_uri("t", "foo") == "data:t;base64,Zm9v");
  CHECK(data_uri("t", "foobar") == "data:t;base64,Zm9vYmFy");
  CHECK(data_uri("t", std::string("\xff\x00\x80", 3)) == "data:t;base64,/wCA");
}

TEST_CASE("a run's JSON, log and SVG reach the page as text and images only", "[html]") {
  const HostileRun run;
  for (const auto lang : {netlab::report::Lang::zh, netlab::report::Lang::en}) {
    const std::string page = run.page(lang);
    const std::string folded = lower(page);
    CHECK(folded.find("<script") == std::string::npos);
    CHECK(folded.find("<img src=x") == std::string::npos);
    CHECK(page.find("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;q&quot;") != std::string::npos);
    CHECK(page.find("&lt;script&gt;alert(3)&lt;/script&gt;") != std::string::npos);
    CHECK(page.find("&lt;img src=x onerror=alert(2)&gt;") != std::string::npos);
    // The SVG is an <img> of a data: URI: its script is inert bytes in base64.
    CHECK(page.find(
              "<img src=\"" +
              data_uri(
                  "image/svg+xml",
                  R"(<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(4)</script></svg>)") +
              "\"") != std::string::npos);
    // A fact is printed, in its own outlined badge, in both languages.
    CHECK(page.find("<span class=\"badge v-fact\"><span class=\"zh\" lang=\"zh\">事实</span>") != std::string::npos);
    CHECK(page.find("<span class=\"badge v-confirmed\">") != std::string::npos);
    CHECK(page.find(lang == netlab::report::Lang::zh
                        ? "id=\"lang-zh\" class=\"switch\" checked>"
                        : "id=\"lang-en\" class=\"switch\" checked>") != std::string::npos);
  }
}
