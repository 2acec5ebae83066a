#include "site/generator.h"

#include <fcntl.h>

#include <algorithm>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "moss/base/fs_at.h"
#include "moss/base/str_cat.h"
#include "moss/base/temp_dir.h"
#include "site/input_file.h"
#include "site/link_check.h"

namespace onix::site {
namespace {

// WriteFileAtomicAt takes a name in a directory; this takes a path below `root_fd`.
void WriteAt(int root_fd, const std::string& path, const std::string& contents) {
  const size_t slash = path.rfind('/');
  auto dir = fs::OpenDirAt(root_fd, slash == std::string::npos ? "." : path.substr(0, slash));
  ASSERT_TRUE(dir.ok()) << dir.status();
  ASSERT_TRUE(fs::WriteFileAtomicAt(dir->get(), path.substr(slash + 1), contents, 0644,
                                    fs::Durability::kNone)
                  .ok());
}

std::string Runfile(const std::string& path) {
  return StrCat(std::getenv("TEST_SRCDIR"), "/", std::getenv("TEST_WORKSPACE"), "/", path);
}

// The HTML5 well-formedness we can check without a validator: every non-void element is
// closed in order, and the document has exactly one <main> and one <h1>. Returns the first
// problem, or "" for none.
std::string TagProblem(const std::string& html) {
  static const std::set<std::string> kVoid = {"meta",  "link", "br",     "hr", "img",
                                              "input", "col",  "source", "wbr"};
  std::vector<std::string> open;
  int mains = 0, h1s = 0;
  size_t pos = 0;
  while ((pos = html.find('<', pos)) != std::string::npos) {
    if (html.compare(pos, 4, "<!--") == 0) {
      pos = html.find("-->", pos);
      continue;
    }
    const size_t end = html.find('>', pos);
    if (end == std::string::npos) return "unterminated tag";
    std::string tag = html.substr(pos + 1, end - pos - 1);
    pos = end;
    if (tag.empty() || tag[0] == '!') continue;
    const bool closing = tag[0] == '/';
    std::string name = tag.substr(closing ? 1 : 0, tag.find_first_of(" \t\n") - (closing ? 1 : 0));
    if (closing) {
      if (open.empty() || open.back() != name) {
        return StrCat("</", name, "> closes <", open.empty() ? "" : open.back(), ">");
      }
      open.pop_back();
    } else if (kVoid.count(name) == 0) {
      open.push_back(name);
      mains += name == "main";
      h1s += name == "h1";
    }
  }
  if (!open.empty()) return StrCat("<", open.back(), "> never closed");
  if (mains != 1 || h1s != 1) return StrCat(mains, " <main> and ", h1s, " <h1>");
  return "";
}

class GeneratorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    workspace_ = *TempDir::Make("site-ws-");
    out_ = *TempDir::Make("site-out-");
    inputs_.content_dir = Runfile("site/testdata/content");
    inputs_.data_dir = Runfile("site/testdata/data");
    inputs_.assets_dir = Runfile("site/testdata/assets");
    inputs_.docs_dir = Runfile("site/testdata/docs");
    inputs_.workspace_dir = workspace_.path();
  }

  void WriteWorkspaceFile(const std::string& path, const std::string& contents) {
    ASSERT_TRUE(fs::MkdirAllAt(workspace_.fd(), path.substr(0, path.rfind('/')), 0755).ok());
    WriteAt(workspace_.fd(), path, contents);
  }

  void Generate() {
    auto pages = GenerateSite(inputs_, out_.fd());
    ASSERT_TRUE(pages.ok()) << pages.status();
  }

  std::string Out(const std::string& name) {
    auto text = fs::ReadFileAt(out_.fd(), name);
    EXPECT_TRUE(text.ok()) << name << ": " << text.status();
    return text.ok() ? *text : "";
  }

  TempDir workspace_ = *TempDir::Make("unused-");
  TempDir out_ = *TempDir::Make("unused-");
  SiteInputs inputs_;
};

