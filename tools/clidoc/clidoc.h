// Man pages and shell completions generated from a CLI11 command tree, so they can never
// drift from the options the binaries really accept. Each binary exposes them through a
// hidden `__generate` entry point; Bazel genrules turn that into files at build time.
#pragma once

#include <string>
#include <string_view>

#include "CLI/CLI.hpp"

namespace onix::clidoc {

// A roff man page in section 1 for `program`, with every subcommand, its options and its
// footer (examples) as a section of its own.
std::string ManPage(const CLI::App& app, std::string_view program, std::string_view date);

// Completion scripts: subcommand names at every depth and the option names of each.
std::string BashCompletion(const CLI::App& app, std::string_view program);
std::string ZshCompletion(const CLI::App& app, std::string_view program);
std::string FishCompletion(const CLI::App& app, std::string_view program);

// Handles `argv == {program, "__generate", WHAT}` (WHAT = man|bash|zsh|fish) by printing to
// stdout; returns -1 when argv is not such a request, otherwise the exit code.
int MaybeGenerate(const CLI::App& app, std::string_view program, int argc, char** argv);

}  // namespace onix::clidoc
