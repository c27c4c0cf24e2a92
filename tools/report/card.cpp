#include "card.hpp"

#include "claims.hpp"
#include "result_file.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <ostream>
#include <stdexcept>
#include <string_view>

namespace fs = std::filesystem;
namespace json = boost::json;

namespace netlab::report {

namespace {

// One check of one step, as the card needs it.
struct StepResult {
  std::string lab;
  std::string link_prefix;
  std::string check_id;
  std::string label;  // the step, with the mode of an aliased id ("capture 1.3")
  std::string verdict;
  std::string observed;
  std::string evidence;
  std::string note;  // the lab's own words, for an id the table does not have
};

struct Row {
  const Claim* claim = nullptr;
  std::vector<StepResult> steps;
};

constexpr std::string_view verdict_order[] = {"confirmed", "refuted", "nuanced", "fact", "skipped"};

// A fact is what the lab's own setup decides: printed, never graded.
bool graded(std::string_view verdict) { return verdict == "confirmed" || verdict == "refuted" || verdict == "nuanced"; }

std::string_view word(Lang lang, std::string_view en) {
  if (lang == Lang::en) return en;
  static const std::map<std::string_view, std::string_view> zh{
      {"confirmed", "成立"}, {"refuted", "不成立"}, {"nuanced", "有条件"}, {"fact", "事实"},
      {"skipped", "未测"},   {"note", "笔记"},      {"asked next", "追问"}};
  const auto found = zh.find(en);
  return found == zh.end() ? en : found->second;
}

// The first `limit` characters (code points) of UTF-8 text, "…" when cut.
std::string clip(std::string_view text, std::size_t limit) {
  std::size_t chars = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) continue;
    if (chars++ == limit) return std::string(text.substr(0, i)) + "…";
  }
  return std::string(text);
}

// Columns a terminal gives UTF-8 text: two for the wide (CJK) characters.
std::size_t display_width(std::string_view text) {
  std::size_t width = 0;
  for (std::size_t i = 0; i < text.size();) {
    const auto lead = static_cast<unsigned char>(text[i]);
    const std::size_t length = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
    width += length >= 3 ? 2 : 1;
    i += length;
  }
  return width;
}

std::string pad(std::string_view text, std::size_t width) {
  const std::size_t used = display_width(text);
  return std::string(text) + std::string(used < width ? width - used : 1, ' ');
}

// What a step measured, in one line: its observed text, or for a step that
// did not run, why (its evidence).
std::string measured(const StepResult& step) {
  std::string text = step.observed;
  if (step.verdict == "skipped" && (text.empty() || text == "not run") && !step.evidence.empty()) text = step.evidence;
  for (auto& c : text)
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  return text;
}

// The claim's verdict: the graded steps' verdict when they agree, nuanced
// when they disagree; a fact when its steps ran but only stated facts;
// skipped when none ran.
std::string verdict_of(const std::vector<StepResult>& steps) {
  std::string agreed;
  bool fact = false;
  for (const auto& step : steps) {
    fact = fact || step.verdict == "fact";
    if (!graded(step.verdict)) continue;
    if (agreed.empty())
      agreed = step.verdict;
    else if (agreed != step.verdict)
      return "nuanced";
  }
  return !agreed.empty() ? agreed : fact ? "fact" : "skipped";
}

std::string joined(const std::vector<std::string>& parts, std::string_view separator) {
  std::string text;
  for (const auto& part : parts) text += (text.empty() ? "" : std::string(separator)) + part;
  return text;
}

