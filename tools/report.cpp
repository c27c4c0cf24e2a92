// netlab-report: turns the result JSON of a lab run into what a person reads.
//   merge   --lab L FILE...   one result whose steps are the given results, checks tagged by step
//   summary --lab L FILE      Markdown for summary.md: the verdict table and each step's numbers
//   table   FILE              the verdict table, aligned for a terminal
//   get     FILE POINTER      one value by JSON pointer (for scripts and tests)
//   checks  FILE              one tab-separated line per check: step, id, verdict, note, observed, evidence
//   chart   SS_CSV [--svg F]  sparklines of the socket states over time (ss.csv), and an SVG chart
//   card    RUN_DIR --lang L  the report card: one row per claim of the note (report/claims.cpp)
//   html    RUN_DIR --lang L  the report page (index.html): the card, the charts, both languages (report/html.cpp)
//   claims                    the table of claims, tab-separated (id, heading, source, zh, en, also)
// It reads files only; it opens no socket.
#include "program/options.hpp"
#include "report/card.hpp"
#include "report/claims.hpp"
#include "report/html.hpp"
#include "report/result_file.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace json = boost::json;
using netlab::report::cell;
using netlab::report::field;
using netlab::report::load_object;
using netlab::report::load_result;
using netlab::report::text_of;

namespace {

// The step a result stands for: the STEP of a file named client-STEP.json (the
// lab scripts' convention), else its codec or mode, else the file's name.
std::string step_name(const json::object& result, const std::string& path) {
  const std::string stem = std::filesystem::path(path).stem().string();
  if (stem.rfind("client-", 0) == 0 && stem.size() > 7) return stem.substr(7);
  if (const auto* params = result.if_contains("params"); params && params->is_object()) {
    for (const char* key : {"codec", "mode"})
      if (auto name = field(params->as_object(), key); !name.empty()) return name;
  }
  return std::filesystem::path(path).filename().string();
}

int merge(const std::string& lab, const std::vector<std::string>& paths) {
  json::array steps;
  json::array checks;
  for (const auto& path : paths) {
    json::object result = load_result(path);
    const std::string step = step_name(result, path);
    for (const auto& check : result.at("checks").as_array()) {
      if (!check.is_object()) continue;
      json::object tagged = check.as_object();
      tagged["step"] = step;
      checks.push_back(std::move(tagged));
    }
    steps.push_back(std::move(result));
  }
  json::object merged{{"lab", lab},
                      {"role", "client"},
                      {"params", json::object{}},
                      {"observed", json::object{{"steps", std::move(steps)}}},
                      {"checks", std::move(checks)}};
  std::cout << json::serialize(merged) << "\n";
  return 0;
}

// The scalar numbers of an observed object, "key=value, ...", nested objects as a.b=value.
void flatten(const json::object& object, const std::string& prefix, std::vector<std::string>& out) {
  for (const auto& [key, value] : object) {
    const std::string name = prefix + std::string(key);
    if (value.is_object())
      flatten(value.as_object(), name + ".", out);
    else if (value.is_array())
      out.push_back(name + "=[" + std::to_string(value.as_array().size()) + " items]");
    else
      out.push_back(name + "=" + text_of(&value));
  }
}

std::string compact(const json::value* observed) {
  std::vector<std::string> parts;
  if (observed && observed->is_object()) flatten(observed->as_object(), "", parts);
  std::string line;
  for (const auto& part : parts) line += (line.empty() ? "" : ", ") + part;
  return line.empty() ? "(nothing recorded)" : line;
}

// An id that can be an HTML anchor as it is.
bool is_anchor(const std::string& id) {
  return !id.empty() && std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
  });
}

