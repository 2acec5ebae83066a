#include "site/generator.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_join.h"
#include "moss/base/fd.h"
#include "moss/base/fs_at.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "moss/base/temp_dir.h"
#include "site/input_file.h"
#include "site/link_check.h"
#include "site/markdown.h"
#include "site/sections.h"

namespace onix::site {
namespace {

using SectionFn = absl::StatusOr<std::string> (*)(const SectionSources&);

struct PageSpec {
  std::string_view slug;  // content/<slug>.md -> <slug>.html
  std::string_view nav;   // the navigation label
  SectionFn section;      // the data-driven part, if any
};

constexpr PageSpec kPages[] = {
    {"index", "Home", nullptr},
    {"architecture", "Architecture", nullptr},
    {"ownership", "Ownership", &OwnershipSection},
    {"cli", "CLI", &CliSection},
    {"validation", "Validation", &ValidationSection},
    {"roadmap", "Roadmap", &RoadmapSection},
    {"docs", "Docs", nullptr},
};

// Where a data section goes in its page's Markdown; without the marker it is appended.
constexpr std::string_view kSectionMarker = "<!-- section -->";

struct Doc {
  std::string source;  // "docs/ARCHITECTURE.md"
  std::string page;    // "docs-architecture.html"
  std::string title;
  std::string markdown;
};

class Generator {
 public:
  Generator(const SiteInputs& inputs, int out_fd) : inputs_(inputs), out_fd_(out_fd) {}

  absl::StatusOr<std::vector<std::string>> Run();

 private:
  absl::Status OpenInputs();
  absl::Status LoadDocs();
  std::optional<std::string> MapLink(std::string_view url, std::string_view base_dir) const;
  absl::StatusOr<std::string> RenderBody(std::string_view markdown, std::string_view what,
                                         std::string_view base_dir) const;
  std::string Layout(std::string_view title, std::string_view current, std::string_view body) const;
  absl::Status Write(std::string_view name, std::string_view contents);
  absl::Status CopyAssets();

