#include "site/markdown.h"

#include <md4c-html.h>
#include <md4c.h>

#include <cctype>
#include <map>
#include <string>

#include "moss/base/status.h"
#include "moss/base/str_cat.h"

namespace onix::site {
namespace {

constexpr unsigned kDialect = MD_DIALECT_GITHUB;

void AppendOutput(const MD_CHAR* text, MD_SIZE size, void* userdata) noexcept {
  static_cast<std::string*>(userdata)->append(text, size);
}

// Drops the tags md4c puts around text in the inline rendering so a cell gets bare markup.
std::string StripTags(std::string_view html, std::string_view tag) {
  const std::string open = StrCat("<", tag, ">");
  const std::string close = StrCat("</", tag, ">");
  std::string out;
  size_t pos = 0;
  while (pos < html.size()) {
    if (html.compare(pos, open.size(), open) == 0) {
      pos += open.size();
    } else if (html.compare(pos, close.size(), close) == 0) {
      pos += close.size();
    } else {
      out.push_back(html[pos++]);
    }
  }
  return out;
}

absl::StatusOr<std::string> Render(std::string_view markdown, std::string_view what,
                                   unsigned flags) {
  std::string out;
  // md4c returns non-zero only when it runs out of memory or a callback aborts.
  if (md_html(markdown.data(), static_cast<MD_SIZE>(markdown.size()), &AppendOutput, &out, flags,
              MD_HTML_FLAG_SKIP_UTF8_BOM) != 0) {
    return InvalidArgument(StrCat("rendering ", what, ": md4c refused the document"));
  }
  return out;
}

}  // namespace

std::string HtmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

absl::StatusOr<std::string> RenderMarkdown(std::string_view markdown, std::string_view what) {
  return Render(markdown, what, kDialect);
}

absl::StatusOr<std::string> RenderInline(std::string_view markdown, std::string_view what) {
  // Data-file cells are short text: "<x>" there is literal, and raw HTML could unbalance the
  // surrounding table, so it is escaped rather than passed through.
  ONIX_ASSIGN_OR_RETURN(std::string html, Render(markdown, what, kDialect | MD_FLAG_NOHTML));
  html = StripTags(html, "p");
  while (!html.empty() && html.back() == '\n') html.pop_back();
  return html;
}

std::optional<std::string> FirstHeading(std::string_view markdown) {
  size_t pos = 0;
  bool in_fence = false;
  while (pos < markdown.size()) {
    size_t end = markdown.find('\n', pos);
    if (end == std::string_view::npos) end = markdown.size();
    std::string_view line = markdown.substr(pos, end - pos);
    pos = end + 1;
    if (line.substr(0, 3) == "```") in_fence = !in_fence;
    if (in_fence || line.size() < 3 || line.substr(0, 2) != "# ") continue;
    line.remove_prefix(2);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.remove_suffix(1);
    return std::string(line);
  }
  return std::nullopt;
}

std::string RewriteHrefs(std::string_view html,
                         const std::function<std::optional<std::string>(std::string_view)>& map) {
  static constexpr std::string_view kHref = " href=\"";
  std::string out;
  size_t pos = 0;
  while (true) {
    const size_t at = html.find(kHref, pos);
    if (at == std::string_view::npos) break;
    const size_t start = at + kHref.size();
    const size_t end = html.find('"', start);
    if (end == std::string_view::npos) break;
    out.append(html.substr(pos, at - pos));
    std::optional<std::string> replaced = map(html.substr(start, end - start));
    if (replaced.has_value()) out += StrCat(kHref, *replaced, "\"");
    pos = end + 1;
  }
  out.append(html.substr(pos));
  return out;
}

std::string AddHeadingIds(std::string_view html) {
  std::string out;
  // Ids must be unique in a page; a repeated heading gets "-2", "-3" like GitHub's anchors.
  std::map<std::string, int> seen;
  size_t pos = 0;
  while (pos < html.size()) {
    const size_t at = html.find("<h", pos);
    if (at == std::string_view::npos || at + 3 >= html.size()) break;
    const char level = html[at + 2];
    if ((level != '2' && level != '3') || html[at + 3] != '>') {
      out.append(html.substr(pos, at + 2 - pos));
      pos = at + 2;
      continue;
    }
    const std::string close = StrCat("</h", std::string(1, level), ">");
    const size_t end = html.find(close, at);
    if (end == std::string_view::npos) break;
    const std::string_view inner = html.substr(at + 4, end - at - 4);
    out.append(html.substr(pos, at - pos));
    std::string id = Slugify(StripTags(inner, "code"));
    if (const int n = ++seen[id]; n > 1) id = StrCat(id, "-", n);
    out += StrCat("<h", std::string(1, level), " id=\"", id, "\">", inner, close);
    pos = end + close.size();
  }
  out.append(html.substr(pos));
  return out;
}

std::string Slugify(std::string_view text) {
  std::string out;
  bool dash = false;
  bool in_tag = false;
  for (char c : text) {
    if (c == '<') in_tag = true;
    if (in_tag) {
      if (c == '>') in_tag = false;
      continue;
    }
    const unsigned char u = static_cast<unsigned char>(c);
    if (std::isalnum(u)) {
      if (dash && !out.empty()) out.push_back('-');
      out.push_back(static_cast<char>(std::tolower(u)));
      dash = false;
    } else {
      dash = true;
    }
  }
  return out.empty() ? "section" : out;
}

}  // namespace onix::site
