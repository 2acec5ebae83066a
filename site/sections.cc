#include "site/sections.h"

#include <sys/stat.h>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "moss/base/fs_at.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "nlohmann/json.hpp"
#include "site/input_file.h"
#include "site/markdown.h"

namespace onix::site {
namespace {

using nlohmann::json;

absl::StatusOr<json> ReadJson(int dirfd, std::string_view name, std::string_view what) {
  auto text = ReadInput(dirfd, name);
  if (!text.ok()) return Annotate(text.status(), StrCat("reading ", what));
  // The non-throwing parse: a syntax error becomes a discarded value we report ourselves.
  json doc = json::parse(text->contents, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    return InvalidArgument(StrCat("reading ", what, ": not valid JSON"));
  }
  return doc;
}

// The string member `key` of `obj`; InvalidArgument naming the file when absent or not a
// string (optional members return "" when absent).
absl::StatusOr<std::string> Str(const json& obj, const char* key, std::string_view what,
                                bool required = true) {
  auto it = obj.find(key);
  if (it == obj.end()) {
    if (!required) return std::string();
    return InvalidArgument(StrCat("reading ", what, ": an entry has no \"", key, "\""));
  }
  if (!it->is_string()) {
    return InvalidArgument(StrCat("reading ", what, ": \"", key, "\" is not a string"));
  }
  return it->get<std::string>();
}

absl::StatusOr<const json*> Array(const json& obj, const char* key, std::string_view what) {
  if (!obj.is_object()) return InvalidArgument(StrCat("reading ", what, ": not a JSON object"));
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_array()) {
    return InvalidArgument(StrCat("reading ", what, ": \"", key, "\" must be an array"));
  }
  for (const json& e : *it) {
    if (!e.is_object() && !e.is_string()) {
      return InvalidArgument(StrCat("reading ", what, ": \"", key, "\" holds a non-object"));
    }
  }
  return &*it;
}

// Reads an optional workspace file; NotFound becomes nullopt, other failures are errors.
absl::StatusOr<std::optional<std::pair<std::string, time_t>>> ReadOptional(int dirfd,
                                                                           std::string_view path) {
  ONIX_RETURN_IF_ERROR(fs::ValidateRelativePath(path));
  auto file = ReadInput(dirfd, path);
  if (absl::IsNotFound(file.status())) return std::nullopt;
  if (!file.ok()) return file.status();
  return std::make_pair(std::move(file->contents), file->mtime);
}

// TAP lines of a suite log ("ok 3 - name (12 s)", "not ok 4 - name", "ok 5 - name # SKIP
// why") by their first description word, the scenario name. A later line wins, as a
// rerun appends to the log.
std::map<std::string, std::pair<std::string, std::string>> ParseTap(std::string_view text) {
  std::map<std::string, std::pair<std::string, std::string>> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    std::string status = "pass";
    if (line.substr(0, 7) == "not ok ") {
      status = "fail";
      line.remove_prefix(7);
    } else if (line.substr(0, 3) == "ok ") {
      line.remove_prefix(3);
    } else {
      continue;
    }
    const size_t dash = line.find(" - ");
    if (dash == std::string_view::npos) continue;
    line.remove_prefix(dash + 3);
    const size_t space = line.find(' ');
    const std::string name(line.substr(0, space));
    std::string detail(space == std::string_view::npos ? "" : line.substr(space + 1));
    if (detail.find("# SKIP") != std::string::npos) status = "skip";
    if (!name.empty()) out[name] = {status, detail};
  }
  return out;
}

std::string FormatUtc(time_t t) {
  return absl::FormatTime("%Y-%m-%d %H:%M UTC", absl::FromTimeT(t), absl::UTCTimeZone());
}

}  // namespace

