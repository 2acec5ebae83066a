// Markdown -> HTML for the ONIX site, through md4c (GitHub dialect), plus the small HTML
// helpers the generator needs (escaping, link rewriting, title extraction).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace onix::site {

// Escapes &, <, >, " and ' for text and attribute values.
std::string HtmlEscape(std::string_view text);

// Renders a whole Markdown document (GitHub dialect: tables, strikethrough, task lists,
// autolinks; raw HTML allowed because the content is ours). InvalidArgument if md4c
// refuses the input; `what` names the source in that message.
absl::StatusOr<std::string> RenderMarkdown(std::string_view markdown, std::string_view what);

// Renders one line of inline Markdown (for table cells read from data files): the result has
// no surrounding <p>, and raw HTML in it is escaped, not passed through.
absl::StatusOr<std::string> RenderInline(std::string_view markdown, std::string_view what);

// The text of the first level-1 ATX heading ("# Title"), if any.
std::optional<std::string> FirstHeading(std::string_view markdown);

// Rewrites every href="..." in `html` through `map`: it gets the (unescaped as written) URL
// and returns the replacement, or nullopt to drop the href (the <a> stays as plain text,
// which is valid HTML5). Used to turn links to Markdown sources into links to pages.
std::string RewriteHrefs(std::string_view html,
                         const std::function<std::optional<std::string>(std::string_view)>& map);

// Adds id="<slug>" to every <h2>/<h3> without an id so pages can link to sections.
std::string AddHeadingIds(std::string_view html);

// "Hello, World!" -> "hello-world": lowercase ASCII letters and digits, '-' between words.
std::string Slugify(std::string_view text);

}  // namespace onix::site
