#include "boulder/recipe/recipe.h"

#include <cctype>
#include <exception>
#include <set>
#include <string>
#include <utility>

#include "absl/strings/numbers.h"
#include "boulder/util/util.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "moss/stone/types.h"
#include "yaml-cpp/yaml.h"

namespace onix::boulder {

std::string Recipe::Where(int line) const { return StrCat(path, ":", line); }

namespace {

// Parsing context: the file name and its lines (to see where a block scalar starts).
class Parser {
 public:
  Parser(std::string_view text, const std::string& path) : path_(path) {
    size_t start = 0;
    while (start <= text.size()) {
      size_t end = text.find('\n', start);
      if (end == std::string_view::npos) end = text.size();
      lines_.emplace_back(text.substr(start, end - start));
      start = end + 1;
    }
  }

  // 1-based line of a node.
  int Line(const YAML::Node& n) const { return n.Mark().line + 1; }

  // The line a scalar's text starts on: block scalars ("|", ">") begin on the next line.
  int TextLine(const YAML::Node& n) const {
    const YAML::Mark m = n.Mark();
    if (m.line >= 0 && static_cast<size_t>(m.line) < lines_.size()) {
      const std::string& l = lines_[m.line];
      if (m.column >= 0 && static_cast<size_t>(m.column) < l.size() &&
          (l[m.column] == '|' || l[m.column] == '>')) {
        return m.line + 2;
      }
    }
    return m.line + 1;
  }

  absl::Status Error(int line, std::string_view what) const {
    return InvalidArgument(StrCat(path_, ":", line, ": ", what));
  }
  absl::Status Error(const YAML::Node& n, std::string_view what) const {
    return Error(Line(n), what);
  }

  absl::StatusOr<std::string> Scalar(const YAML::Node& n, std::string_view field) const {
    if (!n.IsScalar()) return Error(n, StrCat("field '", field, "' must be a string"));
    return n.Scalar();
  }

  absl::StatusOr<std::vector<std::string>> StringList(const YAML::Node& n,
                                                      std::string_view field) const {
    std::vector<std::string> out;
    if (n.IsScalar()) {
      out.push_back(n.Scalar());
      return out;
    }
    if (!n.IsSequence()) return Error(n, StrCat("field '", field, "' must be a list of strings"));
    for (const YAML::Node& item : n) {
      if (!item.IsScalar()) {
        return Error(item, StrCat("field '", field, "' must be a list of strings"));
      }
      out.push_back(item.Scalar());
    }
    return out;
  }

  absl::StatusOr<Upstream> ParseUpstream(const YAML::Node& item) const {
    if (!item.IsMap() || item.size() != 1) {
      return Error(item, "an upstream must be '- URL : sha256' or '- git|URL : commit'");
    }
    const auto kv = *item.begin();
    Upstream up;
    up.line = Line(kv.first);
    std::string url = kv.first.Scalar();
    if (url.rfind("git|", 0) == 0) {
      up.kind = Upstream::Kind::kGit;
      url = url.substr(4);
    }
    up.url = url;
    if (kv.second.IsScalar()) {
      up.hash = kv.second.Scalar();
    } else if (kv.second.IsMap()) {
      for (const auto& f : kv.second) {
        const std::string key = f.first.Scalar();
        if (!f.second.IsScalar())
          return Error(f.second, StrCat("upstream '", key, "' must be a string"));
        const std::string value = f.second.Scalar();
        if (key == "hash" || key == "ref") {
          up.hash = value;
        } else if (key == "stripdirs" || key == "strip-components") {
          if (!absl::SimpleAtoi(AbslView(value), &up.strip_components) || up.strip_components < 0) {
            return Error(f.second, StrCat("upstream ", url, ": stripdirs must be a number"));
          }
        } else if (key == "unpackdir" || key == "clonedir") {
          if (value.empty() || value.find('/') != std::string::npos || value == "." ||
              value == "..") {
            return Error(f.second, StrCat("upstream ", url, ": bad unpack dir '", value, "'"));
          }
          up.unpack_dir = value;
        } else {
          return Error(f.first, StrCat("unknown upstream field '", key, "'"));
        }
      }
    } else {
      return Error(kv.second, StrCat("upstream ", url, ": expected a hash or a map"));
    }
    const bool git = up.kind == Upstream::Kind::kGit;
    const size_t want = git ? 40 : 64;
    bool hex = up.hash.size() == want;
    for (char c : up.hash) hex = hex && std::isxdigit(static_cast<unsigned char>(c));
    if (!hex) {
      return Error(up.line, StrCat("upstream ", url, ": '", up.hash, "' is not a ",
                                   git ? "40-hex commit id" : "64-hex sha256"));
    }
    if (up.unpack_dir.empty()) {
      std::string base = url;
      while (!base.empty() && base.back() == '/') base.pop_back();
      base = base.substr(base.rfind('/') + 1);
      for (const char* ext :
           {".tar.gz", ".tgz", ".tar.xz", ".tar.bz2", ".tar.zst", ".tar", ".git"}) {
        const std::string e = ext;
        if (base.size() > e.size() && base.compare(base.size() - e.size(), e.size(), e) == 0) {
          base.resize(base.size() - e.size());
          break;
        }
      }
      if (base.empty() || base == "." || base == "..") {
        return Error(up.line, StrCat("upstream ", url, ": cannot derive a directory name"));
      }
      up.unpack_dir = base;
    }
    return up;
  }