absl::StatusOr<std::string> OwnershipSection(const SectionSources& src) {
  constexpr std::string_view kWhat = "site/data/ownership.json";
  ONIX_ASSIGN_OR_RETURN(json doc, ReadJson(src.data_fd, "ownership.json", kWhat));
  ONIX_ASSIGN_OR_RETURN(const json* rows, Array(doc, "rows", kWhat));
  std::string out =
      "<div class=\"table-wrap\"><table class=\"ownership\">\n"
      "<thead><tr><th scope=\"col\">path</th><th scope=\"col\">owner</th>"
      "<th scope=\"col\">notes</th></tr></thead>\n<tbody>\n";
  for (const json& row : *rows) {
    ONIX_ASSIGN_OR_RETURN(std::string path, Str(row, "path", kWhat));
    ONIX_ASSIGN_OR_RETURN(std::string owner, Str(row, "owner", kWhat));
    ONIX_ASSIGN_OR_RETURN(std::string notes, Str(row, "notes", kWhat, false));
    ONIX_ASSIGN_OR_RETURN(std::string notes_html, RenderInline(notes, kWhat));
    out +=
        StrCat("<tr><td><code>", HtmlEscape(path), "</code></td><td class=\"owner owner-",
               Slugify(owner), "\">", HtmlEscape(owner), "</td><td>", notes_html, "</td></tr>\n");
  }
  out += "</tbody></table></div>\n";
  return out;
}

absl::StatusOr<std::string> CliSection(const SectionSources& src) {
  constexpr std::string_view kWhat = "site/data/cli.json";
  ONIX_ASSIGN_OR_RETURN(json doc, ReadJson(src.data_fd, "cli.json", kWhat));
  ONIX_ASSIGN_OR_RETURN(const json* commands, Array(doc, "commands", kWhat));
  std::string out;
  for (const json& cmd : *commands) {
    ONIX_ASSIGN_OR_RETURN(std::string name, Str(cmd, "name", kWhat));
    ONIX_ASSIGN_OR_RETURN(std::string synopsis, Str(cmd, "synopsis", kWhat));
    ONIX_ASSIGN_OR_RETURN(std::string summary, Str(cmd, "summary", kWhat, false));
    ONIX_ASSIGN_OR_RETURN(std::string capture, Str(cmd, "capture", kWhat, false));
    ONIX_ASSIGN_OR_RETURN(std::string summary_html, RenderInline(summary, kWhat));
    out += StrCat("<section class=\"command\">\n<h2 id=\"", Slugify(name), "\"><code>",
                  HtmlEscape(name), "</code></h2>\n<pre class=\"synopsis\"><code>",
                  HtmlEscape(synopsis), "</code></pre>\n<p>", summary_html, "</p>\n");
    if (auto it = cmd.find("options"); it != cmd.end()) {
      if (!it->is_array()) return InvalidArgument(StrCat("reading ", kWhat, ": bad options"));
      out += "<dl class=\"options\">\n";
      for (const json& opt : *it) {
        if (!opt.is_object()) return InvalidArgument(StrCat("reading ", kWhat, ": bad option"));
        ONIX_ASSIGN_OR_RETURN(std::string flag, Str(opt, "flag", kWhat));
        ONIX_ASSIGN_OR_RETURN(std::string help, Str(opt, "help", kWhat));
        ONIX_ASSIGN_OR_RETURN(std::string help_html, RenderInline(help, kWhat));
        out += StrCat("<dt><code>", HtmlEscape(flag), "</code></dt><dd>", help_html, "</dd>\n");
      }
      out += "</dl>\n";
    }
    if (!capture.empty()) {
      auto captured = ReadOptional(src.workspace_fd, capture);
      if (!captured.ok()) {
        return Annotate(captured.status(), StrCat("reading the capture of ", name));
      }
      if (captured->has_value()) {
        out += StrCat("<p class=\"capture-note\">Output of a real run, captured in <code>",
                      HtmlEscape(capture), "</code> on ", FormatUtc((*captured)->second),
                      ":</p>\n<pre class=\"capture\"><samp>", HtmlEscape((*captured)->first),
                      "</samp></pre>\n");
      } else {
        out += StrCat(
            "<p class=\"capture-missing\">No captured run is available: this build found no <code>",
            HtmlEscape(capture),
            "</code>. Run <code>tools/quickstart</code> and rebuild the site to show the real "
            "output here.</p>\n");
      }
    }
    out += "</section>\n";
  }
  return out;
}