int summary(const std::string& lab, const std::string& path) {
  const json::object result = load_result(path);
  std::cout << "# netlab " << lab << ": does the note hold?\n\n"
            << "| check | verdict | observed | evidence |\n|---|---|---|---|\n";
  std::vector<std::string> anchored;
  for (const auto& value : result.at("checks").as_array()) {
    if (!value.is_object()) continue;
    const auto& check = value.as_object();
    // The report card links to the first row of each check id.
    const std::string id = field(check, "id");
    std::string anchor;
    if (is_anchor(id) && std::find(anchored.begin(), anchored.end(), id) == anchored.end()) {
      anchored.push_back(id);
      anchor = "<a id=\"" + id + "\"></a>";
    }
    // The claim in the table's words and with its source, as on the report
    // card; a check the table does not have keeps the lab's own words.
    const auto* claim = netlab::report::claim_of(id);
    std::string name =
        claim ? "(" + std::string(to_string(claim->source)) + ") " + std::string(claim->en) : field(check, "note");
    name += " (`" + id + "`";
    if (auto step = field(check, "step"); !step.empty()) name += ", " + step;
    name += ")";
    std::cout << "| " << anchor << cell(name) << " | **" << cell(field(check, "verdict")) << "** | "
              << cell(field(check, "observed")) << " | " << cell(field(check, "evidence")) << " |\n";
  }
  std::cout << "\n## Observed\n\n";
  const auto* observed = result.if_contains("observed");
  const json::value* steps = observed && observed->is_object() ? observed->as_object().if_contains("steps") : nullptr;
  if (steps && steps->is_array()) {
    for (const auto& step : steps->as_array()) {
      if (!step.is_object()) continue;
      std::cout << "- **" << step_name(step.as_object(), "step")
                << "**: " << compact(step.as_object().if_contains("observed")) << "\n";
    }
  } else {
    std::cout << "- " << compact(observed) << "\n";
  }
  return 0;
}

int table(const std::string& path) {
  const json::object result = load_result(path);
  std::vector<std::vector<std::string>> rows{{"step", "check", "verdict", "observed"}};
  for (const auto& value : result.at("checks").as_array()) {
    if (!value.is_object()) continue;
    const auto& check = value.as_object();
    rows.push_back({field(check, "step"), field(check, "id"), field(check, "verdict"), field(check, "observed")});
  }
  const bool has_steps = std::any_of(rows.begin() + 1, rows.end(), [](const auto& row) { return !row[0].empty(); });
  std::vector<std::size_t> width(4, 0);
  for (const auto& row : rows)
    for (std::size_t i = 0; i < 3; ++i) width[i] = std::max(width[i], row[i].size());
  for (const auto& row : rows) {
    std::string line = has_steps ? row[0] + std::string(width[0] - row[0].size() + 2, ' ') : "";
    for (std::size_t i = 1; i < 3; ++i) line += row[i] + std::string(width[i] - row[i].size() + 2, ' ');
    std::cout << line << row[3] << "\n";
  }
  return 0;
}

int get(const std::string& path, const std::string& pointer) {
  const json::object result = load_object(path);
  const json::value root = result;
  json::error_code ec;
  const json::value* found = root.find_pointer(pointer, ec);
  if (!found) throw std::runtime_error(path + ": nothing at " + pointer);
  std::cout << text_of(found) << "\n";
  return 0;
}

// One check per line, tab-separated, for scripts and tests.
int checks(const std::string& path) {
  const json::object result = load_result(path);
  // No field is left empty: shells read tab-separated lines with IFS=tab, which
  // would merge an empty field into the next one.
  const auto clean = [](std::string text) {
    for (auto& c : text)
      if (c == '\t' || c == '\n' || c == '\r') c = ' ';
    return text.empty() ? std::string("-") : text;
  };
  for (const auto& value : result.at("checks").as_array()) {
    if (!value.is_object()) continue;
    const auto& check = value.as_object();
    std::cout << clean(field(check, "step")) << '\t' << clean(field(check, "id")) << '\t'
              << clean(field(check, "verdict")) << '\t' << clean(field(check, "note")) << '\t'
              << clean(field(check, "observed")) << '\t' << clean(field(check, "evidence")) << '\n';
  }
  return 0;
}

// ss.csv: "elapsed_ms,ESTAB,...,LISTEN" then one row per sample.
struct StateSeries {
  std::vector<std::string> states;
  std::vector<double> elapsed_ms;
  std::vector<std::vector<double>> counts;  // counts[state][sample]
};

StateSeries load_series(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot open");
  StateSeries series;
  std::string line;
  if (!std::getline(in, line) || line.rfind("elapsed_ms,", 0) != 0) throw std::runtime_error(path + ": not an ss.csv");
  std::stringstream header(line.substr(11));
  for (std::string name; std::getline(header, name, ',');) series.states.push_back(name);
  series.counts.resize(series.states.size());
  for (std::size_t row = 0; row < 100000 && std::getline(in, line); ++row) {
    std::stringstream fields(line);
    std::string value;
    if (!std::getline(fields, value, ',')) continue;
    series.elapsed_ms.push_back(std::stod(value));
    for (auto& column : series.counts) column.push_back(std::getline(fields, value, ',') ? std::stod(value) : 0);
  }
  return series;
}

