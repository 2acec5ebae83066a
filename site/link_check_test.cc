#include "site/link_check.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "moss/base/fs_at.h"
#include "moss/base/temp_dir.h"

namespace onix::site {
namespace {

void Write(const TempDir& dir, const std::string& name, const std::string& text) {
  ASSERT_TRUE(fs::WriteFileAtomicAt(dir.fd(), name, text, 0644, fs::Durability::kNone).ok());
}

std::vector<std::string> Check(const TempDir& dir) {
  auto problems = CheckLinks(dir.fd());
  EXPECT_TRUE(problems.ok()) << problems.status();
  return problems.ok() ? *problems : std::vector<std::string>{"error"};
}

TEST(CheckLinks, AcceptsRelativeLinksFragmentsAndExternalLinks) {
  auto dir = TempDir::Make("links-");
  ASSERT_TRUE(dir.ok());
  Write(*dir, "style.css", "");
  Write(*dir, "a.html",
        "<link rel=\"stylesheet\" href=\"style.css\"><a href=\"b.html#x\">b</a>"
        "<a href=\"#top\">top</a><p id=\"top\"></p><a href=\"https://example.org/\">e</a>"
        "<a href=\"mailto:x@example.org\">m</a><a href=\"b.html?q=1&amp;r=2\">q</a>");
  Write(*dir, "b.html", "<h2 id=\"x\">x</h2><img src=\"style.css\" alt=\"\">");
  EXPECT_TRUE(Check(*dir).empty());
}

TEST(CheckLinks, ReportsMissingFilesAbsoluteLinksEscapesAndMissingFragments) {
  auto dir = TempDir::Make("links-");
  ASSERT_TRUE(dir.ok());
  Write(*dir, "b.html", "<h2 id=\"x\">x</h2>");
  Write(*dir, "a.html",
        "<a href=\"missing.html\">1</a><a href=\"/b.html\">2</a><a href=\"../b.html\">3</a>"
        "<a href=\"b.html#nope\">4</a><img src=\"gone.png\" alt=\"\"><a href=\"\">5</a>");
  EXPECT_EQ(Check(*dir), (std::vector<std::string>{
                             "a.html: href=\"missing.html\" points to a missing file",
                             "a.html: href=\"/b.html\" is not relative",
                             "a.html: href=\"../b.html\" leaves the site or is not a clean path",
                             "a.html: href=\"b.html#nope\" names a fragment the page does not have",
                             "a.html: href=\"\" is empty",
                             "a.html: src=\"gone.png\" points to a missing file",
                         }));
}

}  // namespace
}  // namespace onix::site
