#include "html.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <ostream>
#include <sstream>

namespace fs = std::filesystem;

namespace netlab::report {

std::string data_uri(std::string_view mime, std::string_view bytes) {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out = "data:" + std::string(mime) + ";base64,";
  out.reserve(out.size() + (bytes.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    const std::size_t left = std::min<std::size_t>(3, bytes.size() - i);
    std::uint32_t group = 0;
    for (std::size_t k = 0; k < 3; ++k) group = group << 8 | (k < left ? static_cast<unsigned char>(bytes[i + k]) : 0U);
    for (std::size_t k = 0; k < 4; ++k) out += k <= left ? alphabet[(group >> (18 - 6 * k)) & 0x3F] : '=';
  }
  return out;
}

namespace {

// A file's bytes, at most `cap` of them; "" when it cannot be read.
std::string read_capped(const fs::path& path, std::size_t cap) {
  std::ifstream in(path, std::ios::binary);
  std::string bytes;
  bytes.resize(cap);
  in.read(bytes.data(), static_cast<std::streamsize>(cap));
  bytes.resize(static_cast<std::size_t>(std::max<std::streamsize>(in.gcount(), 0)));
  return bytes;
}

// The last `count` lines of a text file, each clipped (a log can be long).
std::vector<std::string> last_lines(const fs::path& path, std::size_t count) {
  std::ifstream in(path);
  std::deque<std::string> lines;
  std::string line;
  for (std::size_t n = 0; n < 1'000'000 && std::getline(in, line); ++n) {
    if (line.size() > 240) line = line.substr(0, 240) + "…";
    lines.push_back(std::move(line));
    if (lines.size() > count) lines.pop_front();
  }
  return {lines.begin(), lines.end()};
}

// Both languages of one text; the page's switch hides one of them.
std::string both(std::string_view zh, std::string_view en) {
  return "<span class=\"zh\" lang=\"zh\">" + html_escape(zh) + "</span><span class=\"en\" lang=\"en\">" +
         html_escape(en) + "</span>";
}

// The badge's colour class: the verdicts the page knows (a fact, printed and
// not graded, in an outlined badge); any other word is shown as it is, in a
// neutral badge.
std::string_view verdict_class(std::string_view verdict) {
  for (const std::string_view known : {"confirmed", "refuted", "nuanced", "fact", "skipped"})
    if (verdict == known) return known;
  return "other";
}

struct Figure {
  std::string_view file, zh, en;
};

// The charts a run folder can hold (scripts/lib/run.sh, scripts/labs/transport.sh).
constexpr std::array<Figure, 4> figures{{
    {"ladder.svg", "抓包里的一个连接（时序图）", "One connection, from the capture (ladder)"},
    {"ss-chart.svg", "实验端口上各状态的套接字数（ss）", "Sockets by state on the lab's port (ss)"},
    {"cwnd.svg", "拥塞窗口随时间变化", "Congestion window over time"},
    {"cwnd-algorithms.svg", "各拥塞控制算法的拥塞窗口", "Congestion window per algorithm"},
}};

// Our SVGs are a few kB; a file far larger is not one of ours.
constexpr std::size_t svg_cap = 4 << 20;

void write_figures(const CardInput& input, std::ostream& out) {
  const fs::path dir = fs::path(input.json_path).parent_path();
  for (const auto& figure : figures) {
    const fs::path path = dir / figure.file;
    std::error_code ec;
    if (!fs::is_regular_file(path, ec) || fs::file_size(path, ec) > svg_cap || ec) continue;
    // As an <img> the SVG is an image: any script in it never runs.
    out << "<figure><img src=\"" << data_uri("image/svg+xml", read_capped(path, svg_cap)) << "\" alt=\""
        << html_escape(input.lab) << ": " << html_escape(figure.en) << "\"><figcaption>" << html_escape(input.lab)
        << ": " << both(figure.zh, figure.en) << " <code>" << html_escape(input.link_prefix) << figure.file
        << "</code></figcaption></figure>\n";
  }
}

constexpr std::string_view style = R"css(
:root { color-scheme: light; }
body { margin: 0; font: 22px/1.45 "Noto Sans", "DejaVu Sans", "Noto Sans CJK SC", "WenQuanYi Micro Hei", sans-serif; color: #111; background: #fff; }
main { max-width: 1500px; margin: 0 auto; padding: 1em 1.5em 3em; }
h1 { font-size: 1.9em; margin: .2em 0; }
h2 { font-size: 1.45em; margin: 1.6em 0 .4em; border-bottom: 3px solid #222; }
code { font-size: .8em; color: #444; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: .45em .6em; border-bottom: 1px solid #bbb; }
th { font-size: .85em; color: #333; }
td.measured { font-size: .85em; }
td:first-child, td:last-child, th:last-child { white-space: nowrap; }
.badge { display: inline-block; min-width: 6.5em; text-align: center; padding: .15em .5em; border-radius: .4em;
         font-weight: bold; color: #fff; border: 2px solid transparent; }
.v-confirmed { background: #176b2c; }
.v-refuted { background: #b3261e; }
.v-nuanced { background: #8a5a00; }
.v-skipped { background: #5f6368; }
.v-fact { background: #fff; color: #1a3c6e; border-color: #1a3c6e; }
.v-other { background: #fff; color: #111; border-color: #111; }
figure { margin: 1em 0; }
figure img { width: 100%; max-width: 1200px; height: auto; border: 1px solid #ccc; }
figcaption { font-size: .85em; color: #333; }
pre { font-size: .7em; background: #f4f4f4; padding: .6em; overflow-x: auto; white-space: pre-wrap; }
.switch { position: absolute; opacity: 0; }
.langs label { display: inline-block; padding: .2em .8em; border: 2px solid #222; border-radius: .4em; cursor: pointer; margin-right: .3em; }
#lang-zh:checked ~ main label[for=lang-zh], #lang-en:checked ~ main label[for=lang-en] { background: #222; color: #fff; }
#lang-zh:checked ~ main .en, #lang-en:checked ~ main .zh { display: none; }
)css";

}  // namespace

void write_html(const std::string& run_dir, Lang lang, std::ostream& out) {
  const auto inputs = card_inputs(run_dir);
  const CardData zh = card_data(inputs, Lang::zh);
  const CardData en = card_data(inputs, Lang::en);
  fs::path folder = fs::path(run_dir).lexically_normal();
  if (folder.filename().empty()) folder = folder.parent_path();  // "runs/x/"
  const std::string title = folder.filename().string();
  const char* checked_zh = lang == Lang::zh ? " checked" : "";
  const char* checked_en = lang == Lang::en ? " checked" : "";

  out << "<!DOCTYPE html>\n<html lang=\"" << (lang == Lang::zh ? "zh" : "en")
      << "\">\n<head>\n<meta charset=\"utf-8\">\n"
      << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>netlab — "
      << html_escape(title) << "</title>\n<style>" << style << "</style>\n</head>\n<body>\n"
      << "<input type=\"radio\" name=\"lang\" id=\"lang-zh\" class=\"switch\"" << checked_zh << ">\n"
      << "<input type=\"radio\" name=\"lang\" id=\"lang-en\" class=\"switch\"" << checked_en << ">\n<main>\n"
      << "<nav class=\"langs\"><label for=\"lang-zh\">中文</label><label for=\"lang-en\">English</label></nav>\n"
      << "<h1>" << both("笔记成绩单", "Report card of the note") << "</h1>\n"
      << "<p><code>" << html_escape(title) << "</code> · " << both(zh.tally, en.tally) << "</p>\n"
      << "<p>"
      << both("来源：笔记——笔记的标题和它的原话；追问——面试官接着会问、由实验补上的问题。",
              "Source: note — the note's heading and its words; asked next — the follow-up an interviewer "
              "asks, which the lab adds.")
      << "</p>\n";

  std::vector<std::string> shown_labs;
  for (const auto heading : note_headings()) {
    const bool any =
        std::any_of(zh.rows.begin(), zh.rows.end(), [&](const CardRow& row) { return row.claim->heading == heading; });
    if (!any) continue;
    out << "<section>\n<h2>" << html_escape(heading) << "</h2>\n<table>\n<thead><tr><th>" << both("结论", "verdict")
        << "</th><th>" << both("论断", "claim") << "</th><th>" << both("决定性的测量", "deciding measurement")
        << "</th><th>" << both("来源", "source") << "</th></tr></thead>\n<tbody>\n";
    std::vector<std::string> labs_here;
    for (std::size_t i = 0; i < zh.rows.size(); ++i) {
      const CardRow& row_zh = zh.rows[i];
      const CardRow& row_en = en.rows[i];
      if (row_zh.claim->heading != heading) continue;
      out << "<tr id=\"" << html_escape(row_zh.claim->id) << "\"><td><span class=\"badge v-"
          << verdict_class(row_zh.verdict) << "\">" << both(row_zh.verdict_word, row_en.verdict_word)
          << "</span></td><td>" << both(row_zh.claim->zh, row_zh.claim->en) << " <code>"
          << html_escape(row_zh.claim->id) << "</code></td><td class=\"measured\">"
          << both(row_zh.deciding, row_en.deciding) << "</td><td>" << both(row_zh.source_word, row_en.source_word)
          << "</td></tr>\n";
      for (const auto& lab : row_zh.labs)
        if (std::find(shown_labs.begin(), shown_labs.end(), lab) == shown_labs.end()) {
          shown_labs.push_back(lab);
          labs_here.push_back(lab);
        }
    }
    out << "</tbody>\n</table>\n";
    for (const auto& input : inputs)
      if (std::find(labs_here.begin(), labs_here.end(), input.lab) != labs_here.end()) write_figures(input, out);
    out << "</section>\n";
  }

  const bool rest = std::any_of(inputs.begin(), inputs.end(), [&](const CardInput& input) {
    return std::find(shown_labs.begin(), shown_labs.end(), input.lab) == shown_labs.end();
  });
  if (!zh.unknown.empty() || rest) {
    out << "<section>\n<h2>"
        << both("不在论断表里的检查（实验自己的说法）",
                "Checks that are not in the table of claims (the lab's own words)")
        << "</h2>\n<ul>\n";
    for (const auto& check : zh.unknown)
      out << "<li><span class=\"badge v-" << verdict_class(check.verdict) << "\">" << html_escape(check.verdict)
          << "</span> " << html_escape(check.lab) << ", " << html_escape(check.label) << ": " << html_escape(check.note)
          << " <code>" << html_escape(check.check_id) << "</code></li>\n";
    out << "</ul>\n";
    for (const auto& input : inputs)
      if (std::find(shown_labs.begin(), shown_labs.end(), input.lab) == shown_labs.end()) write_figures(input, out);
    out << "</section>\n";
  }

  out << "<section>\n<h2>" << both("各实验的运行目录", "The labs' run folders") << "</h2>\n";
  if (!zh.capture_notes.empty()) {
    out << "<ul>\n";
    for (const auto& note : zh.capture_notes) out << "<li>" << html_escape(note) << "</li>\n";
    out << "</ul>\n";
  }
  for (const auto& input : inputs) {
    const fs::path dir = fs::path(input.json_path).parent_path();
    out << "<details><summary>" << html_escape(input.lab) << ": <a href=\"" << html_escape(input.link_prefix)
        << "summary.md\">" << html_escape(input.link_prefix) << "summary.md</a> · "
        << both("server.log 的最后几行", "the last lines of server.log") << "</summary>\n<pre>";
    for (const auto& line : last_lines(dir / "server.log", 15)) out << html_escape(line) << "\n";
    out << "</pre></details>\n";
  }
  out << "</section>\n</main>\n</body>\n</html>\n";
}

}  // namespace netlab::report
