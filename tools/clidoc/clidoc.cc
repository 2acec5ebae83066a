#include "tools/clidoc/clidoc.h"

#include <cstdio>
#include <string>
#include <vector>

#include "moss/base/str_cat.h"

namespace onix::clidoc {
namespace {

std::vector<const CLI::App*> Subcommands(const CLI::App& app) {
  return app.get_subcommands([](const CLI::App* sub) { return !sub->get_name().empty(); });
}

std::vector<const CLI::Option*> Options(const CLI::App& app) {
  return app.get_options([](const CLI::Option* o) { return !o->get_positional(); });
}

std::vector<std::string> OptionNames(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::Option* o : Options(app)) {
    for (const auto& s : o->get_snames()) names.push_back("-" + s);
    for (const auto& l : o->get_lnames()) names.push_back("--" + l);
  }
  return names;
}

// Roff needs leading dots/quotes and backslashes escaped, and '-' as \- in option names.
std::string Roff(std::string_view text) {
  std::string out;
  bool line_start = true;
  for (char c : text) {
    if (line_start && (c == '.' || c == '\'')) out += "\\&";
    if (c == '\\') {
      out += "\\e";
    } else if (c == '-') {
      out += "\\-";
    } else {
      out.push_back(c);
    }
    line_start = c == '\n';
  }
  return out;
}

void ManSection(const CLI::App& app, const std::string& path, std::string& out) {
  const auto subs = Subcommands(app);
  if (!path.empty()) {
    out += StrCat(".SS \"", Roff(path), "\"\n", Roff(app.get_description()), "\n");
  }
  for (const CLI::Option* o : app.get_options()) {
    if (o->get_name().empty()) continue;
    out += StrCat(
        ".TP\n.B ", Roff(o->get_name(false, true)), "\n",
        Roff(o->get_description().empty() ? std::string("(no description)") : o->get_description()),
        "\n");
  }
  const std::string footer = app.get_footer();
  if (!footer.empty() && !path.empty()) out += StrCat(".PP\n.nf\n", Roff(footer), "\n.fi\n");
  for (const CLI::App* sub : subs) {
    ManSection(*sub, path.empty() ? sub->get_name() : StrCat(path, " ", sub->get_name()), out);
  }
}

void CollectPaths(const CLI::App& app, const std::string& path,
                  std::vector<std::pair<std::string, const CLI::App*>>& out) {
  out.emplace_back(path, &app);
  for (const CLI::App* sub : Subcommands(app)) {
    CollectPaths(*sub, path.empty() ? sub->get_name() : StrCat(path, " ", sub->get_name()), out);
  }
}

std::string Join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out += sep;
    out += parts[i];
  }
  return out;
}

