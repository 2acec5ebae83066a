// The data-driven parts of the site: each turns one JSON file of site/data (and, for the CLI
// and validation pages, a file captured by a real run) into an HTML fragment.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace onix::site {

// Where a section reads from. `workspace_fd` is the repository root: captured outputs and
// results files named in the data files are relative to it and are optional.
struct SectionSources {
  int data_fd = -1;
  int workspace_fd = -1;
};

// ownership.json: {"rows": [{"path", "owner", "notes"}]} -> a table. Cells are inline
// Markdown. InvalidArgument naming the file for a malformed document.
absl::StatusOr<std::string> OwnershipSection(const SectionSources& src);

// cli.json: {"commands": [{"name", "synopsis", "summary", "options": [{"flag", "help"}],
// "capture": "<workspace-relative file>"}]} -> one block per command. A command's captured
// output is shown verbatim when the file exists; otherwise the page says no captured run is
// available. Nothing is ever invented.
absl::StatusOr<std::string> CliSection(const SectionSources& src);

// roadmap.json: {"phases": [{"name", "status": "done|in-progress|planned", "summary",
// "items": [...]}]} -> an ordered list of phases with their status.
absl::StatusOr<std::string> RoadmapSection(const SectionSources& src);

// validation.json: {"results_file", "tap_log", "compositions": [{"id", "title",
// "description"}], "checks": [{"id", "title", "description", "scenarios": {"<composition>":
// "<scenario>"}}]} plus, when they exist, the JSON results file and the TAP log of a suite
// (formats in site/README.md) -> the composition matrix with the latest pass/fail. A cell
// with a JSON result ignores the TAP log.
absl::StatusOr<std::string> ValidationSection(const SectionSources& src);

}  // namespace onix::site