// "▁▂▄█▇▅▂▁": the shape of a count over the run, at most `width` characters.
std::string sparkline(const std::vector<double>& values, double top, std::size_t width) {
  static const char* bars[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
  std::string line;
  const std::size_t buckets = std::min(width, values.size());
  for (std::size_t b = 0; b < buckets; ++b) {
    const std::size_t from = b * values.size() / buckets, to = (b + 1) * values.size() / buckets;
    const double peak =
        *std::max_element(values.begin() + static_cast<long>(from), values.begin() + static_cast<long>(to));
    line += top > 0 ? bars[std::min<std::size_t>(7, static_cast<std::size_t>(peak / top * 7.999))] : bars[0];
  }
  return line;
}

// The SVG chart: one line per state that was ever seen (LISTEN left out), time on x.
std::string chart_svg(const StateSeries& series, const std::vector<std::size_t>& shown, double top) {
  static const char* colours[] = {"#1a5fb4", "#c01c28", "#26a269", "#e66100", "#613583", "#865e3c", "#000000"};
  const double width = 640, height = 220, left = 50, bottom = 190, right = 620, upper = 20;
  const double end = series.elapsed_ms.empty() ? 1 : std::max(1.0, series.elapsed_ms.back());
  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\""
      << height + 20 * static_cast<double>(shown.size())
      << "\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      << "<line x1=\"" << left << "\" y1=\"" << bottom << "\" x2=\"" << right << "\" y2=\"" << bottom
      << "\" stroke=\"#444\"/>\n"
      << "<line x1=\"" << left << "\" y1=\"" << upper << "\" x2=\"" << left << "\" y2=\"" << bottom
      << "\" stroke=\"#444\"/>\n"
      << "<text x=\"" << left - 6 << "\" y=\"" << upper + 4 << "\" text-anchor=\"end\">" << top << "</text>\n"
      << "<text x=\"" << left - 6 << "\" y=\"" << bottom << "\" text-anchor=\"end\">0</text>\n"
      << "<text x=\"" << right << "\" y=\"" << bottom + 16 << "\" text-anchor=\"end\">" << end / 1000 << " s</text>\n";
  for (std::size_t k = 0; k < shown.size(); ++k) {
    const auto& column = series.counts[shown[k]];
    svg << "<polyline fill=\"none\" stroke-width=\"2\" stroke=\"" << colours[k % 7] << "\" points=\"";
    for (std::size_t i = 0; i < column.size(); ++i)
      svg << left + (right - left) * series.elapsed_ms[i] / end << "," << bottom - (bottom - upper) * column[i] / top
          << " ";
    svg << "\"/>\n<text x=\"" << left << "\" y=\"" << height + 20 * static_cast<double>(k) << "\" fill=\""
        << colours[k % 7] << "\">" << series.states[shown[k]] << " (peak "
        << *std::max_element(column.begin(), column.end()) << ")</text>\n";
  }
  svg << "</svg>\n";
  return svg.str();
}

int chart(const std::string& path, const std::string& svg_path) {
  const StateSeries series = load_series(path);
  std::vector<std::size_t> shown;
  double top = 0;
  for (std::size_t s = 0; s < series.states.size(); ++s) {
    const auto& column = series.counts[s];
    const double peak = column.empty() ? 0 : *std::max_element(column.begin(), column.end());
    if (peak > 0 && series.states[s] != "LISTEN") {
      shown.push_back(s);
      top = std::max(top, peak);
    }
  }
  if (shown.empty()) {
    std::cout << "no connection on the lab's port was seen by ss in " << series.elapsed_ms.size() << " samples\n";
    return 0;
  }
  const double seconds = series.elapsed_ms.empty() ? 0 : series.elapsed_ms.back() / 1000;
  std::size_t name_width = 0;
  for (auto s : shown) name_width = std::max(name_width, series.states[s].size());
  for (auto s : shown) {
    const auto& column = series.counts[s];
    std::cout << series.states[s] << std::string(name_width - series.states[s].size() + 2, ' ')
              << sparkline(column, top, 60) << "  peak " << *std::max_element(column.begin(), column.end()) << "\n";
  }
  std::cout << "(" << series.elapsed_ms.size() << " samples over " << seconds << " s)\n";
  if (!svg_path.empty()) {
    std::ofstream out(svg_path);
    out << chart_svg(series, shown, top);
    if (!out) throw std::runtime_error(svg_path + ": cannot write");
  }
  return 0;
}

int card(const std::string& dir, const std::string& lang, const std::string& format) {
  const auto inputs = netlab::report::card_inputs(dir);
  const auto unknown = netlab::report::write_card(
      inputs, dir, lang == "zh" ? netlab::report::Lang::zh : netlab::report::Lang::en,
      format == "text" ? netlab::report::CardFormat::text : netlab::report::CardFormat::markdown, std::cout);
  for (const auto& id : unknown) std::cerr << "netlab-report: check " << id << " is not in the table of claims\n";
  return 0;
}

int html(const std::string& dir, const std::string& lang) {
  netlab::report::write_html(dir, lang == "zh" ? netlab::report::Lang::zh : netlab::report::Lang::en, std::cout);
  return 0;
}

int claims() {
  for (const auto& claim : netlab::report::claims())
    std::cout << claim.id << '\t' << claim.heading << '\t' << to_string(claim.source) << '\t' << claim.zh << '\t'
              << claim.en << '\t' << (claim.also.empty() ? "-" : claim.also) << '\n';
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"netlab-report: reads netlab result JSON and prints it for people"};
  app.footer(
      "It reads files and opens no socket, so it has no --port or --host: those belong to\n"
      "the lab programs (netlab-<lab>-server, netlab-<lab>-client).");
  app.require_subcommand(1);

  std::string lab;
  std::vector<std::string> files;
  std::string file;
  std::string pointer;

  auto* merge_cmd = app.add_subcommand("merge", "merge results into one, each check tagged with its step");
  merge_cmd->add_option("--lab", lab, "lab name")->required();
  merge_cmd->add_option("files", files, "result JSON files, in step order")->required();

  auto* summary_cmd = app.add_subcommand("summary", "Markdown summary of one result (for summary.md)");
  summary_cmd->add_option("--lab", lab, "lab name")->required();
  summary_cmd->add_option("file", file, "result JSON file")->required();

  auto* table_cmd = app.add_subcommand("table", "the checks as an aligned table for a terminal");
  table_cmd->add_option("file", file, "result JSON file")->required();

  auto* get_cmd =
      app.add_subcommand("get", "print one value of a JSON file (a result, netlab-wire's stats) by JSON pointer");
  get_cmd->add_option("file", file, "result JSON file")->required();
  get_cmd->add_option("pointer", pointer, "JSON pointer, e.g. /observed/steps/0/observed/mismatches")->required();

  auto* checks_cmd = app.add_subcommand("checks", "one tab-separated line per check (for scripts and tests)");
  checks_cmd->add_option("file", file, "result JSON file")->required();

  std::string svg;
  auto* chart_cmd = app.add_subcommand("chart", "sparklines of the socket states over time from ss.csv");
  chart_cmd->add_option("file", file, "an ss.csv written by a lab run")->required();
  chart_cmd->add_option("--svg", svg, "also write the chart as SVG to this file");

  std::string lang = "en";
  std::string format = "markdown";
  auto* card_cmd = app.add_subcommand("card", "the report card of a run: one row per claim of the note");
  card_cmd->add_option("dir", file, "a lab's run folder, or a tour's (a folder per lab, each with client.json)")
      ->required();
  card_cmd->add_option("--lang", lang, "zh or en")->check(CLI::IsMember({"zh", "en"}))->capture_default_str();
  card_cmd->add_option("--format", format, "markdown (report-card.md) or text (a terminal)")
      ->check(CLI::IsMember({"markdown", "text"}))
      ->capture_default_str();

  auto* html_cmd =
      app.add_subcommand("html", "the report page of a run (index.html): verdicts, charts, both languages");
  html_cmd->add_option("dir", file, "a lab's run folder, or a tour's (a folder per lab, each with client.json)")
      ->required();
  html_cmd->add_option("--lang", lang, "the language it opens in: zh or en")
      ->check(CLI::IsMember({"zh", "en"}))
      ->capture_default_str();

  auto* claims_cmd = app.add_subcommand(
      "claims", "the table of claims, one tab-separated line each: id, heading, source, zh, en, also");

  if (auto code = netlab::parse_options(app, argc, argv)) return *code;
  try {
    if (*merge_cmd) return merge(lab, files);
    if (*summary_cmd) return summary(lab, file);
    if (*table_cmd) return table(file);
    if (*checks_cmd) return checks(file);
    if (*chart_cmd) return chart(file, svg);
    if (*card_cmd) return card(file, lang, format);
    if (*html_cmd) return html(file, lang);
    if (*claims_cmd) return claims();
    return get(file, pointer);
  } catch (const std::exception& e) {
    std::cerr << "netlab-report: " << e.what() << "\n";
    return 1;
  }
}
