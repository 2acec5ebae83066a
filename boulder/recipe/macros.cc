#include "boulder/recipe/macros.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "boulder/util/util.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "yaml-cpp/yaml.h"

namespace onix::boulder {

namespace {

bool IsNameStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsNameChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

bool IsDir(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace

absl::StatusOr<MacroSet> MacroSet::LoadDir(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    const int err = errno;
    return ErrnoError(err, StrCat("opening macro directory ", dir));
  }
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n.size() > 5 && n.compare(n.size() - 5, 5, ".yaml") == 0) names.push_back(n);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  if (names.empty()) return NotFound(StrCat("no *.yaml macro files in ", dir));
  MacroSet set;
  for (const std::string& n : names) {
    const std::string path = StrCat(dir, "/", n);
    ONIX_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
    ONIX_RETURN_IF_ERROR(set.AddFile(text, path));
  }
  return set;
}

absl::Status MacroSet::AddFile(std::string_view text, const std::string& file) {
  try {
    YAML::Node root = YAML::Load(std::string(text));
    auto err = [&](const YAML::Node& n, std::string_view what) {
      return InvalidArgument(StrCat(file, ":", n.Mark().line + 1, ": ", what));
    };
    if (!root.IsMap()) return InvalidArgument(StrCat(file, ":1: a macro file must be a map"));
    for (const auto& top : root) {
      const std::string key = top.first.Scalar();
      if (key == "prelude") {
        if (!prelude_.empty()) return err(top.first, "a second prelude");
        prelude_ = top.second.Scalar();
        continue;
      }
      const bool actions = key == "actions";
      if (!actions && key != "definitions")
        return err(top.first, StrCat("unknown key '", key, "'"));
      if (!top.second.IsSequence()) return err(top.second, StrCat(key, " must be a list"));
      for (const YAML::Node& item : top.second) {
        if (!item.IsMap() || item.size() != 1) return err(item, "expected '- name: value'");
        const auto kv = *item.begin();
        const std::string name = kv.first.Scalar();
        if (name.empty() || !IsNameStart(name[0]) ||
            !std::all_of(name.begin(), name.end(), IsNameChar)) {
          return err(kv.first, StrCat("bad macro name '", name, "'"));
        }
        std::string value;
        if (actions) {
          if (!kv.second.IsMap() || !kv.second["command"]) {
            return err(kv.second, StrCat("action ", name, " needs a 'command'"));
          }
          value = kv.second["command"].Scalar();
          while (!value.empty() && value.back() == '\n') value.pop_back();
        } else {
          if (!kv.second.IsScalar()) return err(kv.second, StrCat(name, " must be a string"));
          value = kv.second.Scalar();
        }
        const std::string id = StrCat(actions ? "%" : "%(", name, actions ? "" : ")");
        if (auto it = origin_.find(id); it != origin_.end()) {
          return err(kv.first, StrCat(id, " is already defined in ", it->second));
        }
        origin_[id] = file;
        (actions ? actions_ : definitions_)[name] = value;
      }
    }
  } catch (const YAML::Exception& e) {
    return InvalidArgument(StrCat(file, ":", e.mark.line + 1, ": parsing YAML: ", e.msg));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> MacroSet::Expand(std::string_view text, const std::string& file,
                                             int first_line) const {
  return ExpandDepth(text, file, first_line, 0);
}

absl::StatusOr<std::string> MacroSet::ExpandDepth(std::string_view text, const std::string& file,
                                                  int first_line, int depth) const {
  if (depth > 16) {
    return InvalidArgument(StrCat(file, ":", first_line, ": macros nest more than 16 deep"));
  }
  std::string out;
  int line = first_line;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\n') ++line;
    if (c != '%' || i + 1 >= text.size()) {
      out += c;
      continue;
    }
    const char next = text[i + 1];
    if (next == '%') {
      out += '%';
      ++i;
      continue;
    }
    if (next == '(') {
      const size_t close = text.find(')', i + 2);
      if (close == std::string_view::npos) {
        return InvalidArgument(StrCat(file, ":", line, ": unterminated macro %("));
      }
      const std::string name(text.substr(i + 2, close - i - 2));
      auto it = definitions_.find(name);
      if (it == definitions_.end()) {
        return InvalidArgument(StrCat(file, ":", line, ": unknown macro %(", name, ")"));
      }
      // An expansion's own errors point at the line that used it.
      ONIX_ASSIGN_OR_RETURN(std::string v, ExpandDepth(it->second, file, line, depth + 1));
      for (char& ch : v) ch = ch == '\n' ? ' ' : ch;
      out += v;
      i = close;
      continue;
    }
    if (IsNameStart(next)) {
      size_t end = i + 1;
      while (end < text.size() && IsNameChar(text[end])) ++end;
      const std::string name(text.substr(i + 1, end - i - 1));
      auto it = actions_.find(name);
      if (it == actions_.end()) {
        return InvalidArgument(StrCat(file, ":", line, ": unknown macro %", name));
      }
      ONIX_ASSIGN_OR_RETURN(std::string v, ExpandDepth(it->second, file, line, depth + 1));
      out += v;
      i = end - 1;
      continue;
    }
    out += c;
  }
  return out;
}

std::string DefaultMacroDir() {
  if (const char* env = std::getenv("BOULDER_MACROS_DIR"); env != nullptr && *env != '\0') {
    return env;
  }
  char exe[4096];
  ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return "";
  exe[n] = '\0';
  const std::string self = exe;
  const std::string dir = self.substr(0, self.rfind('/'));
  std::vector<std::string> candidates = {
      StrCat(self, ".runfiles/onix/boulder/data/macros"),
      StrCat(dir, "/../share/boulder/macros"),
  };
  if (const char* rf = std::getenv("RUNFILES_DIR"); rf != nullptr) {
    candidates.insert(candidates.begin(), StrCat(rf, "/onix/boulder/data/macros"));
  }
  if (const char* src = std::getenv("TEST_SRCDIR"); src != nullptr) {
    candidates.insert(candidates.begin(), StrCat(src, "/onix/boulder/data/macros"));
  }
  for (const std::string& c : candidates) {
    if (IsDir(c)) return c;
  }
  return "";
}

}  // namespace onix::boulder