// The deciding measurement in one line. Steps that agree: the first one's
// measurement. Steps that disagree: which steps gave which verdict, each
// with its measurement, so the condition that decides is on the line.
std::string deciding(const std::vector<StepResult>& steps, Lang lang) {
  std::vector<std::pair<std::string, std::vector<const StepResult*>>> groups;
  for (const auto& step : steps) {
    auto group = std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g.first == step.verdict; });
    if (group == groups.end()) group = groups.insert(groups.end(), {step.verdict, {}});
    group->second.push_back(&step);
  }
  const auto rank = [](const std::string& verdict) {
    return std::find(std::begin(verdict_order), std::end(verdict_order), verdict) - std::begin(verdict_order);
  };
  std::stable_sort(groups.begin(), groups.end(),
                   [&](const auto& a, const auto& b) { return rank(a.first) < rank(b.first); });
  const auto labels = [&](const std::vector<const StepResult*>& group) {
    std::vector<std::string> names;
    for (const auto* step : group)
      if (std::find(names.begin(), names.end(), step->label) == names.end()) names.push_back(step->label);
    return joined(names, lang == Lang::zh ? "、" : ", ");
  };
  const std::size_t ran =
      std::count_if(groups.begin(), groups.end(), [](const auto& g) { return g.first != "skipped"; });
  std::vector<std::string> parts;
  if (ran <= 1) {
    const auto& group =
        ran == 1 ? *std::find_if(groups.begin(), groups.end(), [](const auto& g) { return g.first != "skipped"; })
                 : groups.front();
    std::string text =
        (steps.size() > 1 ? group.second.front()->label + ": " : "") + clip(measured(*group.second.front()), 180);
    if (group.second.size() > 1)
      text += lang == Lang::zh           ? "（另有 " + std::to_string(group.second.size() - 1) + " 步相同）"
              : group.second.size() == 2 ? std::string(" (1 more step alike)")
                                         : " (" + std::to_string(group.second.size() - 1) + " more steps alike)";
    parts.push_back(text);
  } else {
    for (const auto& [verdict, group] : groups) {
      if (verdict == "skipped") continue;
      const std::string what = clip(measured(*group.front()), 110);
      parts.push_back(lang == Lang::zh ? std::string(word(lang, verdict)) + "：" + labels(group) + "（" + what + "）"
                                       : verdict + " in " + labels(group) + ": " + what);
    }
  }
  for (const auto& [verdict, group] : groups)
    if (verdict == "skipped" && ran > 0)
      parts.push_back(lang == Lang::zh ? "未测：" + labels(group) : "skipped in " + labels(group));
  return joined(parts, lang == Lang::zh ? "；" : " · ");
}

// "[transport (5 steps)](transport/summary.md#tcp-reliable-ordered)", one per lab.
std::string step_links(const std::vector<StepResult>& steps, Lang lang) {
  std::vector<std::string> links;
  std::vector<std::string> seen;
  for (const auto& step : steps) {
    if (std::find(seen.begin(), seen.end(), step.lab) != seen.end()) continue;
    seen.push_back(step.lab);
    const auto count = std::count_if(steps.begin(), steps.end(), [&](const auto& s) { return s.lab == step.lab; });
    const std::string what = count == 1         ? step.label
                             : lang == Lang::zh ? std::to_string(count) + " 步"
                                                : std::to_string(count) + " steps";
    links.push_back("[" + step.lab + (lang == Lang::zh ? "（" + what + "）" : " (" + what + ")") + "](" +
                    step.link_prefix + "summary.md#" + step.check_id + ")");
  }
  return joined(links, " ");
}

std::vector<Row> rows_of(const std::vector<CardInput>& inputs, std::vector<StepResult>& unknown) {
  std::vector<Row> rows;
  for (const auto& claim : claims()) rows.push_back({&claim, {}});
  for (const auto& input : inputs) {
    const json::object result = load_result(input.json_path);
    for (const auto& value : result.at("checks").as_array()) {
      if (!value.is_object()) continue;
      const auto& check = value.as_object();
      StepResult step{input.lab,
                      input.link_prefix,
                      field(check, "id"),
                      field(check, "step"),
                      field(check, "verdict"),
                      field(check, "observed"),
                      field(check, "evidence"),
                      field(check, "note")};
      if (step.label.empty()) step.label = "run";
      const Claim* claim = claim_of(step.check_id);
      if (!claim) {
        unknown.push_back(std::move(step));
        continue;
      }
      if (const auto mode = mode_of(step.check_id, *claim); !mode.empty()) step.label += " " + std::string(mode);
      auto row = std::find_if(rows.begin(), rows.end(), [&](const Row& r) { return r.claim == claim; });
      row->steps.push_back(std::move(step));
    }
  }
  std::erase_if(rows, [](const Row& row) { return row.steps.empty(); });
  return rows;
}