  absl::StatusOr<PackageSpec> ParsePackage(const YAML::Node& item,
                                           const std::string& recipe_name) const {
    if (!item.IsMap() || item.size() != 1) {
      return Error(item, "a package must be '- NAME: {summary, paths, rundeps}'");
    }
    const auto kv = *item.begin();
    PackageSpec spec;
    spec.line = Line(kv.first);
    spec.name = kv.first.Scalar();
    // %(name) is the only macro package names may use; it is expanded here so every later
    // stage sees final names.
    for (size_t p; (p = spec.name.find("%(name)")) != std::string::npos;) {
      spec.name.replace(p, 7, recipe_name);
    }
    if (!kv.second.IsMap())
      return Error(kv.second, StrCat("package ", spec.name, ": expected a map"));
    for (const auto& f : kv.second) {
      const std::string key = f.first.Scalar();
      if (key == "summary") {
        ONIX_ASSIGN_OR_RETURN(spec.summary, Scalar(f.second, key));
      } else if (key == "description") {
        ONIX_ASSIGN_OR_RETURN(spec.description, Scalar(f.second, key));
      } else if (key == "paths") {
        ONIX_ASSIGN_OR_RETURN(spec.paths, StringList(f.second, key));
        for (const std::string& g : spec.paths) {
          if (g.rfind("/usr/", 0) != 0) {
            return Error(f.second,
                         StrCat("package ", spec.name, ": path '", g, "' is not below /usr/"));
          }
        }
      } else if (key == "rundeps" || key == "provides") {
        std::vector<std::string>& list = key == "rundeps" ? spec.rundeps : spec.provides;
        ONIX_ASSIGN_OR_RETURN(list, StringList(f.second, key));
        for (const std::string& d : list) {
          auto dep = stone::Dependency::Parse(d);
          if (!dep.ok()) return Error(f.second, std::string(dep.status().message()));
        }
      } else {
        return Error(f.first, StrCat("package ", spec.name, ": unknown field '", key, "'"));
      }
    }
    return spec;
  }

