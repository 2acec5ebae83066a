#include "site/markdown.h"

#include <optional>
#include <string>

#include "gtest/gtest.h"

namespace onix::site {
namespace {

TEST(RenderMarkdown, RendersGithubTablesAndCode) {
  auto html = RenderMarkdown("| a | b |\n|---|---|\n| `x` | y |\n", "t.md");
  ASSERT_TRUE(html.ok());
  EXPECT_NE(html->find("<table>"), std::string::npos);
  EXPECT_NE(html->find("<td><code>x</code></td>"), std::string::npos);
}

TEST(RenderInline, HasNoParagraphWrapper) {
  EXPECT_EQ(*RenderInline("a `b` *c*", "t"), "a <code>b</code> <em>c</em>");
}

TEST(RenderInline, EscapesRawHtml) { EXPECT_EQ(*RenderInline("a <b>", "t"), "a &lt;b&gt;"); }

TEST(HtmlEscape, EscapesMarkupAndQuotes) {
  EXPECT_EQ(HtmlEscape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
}

TEST(FirstHeading, FindsTheFirstH1OutsideCodeFences) {
  EXPECT_EQ(FirstHeading("```\n# not this\n```\nintro\n# Title here  \n## sub\n"), "Title here");
  EXPECT_EQ(FirstHeading("## only sub\n"), std::nullopt);
}

TEST(RewriteHrefs, ReplacesOrDropsEachHref) {
  const std::string out = RewriteHrefs("<a href=\"a.md\">A</a> <a href=\"b\">B</a>",
                                       [](std::string_view url) -> std::optional<std::string> {
                                         if (url == "a.md") return std::string("a.html");
                                         return std::nullopt;
                                       });
  EXPECT_EQ(out, "<a href=\"a.html\">A</a> <a>B</a>");
}

TEST(AddHeadingIds, RepeatedHeadingsGetUniqueIds) {
  EXPECT_EQ(AddHeadingIds("<h2>Notes</h2><h3>Notes</h3>"),
            "<h2 id=\"notes\">Notes</h2><h3 id=\"notes-2\">Notes</h3>");
}

TEST(AddHeadingIds, GivesH2AndH3SlugIds) {
  EXPECT_EQ(AddHeadingIds("<h1>T</h1><h2>Who owns <code>/usr</code>?</h2><h3>A b</h3>"),
            "<h1>T</h1><h2 id=\"who-owns-usr\">Who owns <code>/usr</code>?</h2>"
            "<h3 id=\"a-b\">A b</h3>");
}

}  // namespace
}  // namespace onix::site