// "capture skipped: ..." lines of the labs' summaries, one per reason with
// the labs it held for: why a lab has no capture.
std::vector<std::string> capture_notes(const std::vector<CardInput>& inputs) {
  std::vector<std::pair<std::string, std::vector<std::string>>> reasons;
  for (const auto& input : inputs) {
    std::ifstream in(input.summary_path);
    std::string line;
    for (std::size_t n = 0; n < 10000 && std::getline(in, line); ++n) {
      if (line.rfind("capture skipped: ", 0) != 0) continue;
      auto reason = std::find_if(reasons.begin(), reasons.end(), [&](const auto& r) { return r.first == line; });
      if (reason == reasons.end()) reason = reasons.insert(reasons.end(), {line, {}});
      reason->second.push_back(input.lab);
      break;
    }
  }
  std::vector<std::string> notes;
  for (const auto& [reason, labs] : reasons) notes.push_back(joined(labs, ", ") + ": " + reason);
  return notes;
}

struct Words {
  std::string_view title, claims_word, source_help, measurement, steps, claim, verdict, source, unknown;
};

const Words& words(Lang lang) {
  static const Words en{"Report card of the note",
                        "claims",
                        "Source: **note** — the note's heading and its words; **asked next** — the follow-up an "
                        "interviewer asks, which the lab adds. Where the note is silent or wrong, the claim says so. "
                        "When a claim's steps disagree it is *nuanced*, and the measurement says which step gave "
                        "which verdict.",
                        "deciding measurement",
                        "steps",
                        "claim",
                        "verdict",
                        "source",
                        "Checks that are not in the table of claims (the lab's own words)"};
  static const Words zh{"笔记成绩单",
                        "个论断",
                        "来源：**笔记**——笔记的标题和它的原话；**追问**——面试官接着会问、由实验补上的问题。"
                        "笔记没说或说错的地方，论断里写明。同一论断的各步结论不一致时记为*有条件*，"
                        "测量一栏写出哪一步得到哪个结论。",
                        "决定性的测量",
                        "各步",
                        "论断",
                        "结论",
                        "来源",
                        "不在论断表里的检查（实验自己的说法）"};
  return lang == Lang::zh ? zh : en;
}

std::string_view claim_text(const Claim& claim, Lang lang) { return lang == Lang::zh ? claim.zh : claim.en; }

// "12 claims: 8 confirmed, 2 refuted, 1 nuanced; 1 fact, not graded": a
// fact is shown but not counted among the graded verdicts.
std::string tally(const std::vector<Row>& rows, Lang lang) {
  std::map<std::string, std::size_t> counts;
  for (const auto& row : rows) ++counts[verdict_of(row.steps)];
  std::vector<std::string> parts;
  std::size_t claims = 0;
  for (const auto verdict : verdict_order)
    if (verdict != "fact" && counts.contains(std::string(verdict))) {
      claims += counts[std::string(verdict)];
      parts.push_back(std::to_string(counts[std::string(verdict)]) + " " + std::string(word(lang, verdict)));
    }
  std::string text = std::to_string(claims) + " " + std::string(words(lang).claims_word) +
                     (lang == Lang::zh ? "：" : ": ") + joined(parts, lang == Lang::zh ? "，" : ", ");
  if (counts.contains("fact"))
    text += lang == Lang::zh
                ? "；另有 " + std::to_string(counts["fact"]) + " 条事实，不评分"
                : "; " + std::to_string(counts["fact"]) + (counts["fact"] == 1 ? " fact" : " facts") + ", not graded";
  return text;
}

}  // namespace

std::vector<CardInput> card_inputs(const std::string& run_dir) {
  const fs::path dir(run_dir);
  std::vector<CardInput> inputs;
  const auto lab_of = [](const fs::path& json_path, const std::string& fallback) {
    const std::string lab = field(load_result(json_path.string()), "lab");
    return lab.empty() ? fallback : lab;
  };
  if (fs::is_regular_file(dir / "client.json")) {
    inputs.push_back({lab_of(dir / "client.json", dir.filename().string()), "", (dir / "summary.md").string(),
                      (dir / "client.json").string()});
    return inputs;
  }
  std::error_code ec;
  std::vector<fs::path> folders;
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (entry.is_directory() && fs::is_regular_file(entry.path() / "client.json")) folders.push_back(entry.path());
  if (ec) throw std::runtime_error(run_dir + ": " + ec.message());
  std::sort(folders.begin(), folders.end());
  for (const auto& folder : folders) {
    const std::string name = folder.filename().string();
    inputs.push_back({lab_of(folder / "client.json", name), name + "/", (folder / "summary.md").string(),
                      (folder / "client.json").string()});
  }
  if (inputs.empty()) throw std::runtime_error(run_dir + ": no client.json in it, nor in a folder in it");
  return inputs;
}