absl::StatusOr<std::string> RoadmapSection(const SectionSources& src) {
  constexpr std::string_view kWhat = "site/data/roadmap.json";
  static const std::map<std::string, std::string> kStatusText = {
      {"done", "done"}, {"in-progress", "in progress"}, {"planned", "planned"}};
  ONIX_ASSIGN_OR_RETURN(json doc, ReadJson(src.data_fd, "roadmap.json", kWhat));
  ONIX_ASSIGN_OR_RETURN(const json* phases, Array(doc, "phases", kWhat));
  std::string out = "<ol class=\"roadmap\">\n";
  for (const json& phase : *phases) {
    ONIX_ASSIGN_OR_RETURN(std::string name, Str(phase, "name", kWhat));
    ONIX_ASSIGN_OR_RETURN(std::string status, Str(phase, "status", kWhat));
    ONIX_ASSIGN_OR_RETURN(std::string summary, Str(phase, "summary", kWhat, false));
    auto text = kStatusText.find(status);
    if (text == kStatusText.end()) {
      return InvalidArgument(StrCat("reading ", kWhat, ": phase \"", name, "\" has status \"",
                                    status, "\" (known: done, in-progress, planned)"));
    }
    ONIX_ASSIGN_OR_RETURN(std::string summary_html, RenderInline(summary, kWhat));
    out += StrCat("<li class=\"phase phase-", status, "\">\n<h2 id=\"", Slugify(name), "\">",
                  HtmlEscape(name), " <span class=\"badge badge-", status, "\">", text->second,
                  "</span></h2>\n<p>", summary_html, "</p>\n");
    if (auto it = phase.find("items"); it != phase.end()) {
      if (!it->is_array()) return InvalidArgument(StrCat("reading ", kWhat, ": bad items"));
      out += "<ul>\n";
      for (const json& item : *it) {
        if (!item.is_string()) return InvalidArgument(StrCat("reading ", kWhat, ": bad item"));
        ONIX_ASSIGN_OR_RETURN(std::string item_html, RenderInline(item.get<std::string>(), kWhat));
        out += StrCat("<li>", item_html, "</li>\n");
      }
      out += "</ul>\n";
    }
    out += "</li>\n";
  }
  out += "</ol>\n";
  return out;
}