  const SiteInputs& inputs_;
  int out_fd_;
  UniqueFd content_fd_, data_fd_, assets_fd_, docs_fd_, workspace_fd_;
  std::vector<Doc> docs_;
  bool has_favicon_ = false;
  std::vector<std::string> written_;
};

absl::Status Generator::OpenInputs() {
  struct Dir {
    const std::string* path;
    UniqueFd* fd;
    std::string_view what;
  };
  for (const Dir& d :
       {Dir{&inputs_.content_dir, &content_fd_, "content"},
        Dir{&inputs_.data_dir, &data_fd_, "data"}, Dir{&inputs_.assets_dir, &assets_fd_, "assets"},
        Dir{&inputs_.workspace_dir, &workspace_fd_, "workspace"}}) {
    auto fd = fs::OpenDir(*d.path);
    if (!fd.ok()) return Annotate(fd.status(), StrCat("opening the ", d.what, " directory"));
    *d.fd = *std::move(fd);
  }
  // A repository without docs/ yet is fine: the docs page then says so.
  auto docs = fs::OpenDir(inputs_.docs_dir);
  if (docs.ok()) {
    docs_fd_ = *std::move(docs);
  } else if (!absl::IsNotFound(docs.status())) {
    return Annotate(docs.status(), "opening the docs directory");
  }
  has_favicon_ = IsRegularInput(assets_fd_.get(), "favicon.svg");
  return absl::OkStatus();
}

absl::Status Generator::LoadDocs() {
  if (!docs_fd_.valid()) return absl::OkStatus();
  ONIX_ASSIGN_OR_RETURN(std::vector<std::string> names, fs::ListDir(docs_fd_.get()));
  std::set<std::string> pages;
  for (const std::string& name : names) {
    if (name.size() <= 3 || name.compare(name.size() - 3, 3, ".md") != 0 || name[0] == '.') {
      continue;
    }
    Doc doc;
    doc.source = StrCat("docs/", name);
    doc.page = StrCat("docs-", Slugify(name.substr(0, name.size() - 3)), ".html");
    if (!pages.insert(doc.page).second) {
      return InvalidArgument(StrCat("reading ", doc.source, ": another doc also maps to ", doc.page,
                                    "; rename one of them"));
    }
    auto text = ReadInput(docs_fd_.get(), name);
    if (!text.ok()) return Annotate(text.status(), StrCat("reading ", doc.source));
    doc.markdown = std::move(text->contents);
    doc.title = FirstHeading(doc.markdown).value_or(name);
    docs_.push_back(std::move(doc));
  }
  return absl::OkStatus();
}

// Collapses "a/../b" and "./" so "docs/../README.md" compares as "README.md". nullopt when
// the path climbs above the repository root.
std::optional<std::string> NormalizePath(std::string_view path) {
  std::vector<std::string> parts;
  for (std::string& part : fs::SplitPath(path)) {
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (parts.empty()) return std::nullopt;
      parts.pop_back();
      continue;
    }
    parts.push_back(std::move(part));
  }
  return absl::StrJoin(parts, "/");
}

// Links in docs/*.md are written for the repository (GitHub renders them there); links in
// site/content/*.md are written relative to the repository root ("docs/X.md") or name pages
// ("cli.html", "cli.md"). On the site every link must point at a page. Links to sources that have a
// page are rewritten, links to other repository files lose their href (the text stays) so no link
// on the site is broken.
std::optional<std::string> Generator::MapLink(std::string_view url,
                                              std::string_view base_dir) const {
  if (url.empty() || url[0] == '#') return std::string(url);
  const size_t colon = url.find(':');
  if (colon != std::string_view::npos && url.find('/') > colon) return std::string(url);
  std::string_view path = url.substr(0, url.find('#'));
  std::optional<std::string> norm =
      NormalizePath(base_dir.empty() ? std::string(path) : StrCat(base_dir, "/", path));
  if (!norm.has_value()) return std::nullopt;
  if (*norm == "README.md") return "index.html";
  for (const Doc& doc : docs_) {
    if (doc.source == *norm || doc.page == *norm) return doc.page;
  }
  for (const PageSpec& page : kPages) {
    if (*norm == StrCat("site/content/", page.slug, ".md") || *norm == StrCat(page.slug, ".md") ||
        *norm == StrCat(page.slug, ".html")) {
      return StrCat(page.slug, ".html");
    }
  }
  return std::nullopt;
}

absl::StatusOr<std::string> Generator::RenderBody(std::string_view markdown, std::string_view what,
                                                  std::string_view base_dir) const {
  ONIX_ASSIGN_OR_RETURN(std::string html, RenderMarkdown(markdown, what));
  html = AddHeadingIds(
      RewriteHrefs(html, [&](std::string_view url) { return MapLink(url, base_dir); }));
  // In-page links to headings GitHub would have made but our ids do not match stay as text.
  return RewriteHrefs(html, [&](std::string_view url) -> std::optional<std::string> {
    if (url.empty() || url[0] != '#') return std::string(url);
    if (html.find(StrCat(" id=\"", url.substr(1), "\"")) == std::string::npos) return std::nullopt;
    return std::string(url);
  });
}

std::string Generator::Layout(std::string_view title, std::string_view current,
                              std::string_view body) const {
  std::string nav;
  for (const PageSpec& page : kPages) {
    nav += StrCat("<li><a href=\"", page.slug, ".html\"",
                  page.slug == current ? " aria-current=\"page\"" : "", ">", page.nav, "</a></li>");
  }
  return StrCat(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<meta name=\"color-scheme\" content=\"light dark\">\n"
      "<meta name=\"description\" content=\"ONIX: moss owns the machine, Nix owns the "
      "toolbox.\">\n<title>",
      HtmlEscape(title), " · ONIX</title>\n<link rel=\"stylesheet\" href=\"style.css\">\n",
      has_favicon_ ? "<link rel=\"icon\" href=\"favicon.svg\" type=\"image/svg+xml\">\n" : "",
      "</head>\n<body>\n<a class=\"skip\" href=\"#main\">Skip to content</a>\n"
      "<header class=\"site-header\"><div class=\"wrap\">"
      "<a class=\"brand\" href=\"index.html\">ONIX</a>\n<nav aria-label=\"Site\"><ul>",
      nav, "</ul></nav></div></header>\n<main id=\"main\" class=\"wrap\">\n", body,
      "</main>\n<footer class=\"site-footer\"><div class=\"wrap\">"
      "<p class=\"rule\">moss controls the machine. Nix controls the toolbox.</p>"
      "<p>Generated from the ONIX repository by <code>site/</code>; plain HTML and CSS, no "
      "JavaScript.</p></div></footer>\n</body>\n</html>\n");
}

absl::Status Generator::Write(std::string_view name, std::string_view contents) {
  ONIX_RETURN_IF_ERROR_CTX(
      fs::WriteFileAtomicAt(out_fd_, name, contents, 0644, fs::Durability::kNone),
      StrCat("writing ", name));
  return absl::OkStatus();
}

absl::Status Generator::CopyAssets() {
  ONIX_ASSIGN_OR_RETURN(std::vector<std::string> names, fs::ListDir(assets_fd_.get()));
  if (std::find(names.begin(), names.end(), "style.css") == names.end()) {
    return NotFound(StrCat("reading ", inputs_.assets_dir, ": no style.css"));
  }
  for (const std::string& name : names) {
    // The site is flat: subdirectories of assets/ are not ours to copy.
    if (!IsRegularInput(assets_fd_.get(), name)) continue;
    auto data = ReadInput(assets_fd_.get(), name);
    if (!data.ok()) return Annotate(data.status(), StrCat("copying asset ", name));
    ONIX_RETURN_IF_ERROR(Write(name, data->contents));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> Generator::Run() {
  ONIX_RETURN_IF_ERROR(OpenInputs());
  ONIX_RETURN_IF_ERROR(LoadDocs());
  const SectionSources sources{data_fd_.get(), workspace_fd_.get()};

  auto render_page = [&](std::string_view slug, std::string_view current,
                         SectionFn section) -> absl::Status {
    const std::string source = StrCat("site/content/", slug, ".md");
    auto input = ReadInput(content_fd_.get(), StrCat(slug, ".md"));
    if (!input.ok()) return Annotate(input.status(), StrCat("reading ", source));
    const std::string* markdown = &input->contents;
    ONIX_ASSIGN_OR_RETURN(std::string body, RenderBody(*markdown, source, ""));
    std::string extra;
    if (section != nullptr) {
      ONIX_ASSIGN_OR_RETURN(extra, section(sources));
    } else if (slug == "docs") {
      if (docs_.empty()) {
        extra = "<p>This build found no <code>docs/*.md</code>.</p>\n";
      } else {
        extra = "<ul class=\"doc-list\">\n";
        for (const Doc& doc : docs_) {
          extra += StrCat("<li><a href=\"", doc.page, "\">", HtmlEscape(doc.title), "</a> <code>",
                          HtmlEscape(doc.source), "</code></li>\n");
        }
        extra += "</ul>\n";
      }
    }
    if (size_t at = body.find(kSectionMarker); at != std::string::npos) {
      body.replace(at, kSectionMarker.size(), extra);
    } else {
      body += extra;
    }
    const std::string title = FirstHeading(*markdown).value_or(std::string(slug));
    const std::string file = StrCat(slug, ".html");
    ONIX_RETURN_IF_ERROR(Write(file, Layout(title, current, body)));
    written_.push_back(file);
    return absl::OkStatus();
  };

  for (const PageSpec& page : kPages) {
    ONIX_RETURN_IF_ERROR(render_page(page.slug, page.slug, page.section));
  }
  for (const Doc& doc : docs_) {
    ONIX_ASSIGN_OR_RETURN(std::string body, RenderBody(doc.markdown, doc.source, "docs"));
    body += StrCat("<p class=\"source-note\">Rendered from <code>", HtmlEscape(doc.source),
                   "</code> of the repository.</p>\n");
    ONIX_RETURN_IF_ERROR(Write(doc.page, Layout(doc.title, "docs", body)));
    written_.push_back(doc.page);
  }
  ONIX_RETURN_IF_ERROR(render_page("404", "", nullptr));
  ONIX_RETURN_IF_ERROR(CopyAssets());

  // GitHub Pages: no Jekyll pass over our files, and the custom domain.
  ONIX_RETURN_IF_ERROR(Write(".nojekyll", ""));
  ONIX_RETURN_IF_ERROR(Write("CNAME", StrCat(inputs_.domain, "\n")));
  std::string sitemap =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n";
  for (const std::string& file : written_) {
    if (file == "404.html") continue;
    sitemap += StrCat("  <url><loc>https://", inputs_.domain, "/", file == "index.html" ? "" : file,
                      "</loc></url>\n");
  }
  sitemap += "</urlset>\n";
  ONIX_RETURN_IF_ERROR(Write("sitemap.xml", sitemap));
  return written_;
}

}  // namespace

SiteInputs WorkspaceInputs(const std::string& workspace) {
  SiteInputs in;
  in.content_dir = StrCat(workspace, "/site/content");
  in.data_dir = StrCat(workspace, "/site/data");
  in.assets_dir = StrCat(workspace, "/site/assets");
  in.docs_dir = StrCat(workspace, "/docs");
  in.workspace_dir = workspace;
  return in;
}

absl::StatusOr<std::vector<std::string>> GenerateSite(const SiteInputs& inputs, int out_fd) {
  Generator generator(inputs, out_fd);
  return generator.Run();
}

absl::Status BuildDist(const SiteInputs& inputs, const std::string& dist_path) {
  std::string path = dist_path;
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  const size_t slash = path.rfind('/');
  const std::string parent = slash == std::string::npos ? "." : path.substr(0, slash + 1);
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  const std::string what = StrCat("building ", dist_path);

  auto tmp = TempDir::Make(".dist.new-", parent);
  if (!tmp.ok()) return Annotate(tmp.status(), what);
  // mkdtemp made it 0700; a published site is world-readable.
  if (::fchmod(tmp->fd(), 0755) != 0) {
    const int err = errno;
    return Annotate(ErrnoError(err, StrCat("fchmod(", tmp->path(), ")")), what);
  }
  auto pages = GenerateSite(inputs, tmp->fd());
  if (!pages.ok()) return Annotate(pages.status(), what);
  ONIX_ASSIGN_OR_RETURN(std::vector<std::string> problems, CheckLinks(tmp->fd()));
  if (!problems.empty()) {
    return FailedPrecondition(StrCat(what, ": broken links:\n  ", absl::StrJoin(problems, "\n  ")));
  }

  ONIX_ASSIGN_OR_RETURN(UniqueFd parent_fd, fs::OpenDir(parent));
  const std::string tmp_name = tmp->path().substr(tmp->path().rfind('/') + 1);
  ONIX_ASSIGN_OR_RETURN(bool exists, fs::ExistsAt(parent_fd.get(), name));
  // Commit point: the rename. Before it the old dist/ is untouched; after it the new one is
  // whole. On exchange the old tree now sits under tmp_name and TempDir removes it.
  if (exists) {
    ONIX_RETURN_IF_ERROR_CTX(fs::RenameExchangeAt(parent_fd.get(), tmp_name, parent_fd.get(), name),
                             what);
  } else {
    ONIX_RETURN_IF_ERROR_CTX(
        fs::RenameNoReplaceAt(parent_fd.get(), tmp_name, parent_fd.get(), name), what);
  }
  return absl::OkStatus();
}

}  // namespace onix::site