  absl::StatusOr<Recipe> Parse(const YAML::Node& root) const {
    Recipe r;
    r.path = path_;
    if (!root.IsMap()) return Error(1, "a recipe must be a YAML map");
    std::set<std::string> seen;
    for (const auto& kv : root) {
      const std::string key = kv.first.Scalar();
      const YAML::Node& v = kv.second;
      if (!seen.insert(key).second) return Error(kv.first, StrCat("duplicate field '", key, "'"));
      if (key == "name") {
        ONIX_ASSIGN_OR_RETURN(r.name, Scalar(v, key));
        absl::Status valid = stone::ValidatePackageName(r.name);
        if (!valid.ok()) return Error(v, std::string(valid.message()));
      } else if (key == "version") {
        ONIX_ASSIGN_OR_RETURN(r.version, Scalar(v, key));
        absl::Status valid = stone::ValidateVersion(r.version);
        if (!valid.ok()) return Error(v, std::string(valid.message()));
      } else if (key == "inputs") {
        // Provenance lines (Meta tag 17), written after the upstreams' own lines.
        ONIX_ASSIGN_OR_RETURN(r.inputs, StringList(v, key));
        for (const std::string& line : r.inputs) {
          absl::Status valid =
              stone::ValidateMetaString("input", line, stone::kMaxMetaStringLength);
          if (!valid.ok() || line.empty()) {
            return Error(v, StrCat("inputs: '", EscapeControl(line),
                                   "': ", line.empty() ? "empty" : valid.message()));
          }
        }
      } else if (key == "release") {
        ONIX_ASSIGN_OR_RETURN(std::string s, Scalar(v, key));
        if (!absl::SimpleAtoi(AbslView(s), &r.release) || r.release == 0) {
          return Error(v, StrCat("release must be a positive number, not '", s, "'"));
        }
      } else if (key == "source-date-epoch" || key == "source_date_epoch") {
        ONIX_ASSIGN_OR_RETURN(std::string s, Scalar(v, key));
        if (!absl::SimpleAtoi(AbslView(s), &r.source_date_epoch)) {
          return Error(v, StrCat("source-date-epoch must be seconds since 1970, not '", s, "'"));
        }
      } else if (key == "homepage") {
        ONIX_ASSIGN_OR_RETURN(r.homepage, Scalar(v, key));
      } else if (key == "license") {
        ONIX_ASSIGN_OR_RETURN(r.licenses, StringList(v, key));
      } else if (key == "summary") {
        ONIX_ASSIGN_OR_RETURN(r.summary, Scalar(v, key));
      } else if (key == "description") {
        ONIX_ASSIGN_OR_RETURN(r.description, Scalar(v, key));
        while (!r.description.empty() && r.description.back() == '\n') r.description.pop_back();
      } else if (key == "toolchain") {
        ONIX_ASSIGN_OR_RETURN(r.toolchain, Scalar(v, key));
        if (r.toolchain != "musl" && r.toolchain != "glibc") {
          return Error(v, StrCat("toolchain must be 'musl' or 'glibc', not '", r.toolchain, "'"));
        }
      } else if (key == "upstreams") {
        if (!v.IsSequence()) return Error(v, "upstreams must be a list");
        for (const YAML::Node& item : v) {
          ONIX_ASSIGN_OR_RETURN(Upstream up, ParseUpstream(item));
          r.upstreams.push_back(std::move(up));
        }
      } else if (key == "builddeps") {
        ONIX_ASSIGN_OR_RETURN(r.builddeps, StringList(v, key));
        r.builddeps_line = Line(v);
        for (const std::string& d : r.builddeps) {
          auto dep = stone::Dependency::Parse(d);
          if (!dep.ok()) return Error(v, std::string(dep.status().message()));
        }
      } else if (key == "host-paths" || key == "tools") {
        ONIX_ASSIGN_OR_RETURN(r.host_paths, StringList(v, key));
        for (const std::string& p : r.host_paths) {
          if (p.empty() || p[0] != '/' || p == "/") {
            return Error(v, StrCat("host path '", p, "' must be an absolute directory, not /"));
          }
        }
      } else if (key == "environment") {
        r.environment_line = Line(v);
        if (!v.IsMap()) return Error(v, "environment must be a map of NAME: value");
        for (const auto& e : v) {
          const std::string name = e.first.Scalar();
          bool ok = !name.empty() && !std::isdigit(static_cast<unsigned char>(name[0]));
          for (char c : name) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
          if (!ok) return Error(e.first, StrCat("bad environment variable name '", name, "'"));
          ONIX_ASSIGN_OR_RETURN(std::string value, Scalar(e.second, name));
          r.environment.emplace_back(name, value);
        }
      } else if (key == "setup" || key == "build" || key == "install" || key == "check") {
        Step& step = key == "setup"     ? r.setup
                     : key == "build"   ? r.build
                     : key == "install" ? r.install
                                        : r.check;
        ONIX_ASSIGN_OR_RETURN(step.script, Scalar(v, key));
        step.line = TextLine(v);
      } else if (key == "packages") {
        if (!v.IsSequence()) return Error(v, "packages must be a list");
        for (const YAML::Node& item : v) {
          ONIX_ASSIGN_OR_RETURN(PackageSpec spec, ParsePackage(item, r.name));
          r.packages.push_back(std::move(spec));
        }
      } else {
        return Error(kv.first, StrCat("unknown field '", key, "'"));
      }
    }
    for (const char* required : {"name", "version", "release", "summary", "license"}) {
      if (!seen.count(required)) return Error(1, StrCat("missing required field '", required, "'"));
    }
    if (r.name.empty() || r.version.empty()) return Error(1, "name and version must not be empty");
    // Package names refer to the recipe name, which may come after `packages:`.
    for (PackageSpec& spec : r.packages) {
      if (spec.name.find("%(name)") != std::string::npos) {
        for (size_t p; (p = spec.name.find("%(name)")) != std::string::npos;) {
          spec.name.replace(p, 7, r.name);
        }
      }
      absl::Status valid = stone::ValidatePackageName(spec.name);
      if (!valid.ok()) return Error(spec.line, std::string(valid.message()));
    }
    if (r.source_date_epoch == 0) {
      // A fixed default keeps builds reproducible even when the recipe says nothing.
      r.source_date_epoch = 315532800;  // 1980-01-01, the oldest date zip-style tools accept
    }
    return r;
  }

 private:
  std::string path_;
  std::vector<std::string> lines_;
};

}  // namespace

absl::StatusOr<Recipe> ParseRecipe(std::string_view text, const std::string& path) {
  Parser parser(text, path);
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return parser.Error(e.mark.line + 1, StrCat("parsing YAML: ", e.msg));
  }
  try {
    ONIX_ASSIGN_OR_RETURN(Recipe r, parser.Parse(root));
    r.digest = Sha256Of(text);
    return r;
  } catch (const YAML::Exception& e) {
    return parser.Error(e.mark.line + 1, StrCat("reading recipe: ", e.msg));
  }
}

absl::StatusOr<Recipe> LoadRecipe(const std::string& path) {
  auto text = ReadFile(path);
  if (!text.ok()) return Annotate(text.status(), StrCat("reading recipe ", path));
  return ParseRecipe(*text, path);
}

}  // namespace onix::boulder