TEST_F(GeneratorTest, WritesEveryPageAssetsAndPublishingFiles) {
  auto pages = GenerateSite(inputs_, out_.fd());
  ASSERT_TRUE(pages.ok()) << pages.status();
  EXPECT_EQ(*pages,
            (std::vector<std::string>{"index.html", "architecture.html", "ownership.html",
                                      "cli.html", "validation.html", "roadmap.html", "docs.html",
                                      "docs-guide.html", "docs-notes.html", "404.html"}));
  auto names = fs::ListDir(out_.fd());
  ASSERT_TRUE(names.ok());
  for (const char* extra : {".nojekyll", "CNAME", "sitemap.xml", "style.css", "favicon.svg"}) {
    EXPECT_NE(std::find(names->begin(), names->end(), extra), names->end()) << extra;
  }
  EXPECT_EQ(Out("CNAME"), "onix-os.com\n");
  EXPECT_EQ(Out("style.css"), "body { color: black; }\n");
  const std::string sitemap = Out("sitemap.xml");
  EXPECT_NE(sitemap.find("<loc>https://onix-os.com/</loc>"), std::string::npos);
  EXPECT_NE(sitemap.find("<loc>https://onix-os.com/docs-notes.html</loc>"), std::string::npos);
  EXPECT_EQ(sitemap.find("404.html"), std::string::npos);
}

TEST_F(GeneratorTest, PagesAreHtml5WithOneStylesheetAndNoScript) {
  Generate();
  for (const char* page : {"index.html", "cli.html", "docs-guide.html", "404.html"}) {
    const std::string html = Out(page);
    EXPECT_EQ(html.rfind("<!DOCTYPE html>\n<html lang=\"en\">", 0), 0u) << page;
    EXPECT_NE(html.find("<meta charset=\"utf-8\">"), std::string::npos) << page;
    EXPECT_NE(html.find("name=\"viewport\""), std::string::npos) << page;
    EXPECT_NE(html.find("<link rel=\"stylesheet\" href=\"style.css\">"), std::string::npos);
    EXPECT_EQ(html.find("<script"), std::string::npos) << page;
    EXPECT_NE(html.find("</html>\n"), std::string::npos) << page;
  }
  EXPECT_NE(Out("cli.html").find("<title>Fixture cli · ONIX</title>"), std::string::npos);
  EXPECT_NE(Out("cli.html").find("href=\"cli.html\" aria-current=\"page\""), std::string::npos);
}

TEST_F(GeneratorTest, EveryPageIsWellFormed) {
  WriteWorkspaceFile("build/quickstart/onix-status.txt", "<b>not a tag</b>\n");
  Generate();
  auto names = fs::ListDir(out_.fd());
  ASSERT_TRUE(names.ok());
  for (const std::string& name : *names) {
    if (name.size() > 5 && name.substr(name.size() - 5) == ".html") {
      EXPECT_EQ(TagProblem(Out(name)), "") << name;
    }
  }
  EXPECT_NE(TagProblem("<main><h1>x</h1><p></main>"), "");
}

TEST_F(GeneratorTest, DataSectionReplacesTheMarker) {
  Generate();
  const std::string html = Out("ownership.html");
  const size_t intro = html.find("Intro of ownership");
  const size_t table = html.find("<table class=\"ownership\">");
  const size_t after = html.find("After the section.");
  ASSERT_NE(table, std::string::npos);
  EXPECT_LT(intro, table);
  EXPECT_LT(table, after);
  EXPECT_NE(html.find("<td><code>/usr</code></td>"), std::string::npos);
  EXPECT_NE(html.find("exchanged <code>whole</code>"), std::string::npos);
  EXPECT_NE(html.find("never &lt;touched&gt;"), std::string::npos);
}

