#include "site/link_check.h"

#include <cctype>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "moss/base/fs_at.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"

namespace onix::site {
namespace {

struct Ref {
  std::string attr;
  std::string value;
};

std::vector<Ref> FindRefs(std::string_view html) {
  std::vector<Ref> refs;
  for (std::string_view attr : {" href=\"", " src=\""}) {
    size_t pos = 0;
    while ((pos = html.find(attr, pos)) != std::string_view::npos) {
      const size_t start = pos + attr.size();
      const size_t end = html.find('"', start);
      if (end == std::string_view::npos) break;
      refs.push_back({std::string(attr.substr(1, attr.size() - 3)),
                      std::string(html.substr(start, end - start))});
      pos = end;
    }
  }
  return refs;
}

bool HasId(std::string_view html, std::string_view id) {
  return html.find(StrCat(" id=\"", id, "\"")) != std::string_view::npos;
}

// "https:", "mailto:": a scheme is letters before the first ':' with no '/' before it.
bool HasScheme(std::string_view url) {
  const size_t colon = url.find(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  for (size_t i = 0; i < colon; ++i) {
    const char c = url[i];
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.')) {
      return false;
    }
  }
  return true;
}

// HTML attribute values may carry &amp; for '&'; the file system knows only '&'.
std::string Unescape(std::string_view v) {
  std::string out(v);
  size_t pos;
  while ((pos = out.find("&amp;")) != std::string::npos) out.replace(pos, 5, "&");
  return out;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> CheckLinks(int site_fd) {
  ONIX_ASSIGN_OR_RETURN(std::vector<std::string> names, fs::ListDir(site_fd));
  std::map<std::string, std::string> pages;
  for (const std::string& name : names) {
    if (name.size() < 5 || name.compare(name.size() - 5, 5, ".html") != 0) continue;
    ONIX_ASSIGN_OR_RETURN(pages[name], fs::ReadFileAt(site_fd, name));
  }
  std::vector<std::string> problems;
  for (const auto& [page, html] : pages) {
    for (const Ref& ref : FindRefs(html)) {
      const std::string where = StrCat(page, ": ", ref.attr, "=\"", ref.value, "\"");
      const std::string url = Unescape(ref.value);
      if (url.empty()) {
        problems.push_back(StrCat(where, " is empty"));
        continue;
      }
      if (HasScheme(url)) continue;
      if (url[0] == '/') {
        problems.push_back(StrCat(where, " is not relative"));
        continue;
      }
      std::string path = url;
      std::string fragment;
      if (size_t hash = path.find('#'); hash != std::string::npos) {
        fragment = path.substr(hash + 1);
        path.resize(hash);
      }
      if (size_t q = path.find('?'); q != std::string::npos) path.resize(q);
      if (path.empty()) path = page;
      if (!fs::ValidateRelativePath(path).ok()) {
        problems.push_back(StrCat(where, " leaves the site or is not a clean path"));
        continue;
      }
      auto exists = fs::ExistsAt(site_fd, path);
      if (!exists.ok() || !*exists) {
        problems.push_back(StrCat(where, " points to a missing file"));
        continue;
      }
      if (!fragment.empty()) {
        auto target = pages.find(path);
        if (target == pages.end() || !HasId(target->second, fragment)) {
          problems.push_back(StrCat(where, " names a fragment the page does not have"));
        }
      }
    }
  }
  return problems;
}

}  // namespace onix::site