absl::StatusOr<std::string> ValidationSection(const SectionSources& src) {
  constexpr std::string_view kWhat = "site/data/validation.json";
  ONIX_ASSIGN_OR_RETURN(json doc, ReadJson(src.data_fd, "validation.json", kWhat));
  ONIX_ASSIGN_OR_RETURN(std::string results_file, Str(doc, "results_file", kWhat));
  ONIX_ASSIGN_OR_RETURN(const json* compositions, Array(doc, "compositions", kWhat));
  ONIX_ASSIGN_OR_RETURN(const json* checks, Array(doc, "checks", kWhat));

  std::vector<std::pair<std::string, std::string>> columns;  // id, title
  // A composition with "built": false has no image yet: its cells say so instead of "not run".
  std::set<std::string> not_built;
  std::string out = "<h2 id=\"compositions\">Compositions</h2>\n<dl class=\"compositions\">\n";
  for (const json& c : *compositions) {
    ONIX_ASSIGN_OR_RETURN(std::string id, Str(c, "id", kWhat));
    ONIX_ASSIGN_OR_RETURN(std::string title, Str(c, "title", kWhat));
    ONIX_ASSIGN_OR_RETURN(std::string desc, Str(c, "description", kWhat, false));
    ONIX_ASSIGN_OR_RETURN(std::string desc_html, RenderInline(desc, kWhat));
    auto built = c.find("built");
    if (built != c.end() && !built->is_boolean()) {
      return InvalidArgument(StrCat("reading ", kWhat, ": \"built\" must be true or false"));
    }
    const bool is_built = built == c.end() || built->get<bool>();
    if (!is_built) not_built.insert(id);
    out += StrCat("<dt>", HtmlEscape(title), "</dt><dd>", desc_html,
                  is_built ? "" : " <em>Not built: no image has this composition yet.</em>",
                  "</dd>\n");
    columns.emplace_back(id, title);
  }
  out += "</dl>\n";

  // The results file is optional: a fresh checkout has not run the suite yet.
  // (check, composition) -> status, detail, the scenario that produced it ("" when unknown).
  struct Cell {
    std::string status, detail, scenario;
  };
  std::map<std::pair<std::string, std::string>, Cell> results;
  std::string run_label;
  auto results_text = ReadOptional(src.workspace_fd, results_file);
  if (!results_text.ok()) {
    return Annotate(results_text.status(), StrCat("reading ", results_file));
  }
  std::set<std::string> known_checks;
  for (const json& c : *checks) {
    ONIX_ASSIGN_OR_RETURN(std::string id, Str(c, "id", kWhat));
    known_checks.insert(id);
  }
  size_t unknown = 0;
  if (results_text->has_value()) {
    json res = json::parse((*results_text)->first, nullptr, false);
    if (res.is_discarded()) {
      return InvalidArgument(StrCat("reading ", results_file, ": not valid JSON"));
    }
    ONIX_ASSIGN_OR_RETURN(run_label, Str(res, "run", results_file, false));
    ONIX_ASSIGN_OR_RETURN(const json* entries, Array(res, "results", results_file));
    for (const json& e : *entries) {
      ONIX_ASSIGN_OR_RETURN(std::string check, Str(e, "check", results_file));
      ONIX_ASSIGN_OR_RETURN(std::string comp, Str(e, "composition", results_file));
      ONIX_ASSIGN_OR_RETURN(std::string status, Str(e, "status", results_file));
      ONIX_ASSIGN_OR_RETURN(std::string detail, Str(e, "detail", results_file, false));
      ONIX_ASSIGN_OR_RETURN(std::string scenario, Str(e, "scenario", results_file, false));
      if (status != "pass" && status != "fail" && status != "skip") {
        return InvalidArgument(StrCat("reading ", results_file, ": check ", check, " has status \"",
                                      status, "\" (known: pass, fail, skip)"));
      }
      if (known_checks.count(check) == 0) ++unknown;
      results[{check, comp}] = {status, detail, scenario};
    }
  }

  // Suites that print TAP (tests/vm) fill the cells the data file maps to their scenarios.
  ONIX_ASSIGN_OR_RETURN(std::string tap_log, Str(doc, "tap_log", kWhat, false));
  std::optional<std::pair<std::string, time_t>> tap_text;
  if (!tap_log.empty()) {
    auto read = ReadOptional(src.workspace_fd, tap_log);
    if (!read.ok()) return Annotate(read.status(), StrCat("reading ", tap_log));
    tap_text = *std::move(read);
  }
  size_t from_tap = 0;
  if (tap_text.has_value()) {
    const auto tap = ParseTap(tap_text->first);
    for (const json& c : *checks) {
      auto scenarios = c.find("scenarios");
      if (scenarios == c.end()) continue;
      if (!scenarios->is_object()) {
        return InvalidArgument(StrCat("reading ", kWhat, ": \"scenarios\" must be an object"));
      }
      const std::string id = c["id"].get<std::string>();
      for (const auto& [comp, scenario] : scenarios->items()) {
        if (!scenario.is_string()) {
          return InvalidArgument(StrCat("reading ", kWhat, ": scenario names are strings"));
        }
        auto hit = tap.find(scenario.get<std::string>());
        if (hit == tap.end() || results.count({id, comp}) > 0) continue;
        results[{id, comp}] = {hit->second.first, hit->second.second, hit->first};
        ++from_tap;
      }
    }
  }

  out += "<h2 id=\"matrix\">Matrix</h2>\n";
  if (tap_text.has_value()) {
    out += StrCat("<p class=\"results-note\">", from_tap, " cell(s) from the suite log <code>",
                  HtmlEscape(tap_log), "</code>, written ", FormatUtc(tap_text->second), ".</p>\n");
  }
  if (results_text->has_value()) {
    out += StrCat("<p class=\"results-note\">Latest results from <code>", HtmlEscape(results_file),
                  "</code>", run_label.empty() ? "" : StrCat(" (", HtmlEscape(run_label), ")"),
                  ", written ", FormatUtc((*results_text)->second), ".</p>\n");
  } else if (!tap_text.has_value()) {
    out += StrCat("<p class=\"results-note\">No results file: this build found no <code>",
                  HtmlEscape(results_file),
                  "</code>, so every cell reads <em>not run</em>. Run <code>tools/test</code> "
                  "and rebuild the site.</p>\n");
  }
  out +=
      "<div class=\"table-wrap\"><table class=\"matrix\">\n<thead><tr><th scope=\"col\">check</th>";
  for (const auto& [id, title] : columns) {
    out += StrCat("<th scope=\"col\">", HtmlEscape(title), "</th>");
  }
  out += "</tr></thead>\n<tbody>\n";
  std::string descriptions = "<h2 id=\"checks\">What each check proves</h2>\n<dl>\n";
  std::map<std::string, Cell> scenarios_shown;
  for (const json& c : *checks) {
    ONIX_ASSIGN_OR_RETURN(std::string id, Str(c, "id", kWhat));
    ONIX_ASSIGN_OR_RETURN(std::string title, Str(c, "title", kWhat));
    ONIX_ASSIGN_OR_RETURN(std::string desc, Str(c, "description", kWhat, false));
    ONIX_ASSIGN_OR_RETURN(std::string desc_html, RenderInline(desc, kWhat));
    out += StrCat("<tr><th scope=\"row\">", HtmlEscape(title), "</th>");
    for (const auto& [comp, unused] : columns) {
      auto it = results.find({id, comp});
      if (not_built.count(comp)) {
        out += "<td class=\"result result-none\">not built</td>";
      } else if (it == results.end()) {
        out += "<td class=\"result result-none\">not run</td>";
      } else {
        const Cell& cell = it->second;
        const std::string shown = cell.scenario.empty()
                                      ? cell.status
                                      : StrCat("<a href=\"#scenario-", Slugify(cell.scenario),
                                               "\">", cell.status, "</a>");
        out += StrCat("<td class=\"result result-", cell.status, "\"",
                      cell.detail.empty() ? "" : StrCat(" title=\"", HtmlEscape(cell.detail), "\""),
                      ">", shown, "</td>");
        if (!cell.scenario.empty()) scenarios_shown[cell.scenario] = cell;
      }
    }
    out += "</tr>\n";
    descriptions += StrCat("<dt id=\"check-", Slugify(id), "\">", HtmlEscape(title), "</dt><dd>",
                           desc_html, "</dd>\n");
  }
  out += "</tbody></table></div>\n";
  // Each filled cell links here: the scenario that produced it, its source and its outcome.
  if (!scenarios_shown.empty()) {
    out += "<h2 id=\"scenarios\">Scenarios</h2>\n<dl class=\"scenarios\">\n";
    for (const auto& [name, cell] : scenarios_shown) {
      out += StrCat("<dt id=\"scenario-", Slugify(name), "\"><code>", HtmlEscape(name),
                    "</code></dt><dd><code>tests/vm/scenarios/", HtmlEscape(name),
                    ".sh</code>: ", cell.status,
                    cell.detail.empty() ? "" : StrCat(" ", HtmlEscape(cell.detail)), "</dd>\n");
    }
    out += "</dl>\n";
  }
  if (unknown > 0) {
    out += StrCat("<p class=\"results-note\">The results file also holds ", unknown,
                  " result(s) for checks this page does not describe yet.</p>\n");
  }
  out += descriptions + "</dl>\n";
  return out;
}

}  // namespace onix::site
