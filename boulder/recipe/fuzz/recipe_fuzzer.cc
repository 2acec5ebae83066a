// libFuzzer target for boulder's two recipe-side parsers: the stone.yaml reader
// (ParseRecipe) and the macro data file reader (MacroSet::AddFile), plus expansion of every
// step the reader accepts. Built with clang++ -fsanitize=fuzzer,address by
// tests/suites/boulder.sh. Besides "no crash", it holds every error to the promise of
// docs/recipes.md: InvalidArgument naming the file and line ("<file>:<line>: ..."), so an
// input that fails any other way aborts and libFuzzer keeps it as a crash.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "boulder/recipe/macros.h"
#include "boulder/recipe/recipe.h"

namespace {

constexpr char kRecipePath[] = "fuzz/stone.yaml";
constexpr char kMacroPath[] = "fuzz/macros.yaml";

// A small macro set with nesting, so expansion depth and unknown names are exercised.
constexpr char kMacros[] = R"M(definitions:
  - prefix: /usr
  - libdir: "%(prefix)/lib"
  - loop: "%(loop)"
actions:
  - make:
      command: make -j%(jobs)
      description: make
  - install:
      command: "%make install DESTDIR=%(installroot)"
      description: install
prelude: |
  set -e
)M";

void Require(const absl::Status& st, const char* file, const char* what) {
  if (st.ok()) return;
  const std::string prefix = std::string(file) + ":";
  const std::string msg(st.message());
  if (st.code() == absl::StatusCode::kInvalidArgument && msg.substr(0, prefix.size()) == prefix &&
      msg.size() > prefix.size() && msg[prefix.size()] >= '0' && msg[prefix.size()] <= '9') {
    return;
  }
  std::fprintf(stderr, "%s: error without <file>:<line>: %s\n", what, st.ToString().c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using onix::boulder::MacroSet;
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  auto recipe = onix::boulder::ParseRecipe(text, kRecipePath);
  Require(recipe.status(), kRecipePath, "ParseRecipe");

  MacroSet from_input;
  Require(from_input.AddFile(text, kMacroPath), kMacroPath, "MacroSet::AddFile");

  if (recipe.ok()) {
    MacroSet macros;
    if (!macros.AddFile(kMacros, "builtin").ok()) std::abort();
    macros.Define("jobs", "2");
    macros.Define("installroot", "/mason/install");
    macros.Define("name", recipe->name);
    for (const auto* step : {&recipe->setup, &recipe->build, &recipe->install, &recipe->check}) {
      auto expanded = macros.Expand(step->script, kRecipePath, step->line);
      Require(expanded.status(), kRecipePath, "MacroSet::Expand");
    }
  }
  return 0;
}