TEST_F(GeneratorTest, DocsAreDiscoveredAndTheirLinksPointAtPages) {
  Generate();
  const std::string list = Out("docs.html");
  EXPECT_NE(list.find("<a href=\"docs-guide.html\">Fixture guide</a>"), std::string::npos);
  EXPECT_NE(list.find("<a href=\"docs-notes.html\">Fixture notes</a>"), std::string::npos);
  EXPECT_EQ(list.find("ignored"), std::string::npos);
  const std::string guide = Out("docs-guide.html");
  EXPECT_NE(guide.find("<a href=\"docs-notes.html\">notes</a>"), std::string::npos);
  EXPECT_NE(guide.find("<a href=\"index.html\">readme</a>"), std::string::npos);
  // A repository file with no page keeps its text but loses the link.
  EXPECT_NE(guide.find("<a>source</a>"), std::string::npos);
  EXPECT_NE(guide.find("<a href=\"#second-part\">this section</a>"), std::string::npos);
  EXPECT_NE(guide.find("<h2 id=\"second-part\">"), std::string::npos);
  EXPECT_NE(guide.find("<a>a missing one</a>"), std::string::npos);
  EXPECT_NE(guide.find("href=\"https://example.org/\""), std::string::npos);
  // Content links to docs/X.md become the doc's page.
  EXPECT_NE(Out("index.html").find("<a href=\"docs-guide.html\">the guide</a>"), std::string::npos);
}

TEST_F(GeneratorTest, CliShowsCapturedOutputVerbatimAndEscaped) {
  WriteWorkspaceFile("build/quickstart/onix-status.txt", "state 6649-a17c <active>\n");
  Generate();
  const std::string html = Out("cli.html");
  EXPECT_NE(html.find("<pre class=\"capture\"><samp>state 6649-a17c &lt;active&gt;\n</samp></pre>"),
            std::string::npos);
  EXPECT_NE(html.find("captured in <code>build/quickstart/onix-status.txt</code>"),
            std::string::npos);
  // The rollback capture does not exist: the page says so instead of inventing output.
  EXPECT_NE(html.find("No captured run is available: this build found no "
                      "<code>build/quickstart/onix-rollback.txt</code>"),
            std::string::npos);
}

TEST_F(GeneratorTest, CliWithoutAnyCaptureSaysNoRunIsAvailable) {
  Generate();
  const std::string html = Out("cli.html");
  EXPECT_EQ(html.find("class=\"capture\""), std::string::npos);
  EXPECT_NE(html.find("onix-status.txt</code>. Run <code>tools/quickstart</code>"),
            std::string::npos);
}

TEST_F(GeneratorTest, ValidationMatrixShowsResultsFromTheResultsFile) {
  WriteWorkspaceFile("build/vm-results.json", R"({"run": "run 42", "results": [
      {"check": "boot", "composition": "base", "status": "pass"},
      {"check": "boot", "composition": "nix", "status": "fail", "detail": "timeout"},
      {"check": "other", "composition": "base", "status": "skip"}]})");
  Generate();
  const std::string html = Out("validation.html");
  EXPECT_NE(html.find("(run 42)"), std::string::npos);
  EXPECT_NE(html.find("<tr><th scope=\"row\">boots</th><td class=\"result result-pass\">pass</td>"
                      "<td class=\"result result-fail\" title=\"timeout\">fail</td></tr>"),
            std::string::npos);
  EXPECT_NE(html.find("<tr><th scope=\"row\">rolls back</th>"
                      "<td class=\"result result-none\">not run</td>"),
            std::string::npos);
  EXPECT_NE(html.find("1 result(s) for checks this page does not describe"), std::string::npos);
}

TEST_F(GeneratorTest, ValidationMatrixReadsScenarioResultsFromTheTapLog) {
  WriteWorkspaceFile("build/test-vm.log",
                     "vm suite: accelerator none, 2 scenarios\n"
                     "ok 1 - rollback-base (41 s)\n"
                     "not ok 2 - rollback-nix (90 s)\n"
                     "    some guest output\n"
                     "1 passed, 1 failed, 0 skipped\n");
  Generate();
  const std::string html = Out("validation.html");
  // Each cell links to the scenario that produced it, listed below the matrix with its source.
  EXPECT_NE(html.find("<tr><th scope=\"row\">rolls back</th>"
                      "<td class=\"result result-pass\" title=\"(41 s)\">"
                      "<a href=\"#scenario-rollback-base\">pass</a></td>"
                      "<td class=\"result result-fail\" title=\"(90 s)\">"
                      "<a href=\"#scenario-rollback-nix\">fail</a></td></tr>"),
            std::string::npos)
      << html;
  EXPECT_NE(html.find("<dt id=\"scenario-rollback-nix\"><code>rollback-nix</code></dt>"
                      "<dd><code>tests/vm/scenarios/rollback-nix.sh</code>: fail (90 s)</dd>"),
            std::string::npos)
      << html;
  // The suite log is a results file: no "No results file" note beside it.
  EXPECT_EQ(html.find("No results file"), std::string::npos);
  EXPECT_NE(html.find("2 cell(s) from the suite log <code>build/test-vm.log</code>"),
            std::string::npos);
}

