// The ONIX website generator: Markdown content + JSON data + the repository's docs/*.md +
// captured outputs of real runs -> a flat static site (plain files, no JavaScript).
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace onix::site {

// Where the generator reads. Paths may be absolute or relative to the current directory.
struct SiteInputs {
  std::string content_dir;    // index.md, architecture.md, ... 404.md (site/content)
  std::string data_dir;       // ownership.json, cli.json, roadmap.json, validation.json
  std::string assets_dir;     // style.css and anything else copied verbatim
  std::string docs_dir;       // the repository's docs/: every *.md becomes a page
  std::string workspace_dir;  // root that captured outputs and results files are relative to
  std::string domain = "onix-os.com";  // for CNAME and the absolute URLs of sitemap.xml
};

// The inputs of the real site in a checkout rooted at `workspace`: site/content, site/data,
// site/assets, docs, and the workspace itself for captured outputs (build/...).
SiteInputs WorkspaceInputs(const std::string& workspace);

// Writes the whole site into the (empty) directory `out_fd`: index.html and one page per
// content file, docs-<name>.html per doc, 404.html, the assets, .nojekyll, CNAME and
// sitemap.xml. Returns the names of the HTML pages written. Errors name the input file and
// the problem (a missing content file, malformed data); the output is then incomplete and
// the caller discards it.
absl::StatusOr<std::vector<std::string>> GenerateSite(const SiteInputs& inputs, int out_fd);

// Generates into a fresh temporary directory beside `dist_path`, checks every internal link
// (FailedPrecondition listing the broken ones) and only then puts it in place of
// `dist_path` with one rename (an exchange when it exists). A failure or crash leaves the
// previous dist/ whole, plus at most a ".dist.new-*" directory beside it.
absl::Status BuildDist(const SiteInputs& inputs, const std::string& dist_path);

}  // namespace onix::site
