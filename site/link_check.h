// Checks that every link and resource reference in a generated site resolves inside it:
// relative links only, to files that exist, and to #fragments that exist in their page.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace onix::site {

// Scans every *.html file directly in `site_fd` for href="..." and src="..." values.
// External links (with a scheme, e.g. https: or mailto:) are not followed. Returns one line
// per problem ("cli.html: href=\"/x\" is not relative"); empty means every link resolves.
// Errors only when the directory cannot be read.
absl::StatusOr<std::vector<std::string>> CheckLinks(int site_fd);

}  // namespace onix::site