TEST_F(GeneratorTest, TapSkipsAreShownAsSkipAndJsonResultsWin) {
  WriteWorkspaceFile("build/test-vm.log",
                     "ok 1 - rollback-base # SKIP no KVM\nok 2 - rollback-nix (3 s)\n");
  WriteWorkspaceFile("build/vm-results.json", R"({"results": [
      {"check": "rollback", "composition": "nix", "status": "fail"}]})");
  Generate();
  const std::string html = Out("validation.html");
  EXPECT_NE(html.find("<td class=\"result result-skip\" title=\"# SKIP no KVM\">"
                      "<a href=\"#scenario-rollback-base\">skip</a></td>"
                      "<td class=\"result result-fail\">fail</td>"),
            std::string::npos)
      << html;
}

TEST_F(GeneratorTest, ACompositionNoImageHasSaysNotBuiltInsteadOfNotRun) {
  auto data = TempDir::Make("site-data-");
  ASSERT_TRUE(data.ok());
  for (const char* name : {"ownership.json", "cli.json", "roadmap.json"}) {
    auto fd = fs::OpenDir(inputs_.data_dir);
    ASSERT_TRUE(fd.ok());
    auto text = ReadInput(fd->get(), name);
    ASSERT_TRUE(text.ok()) << text.status();
    WriteAt(data->fd(), name, text->contents);
  }
  WriteAt(data->fd(), "validation.json", R"({"results_file": "build/vm-results.json",
      "compositions": [{"id": "base", "title": "base"},
                       {"id": "desk", "title": "desktop", "built": false}],
      "checks": [{"id": "boot", "title": "boots"}]})");
  inputs_.data_dir = data->path();
  WriteWorkspaceFile("build/vm-results.json", R"({"results": [
      {"check": "boot", "composition": "base", "status": "pass", "scenario": "base-image-boots"},
      {"check": "boot", "composition": "desk", "status": "pass"}]})");
  auto pages = GenerateSite(inputs_, out_.fd());
  ASSERT_TRUE(pages.ok()) << pages.status();
  const std::string html = Out("validation.html");
  EXPECT_NE(html.find("<tr><th scope=\"row\">boots</th><td class=\"result result-pass\">"
                      "<a href=\"#scenario-base-image-boots\">pass</a></td>"
                      "<td class=\"result result-none\">not built</td></tr>"),
            std::string::npos)
      << html;
  EXPECT_NE(html.find("Not built: no image has this composition yet."), std::string::npos);
}

TEST_F(GeneratorTest, ValidationWithoutResultsFileSaysNotRun) {
  Generate();
  const std::string html = Out("validation.html");
  EXPECT_NE(html.find("No results file"), std::string::npos);
  EXPECT_EQ(html.find("result-pass"), std::string::npos);
}

