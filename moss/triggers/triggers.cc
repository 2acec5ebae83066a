#include "moss/triggers/triggers.h"

#include <fnmatch.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "moss/base/fs_at.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"

namespace onix::moss::triggers {

absl::StatusOr<Trigger> ParseTrigger(std::string_view text, std::string_view file) {
  Trigger t;
  t.file = std::string(file);
  int line_no = 0;
  for (absl::string_view raw : absl::StrSplit(AbslView(text), '\n')) {
    ++line_no;
    absl::string_view line = absl::StripAsciiWhitespace(raw);
    if (line.empty() || line[0] == '#') continue;
    auto bad = [&](std::string_view why) {
      return InvalidArgument(StrCat("parsing trigger ", file, " line ", line_no, ": ", why));
    };
    const size_t eq = line.find('=');
    if (eq == absl::string_view::npos) return bad("expected 'key = value'");
    const std::string key(absl::StripAsciiWhitespace(line.substr(0, eq)));
    const std::string value(absl::StripAsciiWhitespace(line.substr(eq + 1)));
    std::vector<std::string> words =
        absl::StrSplit(value, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (key == "name") {
      if (value.empty() || value.find_first_of(" \t/") != std::string::npos) {
        return bad("the name must be one word");
      }
      t.name = value;
    } else if (key == "match") {
      for (auto& w : words) {
        if (w[0] != '/') return bad(StrCat("glob '", w, "' is not an absolute path"));
        t.match.push_back(std::move(w));
      }
    } else if (key == "run") {
      if (words.empty() || words[0][0] != '/') return bad("run needs an absolute command path");
      t.run = std::move(words);
    } else if (key == "order") {
      if (!absl::SimpleAtoi(value, &t.order)) return bad("order is not a number");
    } else {
      return bad(StrCat("unknown key '", key, "'"));
    }
  }
  if (t.name.empty()) return InvalidArgument(StrCat("parsing trigger ", file, ": no name"));
  if (t.match.empty()) return InvalidArgument(StrCat("parsing trigger ", file, ": no match"));
  if (t.run.empty()) return InvalidArgument(StrCat("parsing trigger ", file, ": no run"));
  return t;
}

absl::StatusOr<std::vector<Trigger>> LoadTriggers(int usr_dirfd, std::string_view subdir) {
  std::vector<Trigger> out;
  absl::StatusOr<UniqueFd> dir = fs::OpenDirAt(usr_dirfd, subdir);
  if (absl::IsNotFound(dir.status())) return out;
  if (!dir.ok()) return Annotate(dir.status(), StrCat("loading triggers from /usr/", subdir));
  ONIX_ASSIGN_OR_RETURN(std::vector<std::string> names, fs::ListDir(dir->get()));
  for (const auto& name : names) {
    if (!absl::EndsWith(name, ".trigger")) continue;
    const std::string file = StrCat("/usr/", subdir, "/", name);
    ONIX_ASSIGN_OR_RETURN(std::string text, fs::ReadFileAt(dir->get(), name, 1 << 20));
    ONIX_ASSIGN_OR_RETURN(Trigger t, ParseTrigger(text, file));
    out.push_back(std::move(t));
  }
  std::sort(out.begin(), out.end(), [](const Trigger& a, const Trigger& b) {
    return a.order != b.order ? a.order < b.order : a.name < b.name;
  });
  return out;
}

bool Fires(const Trigger& trigger, const std::vector<std::string_view>& changed) {
  for (const auto& path : changed) {
    const std::string abs = StrCat("/usr/", path);
    for (const auto& glob : trigger.match) {
      if (::fnmatch(glob.c_str(), abs.c_str(), 0) == 0) return true;
    }
  }
  return false;
}

}  // namespace onix::moss::triggers