std::string Identifier(std::string_view program) {
  std::string id(program);
  for (char& c : id) {
    if (!isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return id;
}

}  // namespace

std::string ManPage(const CLI::App& app, std::string_view program, std::string_view date) {
  std::string out = StrCat(".TH ", Roff(program), " 1 \"", date, "\" \"ONIX\" \"ONIX manual\"\n");
  out += StrCat(".SH NAME\n", Roff(program), " \\- ", Roff(app.get_description()), "\n");
  out += StrCat(".SH SYNOPSIS\n.B ", Roff(program), "\n[\\fIOPTIONS\\fR] \\fICOMMAND\\fR ...\n");
  out += ".SH COMMANDS\n";
  for (const CLI::App* sub : Subcommands(app)) {
    out += StrCat(".TP\n.B ", Roff(sub->get_name()), "\n", Roff(sub->get_description()), "\n");
  }
  out += ".SH OPTIONS\n";
  std::string details;
  ManSection(app, "", details);
  out += details;
  const std::string footer = app.get_footer();
  if (!footer.empty()) out += StrCat(".SH NOTES\n", Roff(footer), "\n");
  return out;
}

std::string BashCompletion(const CLI::App& app, std::string_view program) {
  std::vector<std::pair<std::string, const CLI::App*>> paths;
  CollectPaths(app, "", paths);
  const std::string fn = StrCat("_", Identifier(program));
  std::string out =
      StrCat("# bash completion for ", program, " (generated from its CLI)\n", fn,
             "() {\n  local cur path word\n  cur=\"${COMP_WORDS[COMP_CWORD]}\"\n",
             "  path=\"\"\n  for word in \"${COMP_WORDS[@]:1:COMP_CWORD-1}\"; do\n",
             "    case \"$word\" in -*) ;; *) path=\"${path:+$path }$word\" ;; esac\n",
             "  done\n  case \"$path\" in\n");
  for (const auto& [path, sub] : paths) {
    std::vector<std::string> words;
    for (const CLI::App* s : Subcommands(*sub)) words.push_back(s->get_name());
    for (const auto& o : OptionNames(*sub)) words.push_back(o);
    out += StrCat("    \"", path, "\") COMPREPLY=($(compgen -W \"", Join(words, " "),
                  "\" -- \"$cur\")) ;;\n");
  }
  out += StrCat("    *) COMPREPLY=() ;;\n  esac\n}\ncomplete -F ", fn, " ", program, "\n");
  return out;
}

std::string ZshCompletion(const CLI::App& app, std::string_view program) {
  std::vector<std::pair<std::string, const CLI::App*>> paths;
  CollectPaths(app, "", paths);
  std::string out =
      StrCat("#compdef ", program, "\n# zsh completion for ", program,
             " (generated from its CLI)\nlocal -a words_here\nlocal path=\"\"\n",
             "for w in ${words[2,CURRENT-1]}; do\n",
             "  [[ $w == -* ]] || path=\"${path:+$path }$w\"\ndone\ncase \"$path\" in\n");
  for (const auto& [path, sub] : paths) {
    std::vector<std::string> words;
    for (const CLI::App* s : Subcommands(*sub)) {
      words.push_back(StrCat("'", s->get_name(), ":", s->get_description(), "'"));
    }
    out += StrCat("  \"", path, "\")\n    words_here=(", Join(words, " "), ")\n");
    out += StrCat("    _describe 'command' words_here\n    compadd -- ",
                  Join(OptionNames(*sub), " "), "\n    ;;\n");
  }
  out += "esac\n";
  return out;
}

std::string FishCompletion(const CLI::App& app, std::string_view program) {
  std::vector<std::pair<std::string, const CLI::App*>> paths;
  CollectPaths(app, "", paths);
  std::string out = StrCat("# fish completion for ", program, " (generated from its CLI)\n");
  for (const auto& [path, sub] : paths) {
    // Fish conditions: the exact chain of subcommands seen so far.
    std::string cond =
        path.empty() ? "__fish_use_subcommand"
                     : StrCat("__fish_seen_subcommand_from ", path.substr(path.rfind(' ') + 1));
    for (const CLI::App* s : Subcommands(*sub)) {
      out += StrCat("complete -c ", program, " -f -n '", cond, "' -a ", s->get_name(), " -d '",
                    s->get_description(), "'\n");
    }
    for (const CLI::Option* o : Options(*sub)) {
      std::string line = StrCat("complete -c ", program, " -n '", cond, "'");
      for (const auto& s : o->get_snames()) line += StrCat(" -s ", s);
      for (const auto& l : o->get_lnames()) line += StrCat(" -l ", l);
      out += StrCat(line, " -d '", o->get_description(), "'\n");
    }
  }
  return out;
}

int MaybeGenerate(const CLI::App& app, std::string_view program, int argc, char** argv) {
  if (argc != 3 || std::string_view(argv[1]) != "__generate") return -1;
  const std::string_view what = argv[2];
  std::string text;
  if (what == "man") {
    const char* epoch = std::getenv("SOURCE_DATE_EPOCH");
    text = ManPage(app, program, epoch != nullptr ? epoch : "ONIX");
  } else if (what == "bash") {
    text = BashCompletion(app, program);
  } else if (what == "zsh") {
    text = ZshCompletion(app, program);
  } else if (what == "fish") {
    text = FishCompletion(app, program);
  } else {
    std::fprintf(stderr, "%.*s: __generate takes man, bash, zsh or fish, not '%.*s'\n",
                 static_cast<int>(program.size()), program.data(), static_cast<int>(what.size()),
                 what.data());
    return 2;
  }
  std::fwrite(text.data(), 1, text.size(), stdout);
  return 0;
}

}  // namespace onix::clidoc