TEST_F(GeneratorTest, MalformedResultsFileIsAnErrorNamingIt) {
  WriteWorkspaceFile("build/vm-results.json",
                     R"({"results": [{"check": "boot", "composition": "base", "status": "ok"}]})");
  auto pages = GenerateSite(inputs_, out_.fd());
  ASSERT_FALSE(pages.ok());
  EXPECT_EQ(pages.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(pages.status().message().find("build/vm-results.json"), std::string_view::npos);
}

TEST_F(GeneratorTest, UnknownRoadmapStatusIsAnErrorNamingTheFile) {
  auto data = TempDir::Make("site-data-");
  ASSERT_TRUE(data.ok());
  for (const char* name : {"ownership.json", "cli.json", "validation.json"}) {
    auto fd = fs::OpenDir(inputs_.data_dir);
    ASSERT_TRUE(fd.ok());
    auto text = ReadInput(fd->get(), name);
    ASSERT_TRUE(text.ok()) << text.status();
    WriteAt(data->fd(), name, text->contents);
  }
  ASSERT_TRUE(fs::WriteFileAtomicAt(data->fd(), "roadmap.json",
                                    R"({"phases": [{"name": "P", "status": "someday"}]})", 0644,
                                    fs::Durability::kNone)
                  .ok());
  inputs_.data_dir = data->path();
  auto pages = GenerateSite(inputs_, out_.fd());
  ASSERT_FALSE(pages.ok());
  EXPECT_EQ(pages.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(pages.status().message().find("site/data/roadmap.json"), std::string_view::npos);
  EXPECT_NE(pages.status().message().find("someday"), std::string_view::npos);
}

TEST_F(GeneratorTest, MissingContentFileIsNotFoundNamingIt) {
  auto content = TempDir::Make("site-content-");
  ASSERT_TRUE(content.ok());
  inputs_.content_dir = content->path();
  auto pages = GenerateSite(inputs_, out_.fd());
  ASSERT_FALSE(pages.ok());
  EXPECT_EQ(pages.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(pages.status().message().find("site/content/index.md"), std::string_view::npos);
}

TEST_F(GeneratorTest, EveryInternalLinkOfTheFixtureSiteResolves) {
  Generate();
  auto problems = CheckLinks(out_.fd());
  ASSERT_TRUE(problems.ok());
  EXPECT_TRUE(problems->empty()) << (*problems)[0];
}

TEST_F(GeneratorTest, EveryInternalLinkOfTheRealSiteResolves) {
  inputs_.content_dir = Runfile("site/content");
  inputs_.data_dir = Runfile("site/data");
  inputs_.assets_dir = Runfile("site/assets");
  inputs_.docs_dir = Runfile("docs");  // not in the runfiles: the site must still build
  auto pages = GenerateSite(inputs_, out_.fd());
  ASSERT_TRUE(pages.ok()) << pages.status();
  auto problems = CheckLinks(out_.fd());
  ASSERT_TRUE(problems.ok());
  EXPECT_TRUE(problems->empty()) << (*problems)[0];
  EXPECT_NE(Out("index.html").find("moss controls the machine. Nix controls the toolbox."),
            std::string::npos);
  for (const std::string& page : *pages) EXPECT_EQ(TagProblem(Out(page)), "") << page;
}

TEST_F(GeneratorTest, BuildDistReplacesAnExistingDistWhole) {
  const std::string dist = StrCat(workspace_.path(), "/dist");
  ASSERT_TRUE(fs::MkdirAt(workspace_.fd(), "dist", 0755).ok());
  WriteAt(workspace_.fd(), "dist/stale.html", "old");
  ASSERT_TRUE(BuildDist(inputs_, dist).ok());
  EXPECT_TRUE(*fs::ExistsAt(workspace_.fd(), "dist/index.html"));
  EXPECT_FALSE(*fs::ExistsAt(workspace_.fd(), "dist/stale.html"));
  auto st = fs::StatAt(workspace_.fd(), "dist");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->st_mode & 0777, 0755u);
  // Nothing is left beside it: the old tree was removed after the exchange.
  auto names = fs::ListDir(workspace_.fd());
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, std::vector<std::string>{"dist"});
}

TEST_F(GeneratorTest, BuildDistKeepsTheOldDistWhenGenerationFails) {
  const std::string dist = StrCat(workspace_.path(), "/dist");
  ASSERT_TRUE(fs::MkdirAt(workspace_.fd(), "dist", 0755).ok());
  WriteAt(workspace_.fd(), "dist/old.html", "old");
  inputs_.content_dir = StrCat(workspace_.path(), "/no-such-content");
  EXPECT_FALSE(BuildDist(inputs_, dist).ok());
  EXPECT_TRUE(*fs::ExistsAt(workspace_.fd(), "dist/old.html"));
}

}  // namespace
}  // namespace onix::site