std::vector<std::string> write_card(const std::vector<CardInput>& inputs, const std::string& title_dir, Lang lang,
                                    CardFormat format, std::ostream& out) {
  std::vector<StepResult> unknown;
  const std::vector<Row> rows = rows_of(inputs, unknown);
  const Words& w = words(lang);
  const bool markdown = format == CardFormat::markdown;

  if (markdown)
    out << "# " << w.title << "\n\n`" << title_dir << "` · " << tally(rows, lang) << "\n\n" << w.source_help << "\n";
  else
    out << w.title << " — " << title_dir << "\n" << tally(rows, lang) << "\n";

  for (const auto heading : note_headings()) {
    const bool any =
        std::any_of(rows.begin(), rows.end(), [&](const Row& row) { return row.claim->heading == heading; });
    if (!any) continue;
    if (markdown)
      out << "\n## " << heading << "\n\n| " << w.source << " | " << w.claim << " | " << w.verdict << " | "
          << w.measurement << " | " << w.steps << " |\n|---|---|---|---|---|\n";
    else
      out << "\n" << heading << "\n";
    for (const auto& row : rows) {
      if (row.claim->heading != heading) continue;
      const std::string verdict(word(lang, verdict_of(row.steps)));
      const std::string source(word(lang, to_string(row.claim->source)));
      if (markdown) {
        out << "| " << source << " | " << cell(claim_text(*row.claim, lang)) << " `" << row.claim->id << "` | **"
            << verdict << "** | " << cell(deciding(row.steps, lang)) << " | " << step_links(row.steps, lang) << " |\n";
      } else {
        out << "  " << pad(verdict, 11) << pad(source, 12) << claim_text(*row.claim, lang) << " [" << row.claim->id
            << "]\n      " << deciding(row.steps, lang) << "\n";
      }
    }
  }

  std::vector<std::string> ids;
  if (!unknown.empty()) {
    out << (markdown ? "\n## " : "\n") << w.unknown << "\n\n";
    for (const auto& step : unknown) {
      if (std::find(ids.begin(), ids.end(), step.check_id) == ids.end()) ids.push_back(step.check_id);
      out << "- " << step.lab << ", " << step.label << ": " << (markdown ? cell(step.note) : step.note) << " `"
          << step.check_id << "` — " << (markdown ? "**" + step.verdict + "**" : step.verdict) << "\n";
    }
  }
  const auto notes = capture_notes(inputs);
  if (!notes.empty()) {
    out << "\n";
    for (const auto& note : notes) out << "- " << note << "\n";
  }
  return ids;
}

CardData card_data(const std::vector<CardInput>& inputs, Lang lang) {
  std::vector<StepResult> unknown;
  const std::vector<Row> rows = rows_of(inputs, unknown);
  CardData data;
  for (const auto heading : note_headings()) {
    for (const auto& row : rows) {
      if (row.claim->heading != heading) continue;
      CardRow out{row.claim,
                  verdict_of(row.steps),
                  "",
                  std::string(word(lang, to_string(row.claim->source))),
                  deciding(row.steps, lang),
                  {}};
      out.verdict_word = word(lang, out.verdict);
      for (const auto& step : row.steps)
        if (std::find(out.labs.begin(), out.labs.end(), step.lab) == out.labs.end()) out.labs.push_back(step.lab);
      data.rows.push_back(std::move(out));
    }
  }
  for (const auto& step : unknown)
    data.unknown.push_back({step.lab, step.label, step.check_id, step.verdict, step.note});
  data.tally = tally(rows, lang);
  data.capture_notes = capture_notes(inputs);
  return data;
}

}  // namespace netlab::report
