// Recipe macros (%configure, %(prefix), ...): loaded from data files (boulder/data/macros/
// *.yaml), never hard-coded, and expanded in recipe steps with recipe file:line errors.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace onix::boulder {

// A set of definitions (%(name) -> text) and actions (%name -> shell text), plus the
// prelude every step starts with.
class MacroSet {
 public:
  // Loads every "*.yaml" in `dir`, in name order. A name defined twice is an error naming
  // both files. The file shape (AerynOS's):
  //   definitions: [ {prefix: /usr}, ... ]
  //   actions: [ {configure: {command: "...", description: "..."}}, ... ]
  //   prelude: |        (optional, at most one file)
  //     shell run before every step
  static absl::StatusOr<MacroSet> LoadDir(const std::string& dir);

  // Adds one file's macros (`file` is for messages).
  absl::Status AddFile(std::string_view text, const std::string& file);

  // Sets a definition at run time (name, version, jobs, ...), replacing any earlier value.
  void Define(const std::string& name, std::string value) { definitions_[name] = std::move(value); }

  // Expands `text`: "%(def)" becomes a definition, "%action" an action's command, "%%" a
  // literal "%"; expansions are expanded again (at most 16 deep). A "%" not followed by a
  // letter, "(" or "%" stays as it is (so shell "${x%.c}" needs no escaping). An unknown
  // macro is InvalidArgument "<file>:<line>: unknown macro %name", where the line is
  // `first_line` plus the line of `text` the macro is on.
  absl::StatusOr<std::string> Expand(std::string_view text, const std::string& file,
                                     int first_line) const;

  const std::string& prelude() const { return prelude_; }
  bool HasAction(const std::string& name) const { return actions_.count(name) != 0; }
  bool HasDefinition(const std::string& name) const { return definitions_.count(name) != 0; }

 private:
  absl::StatusOr<std::string> ExpandDepth(std::string_view text, const std::string& file,
                                          int first_line, int depth) const;

  std::map<std::string, std::string> definitions_;
  std::map<std::string, std::string> actions_;
  std::map<std::string, std::string> origin_;  // macro name -> file it came from
  std::string prelude_;
};

// Where boulder finds its macro files: $BOULDER_MACROS_DIR, else the Bazel runfiles of the
// running binary, else <exe dir>/../share/boulder/macros. Empty when none exists.
std::string DefaultMacroDir();

}  // namespace onix::boulder
