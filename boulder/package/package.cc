#include "boulder/package/package.h"

#include <fcntl.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <set>

#include "boulder/util/util.h"
#include "moss/base/fd.h"
#include "moss/base/fs_at.h"
#include "moss/base/json.h"
#include "moss/base/sha256.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "moss/stone/stone.h"
#include "nlohmann/json.hpp"
#include "yaml-cpp/yaml.h"

namespace onix::boulder {

namespace {

using nlohmann::json;
using stone::Dependency;

// Replaces every "%(name)" in `pattern` with the recipe's name.
std::string Fill(std::string s, const std::string& name) {
  for (size_t p = s.find("%(name)"); p != std::string::npos; p = s.find("%(name)", p)) {
    s.replace(p, 7, name);
    p += name.size();
  }
  return s;
}

json DepsJson(const std::vector<Dependency>& deps) {
  json a = json::array();
  for (const Dependency& d : deps) a.push_back(d.ToString());
  return a;
}

// Flattens a JSON value into "path = value" lines for a readable diff.
void Flatten(const json& j, const std::string& prefix, std::vector<std::string>* out) {
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it)
      Flatten(it.value(), prefix + "." + it.key(), out);
  } else if (j.is_array()) {
    for (size_t i = 0; i < j.size(); ++i) {
      std::string key = StrCat(prefix, "[", i, "]");
      if (j[i].is_object() && j[i].contains("name"))
        key = StrCat(prefix, "[", DumpJson(j[i]["name"]), "]");
      if (j[i].is_object() && j[i].contains("path"))
        key = StrCat(prefix, "[", DumpJson(j[i]["path"]), "]");
      Flatten(j[i], key, out);
    }
  } else {
    out->push_back(StrCat(prefix, " = ", DumpJson(j)));
  }
}

absl::Status CompareManifests(const json& want, const json& got, const std::string& file) {
  std::vector<std::string> a, b;
  Flatten(want, "", &a);
  Flatten(got, "", &b);
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  std::vector<std::string> only_want, only_got;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(only_want));
  std::set_difference(b.begin(), b.end(), a.begin(), a.end(), std::back_inserter(only_got));
  if (only_want.empty() && only_got.empty()) return absl::OkStatus();
  std::string msg = StrCat("the build differs from the manifest ", file, ":");
  int shown = 0;
  for (const std::string& l : only_want) {
    if (shown++ < 20) msg += StrCat("\n  - ", l);
  }
  for (const std::string& l : only_got) {
    if (shown++ < 40) msg += StrCat("\n  + ", l);
  }
  return FailedPrecondition(msg);
}

// Recreates `usr_path` of the install root in the package tree `tree` (a hardlink for
// files, a copy of the link for symlinks), creating parent directories with mode 0755.
absl::Status StageFile(const std::string& install_root, const std::string& tree,
                       const std::string& usr_path) {
  const std::string src = install_root + usr_path;
  const std::string dst = tree + usr_path;
  ONIX_RETURN_IF_ERROR(MakeDirs(dst.substr(0, dst.rfind('/'))));
  struct stat st;
  if (::lstat(src.c_str(), &st) != 0) {
    const int err = errno;
    return ErrnoError(err, StrCat("stat ", src));
  }
  if (S_ISLNK(st.st_mode)) {
    ONIX_ASSIGN_OR_RETURN(std::string target, fs::ReadLinkAt(AT_FDCWD, src));
    return fs::SymlinkAt(target, AT_FDCWD, dst);
  }
  return fs::LinkAt(AT_FDCWD, src, AT_FDCWD, dst);
}

}  // namespace

std::string SplitFile(const std::string& macro_dir) { return StrCat(macro_dir, "/../split.yaml"); }

absl::StatusOr<std::vector<SplitPackage>> LoadSplit(const std::string& path) {
  ONIX_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  std::vector<SplitPackage> out;
  auto where = [&](const YAML::Node& n) { return StrCat(path, ":", n.Mark().line + 1); };
  try {
    const YAML::Node doc = YAML::Load(text);
    const YAML::Node packages = doc.IsMap() ? doc["packages"] : YAML::Node();
    if (!packages || !packages.IsSequence() || doc.size() != 1) {
      return InvalidArgument(StrCat(path, ": expected one field, a `packages` list"));
    }
    for (const YAML::Node& item : packages) {
      if (!item.IsMap() || item.size() != 1 || !item.begin()->second.IsMap()) {
        return InvalidArgument(StrCat(where(item), ": expected NAME: {summary, paths}"));
      }
      SplitPackage pkg;
      pkg.name = item.begin()->first.as<std::string>();
      for (const auto& kv : item.begin()->second) {
        const std::string key = kv.first.as<std::string>();
        if (key == "summary") {
          pkg.summary = kv.second.as<std::string>();
          continue;
        }
        if (key != "paths" && key != "symlinks") {
          return InvalidArgument(StrCat(where(kv.first), ": unknown field ", key,
                                        " (expected summary, paths, symlinks)"));
        }
        if (!kv.second.IsSequence()) {
          return InvalidArgument(StrCat(where(kv.second), ": ", key, " must be a list"));
        }
        for (const YAML::Node& g : kv.second) {
          const std::string glob = g.as<std::string>();
          if (glob.rfind("/usr/", 0) != 0) {
            return InvalidArgument(StrCat(where(g), ": glob ", glob, " is not below /usr/"));
          }
          (key == "paths" ? pkg.paths : pkg.symlinks).push_back(glob);
        }
      }
      out.push_back(std::move(pkg));
    }
  } catch (const YAML::Exception& e) {
    return InvalidArgument(StrCat(path, ":", e.mark.line + 1, ": ", e.msg));
  }
  return out;
}

bool PathMatches(const std::string& glob, const std::string& path) {
  if (::fnmatch(glob.c_str(), path.c_str(), 0) == 0) return true;
  std::string dir = glob;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
         path[dir.size()] == '/';
}

std::vector<PackagePlan> PlanPackages(const Recipe& recipe, const std::vector<SplitPackage>& split,
                                      const std::vector<std::string>& paths,
                                      const std::vector<std::string>& symlinks) {
  std::vector<PackagePlan> plans;
  auto find = [&](const std::string& name) -> PackagePlan& {
    for (PackagePlan& p : plans) {
      if (p.spec.name == name) return p;
    }
    plans.emplace_back();
    plans.back().spec.name = name;
    return plans.back();
  };
  // Matching order: recipe packages' globs, then the defaults' globs.
  struct Rule {
    std::string package;
    std::string glob;
    bool symlink_only;
  };
  std::vector<Rule> rules;
  for (const PackageSpec& spec : recipe.packages) {
    PackagePlan& p = find(spec.name);
    p.spec.summary = spec.summary;
    p.spec.description = spec.description;
    p.spec.rundeps = spec.rundeps;
    p.spec.provides = spec.provides;
    p.spec.line = spec.line;
    for (const std::string& g : spec.paths) rules.push_back({spec.name, g, false});
  }
  for (const SplitPackage& d : split) {
    const std::string name = Fill(d.name, recipe.name);
    PackagePlan& p = find(name);
    if (p.spec.summary.empty()) p.spec.summary = Fill(d.summary, recipe.name);
    for (const std::string& g : d.paths) rules.push_back({name, g, false});
    for (const std::string& g : d.symlinks) rules.push_back({name, g, true});
  }
  PackagePlan& main = find(recipe.name);
  if (main.spec.summary.empty()) main.spec.summary = recipe.summary;
  const std::set<std::string> links(symlinks.begin(), symlinks.end());
  for (const std::string& path : paths) {
    std::string owner = recipe.name;
    for (const Rule& r : rules) {
      if (r.symlink_only && !links.count(path)) continue;
      if (PathMatches(r.glob, path)) {
        owner = r.package;
        break;
      }
    }
    find(owner).files.push_back(path);
  }
  for (PackagePlan& p : plans) {
    if (p.spec.description.empty()) p.spec.description = recipe.description;
  }
  std::erase_if(
      plans, [&](const PackagePlan& p) { return p.files.empty() && p.spec.name != recipe.name; });
  // The main package first, then by name: a stable order for outputs and the manifest.
  std::stable_sort(plans.begin(), plans.end(), [&](const PackagePlan& a, const PackagePlan& b) {
    if ((a.spec.name == recipe.name) != (b.spec.name == recipe.name)) {
      return a.spec.name == recipe.name;
    }
    return a.spec.name < b.spec.name;
  });
  return plans;
}

std::string StoneFileName(const stone::Meta& meta) {
  return StrCat(meta.name, "-", meta.version, "-", meta.source_release, "-", meta.build_release,
                "-", meta.architecture, ".stone");
}

absl::StatusOr<EmitResult> EmitPackages(const EmitRequest& req) {
  const Recipe& recipe = *req.recipe;
  // Every path of the install root, and which are symlinks.
  std::vector<std::string> paths, symlinks;
  {
    ONIX_ASSIGN_OR_RETURN(std::string listing,
                          RunCommandOk({"find", "usr", "-mindepth", "1", "(", "-type", "f", "-o",
                                        "-type", "l", ")", "-printf", "%y %p\\n"},
                                       req.install_root));
    size_t start = 0;
    while (start < listing.size()) {
      size_t end = listing.find('\n', start);
      if (end == std::string::npos) end = listing.size();
      const std::string line = listing.substr(start, end - start);
      start = end + 1;
      if (line.size() < 3) continue;
      const std::string p = "/" + line.substr(2);
      paths.push_back(p);
      if (line[0] == 'l') symlinks.push_back(p);
    }
    std::sort(paths.begin(), paths.end());
  }
  std::vector<PackagePlan> plans = PlanPackages(recipe, req.split, paths, symlinks);

  ONIX_RETURN_IF_ERROR(MakeDirs(req.output_dir));
  std::string staging_tmpl = StrCat(req.output_dir, "/.boulder-staging-XXXXXX");
  if (::mkdtemp(staging_tmpl.data()) == nullptr) {
    const int err = errno;
    return ErrnoError(err, StrCat("creating a staging directory in ", req.output_dir));
  }
  const std::string staging = staging_tmpl;
  struct Cleanup {
    std::string dir;
    ~Cleanup() { (void)RemoveTree(dir); }
  } cleanup{staging};

  json manifest;
  manifest["format"] = "onix-boulder-manifest-1";
  manifest["recipe"] = {{"name", recipe.name},
                        {"version", recipe.version},
                        {"release", recipe.release},
                        {"sha256", recipe.digest.Hex()}};
  manifest["source_date_epoch"] = recipe.source_date_epoch;
  json sources = json::array();
  for (const SourceRecord& s : req.sources) {
    sources.push_back({{"url", s.url}, {"kind", s.kind}, {"hash", s.hash}, {"sha256", s.digest}});
  }
  manifest["sources"] = sources;
  // Provenance (Meta tag 17 of every stone below): one line per upstream, then the recipe's
  // own `inputs:` lines, in order.
  std::vector<std::string> inputs;
  for (const SourceRecord& s : req.sources) {
    inputs.push_back(s.kind == "git"
                         ? StrCat("upstream ", s.url, " git:", s.hash, " sha256:", s.digest)
                         : StrCat("upstream ", s.url, " sha256:", s.digest));
  }
  inputs.insert(inputs.end(), recipe.inputs.begin(), recipe.inputs.end());
  manifest["inputs"] = recipe.inputs;
  json builddeps = json::array();
  for (const BuildDepRecord& b : req.builddeps) {
    builddeps.push_back({{"dep", b.dep}, {"from", b.source}, {"sha256", b.sha256}});
  }
  manifest["builddeps"] = builddeps;
  manifest["toolchain"] = req.toolchain;
  json packages = json::array();

  EmitResult result;
  std::vector<std::string> names;
  for (const PackagePlan& plan : plans) {
    stone::Meta meta;
    meta.name = plan.spec.name;
    meta.version = recipe.version;
    meta.source_release = recipe.release;
    meta.build_release = 1;
    meta.architecture = "x86_64";
    meta.summary = plan.spec.summary;
    meta.description = plan.spec.description;
    meta.homepage = recipe.homepage;
    meta.licenses = recipe.licenses;
    meta.source_id = recipe.name;
    meta.inputs = inputs;
    std::set<Dependency> provides, depends, private_provides;
    for (const std::string& f : plan.files) {
      auto it = req.facts.find(f);
      if (it == req.facts.end()) continue;
      provides.insert(it->second.provides.begin(), it->second.provides.end());
      depends.insert(it->second.depends.begin(), it->second.depends.end());
      private_provides.insert(it->second.private_provides.begin(),
                              it->second.private_provides.end());
    }
    for (const Dependency& p : private_provides) depends.erase(p);
    for (const std::string& d : plan.spec.provides) {
      auto dep = Dependency::Parse(d);
      if (!dep.ok()) {
        return InvalidArgument(StrCat(recipe.Where(plan.spec.line), ": ", dep.status().message()));
      }
      provides.insert(*dep);
    }
    for (const Dependency& p : provides) depends.erase(p);
    for (const std::string& d : plan.spec.rundeps) {
      auto dep = Dependency::Parse(d);
      if (!dep.ok()) {
        return InvalidArgument(StrCat(recipe.Where(plan.spec.line), ": ", dep.status().message()));
      }
      depends.insert(*dep);
    }
    const bool is_main = meta.name == recipe.name;
    if (!is_main && meta.name != recipe.name + "-dbginfo") {
      Dependency d;
      d.name = recipe.name;
      depends.insert(d);
    }
    meta.provides.assign(provides.begin(), provides.end());
    meta.depends.assign(depends.begin(), depends.end());

    const std::string tree = StrCat(req.scratch_dir, "/pkg-", meta.name);
    ONIX_RETURN_IF_ERROR(RemoveTree(tree));
    ONIX_RETURN_IF_ERROR(MakeDirs(tree + "/usr"));
    for (const std::string& f : plan.files) {
      ONIX_RETURN_IF_ERROR_CTX(StageFile(req.install_root, tree, f),
                               StrCat("staging ", f, " for package ", meta.name));
    }
    // Staged directories are created 0755 whatever the umask.
    ONIX_RETURN_IF_ERROR(
        RunCommandOk({"find", tree, "-type", "d", "-exec", "chmod", "0755", "{}", "+"}).status());
    ONIX_ASSIGN_OR_RETURN(UniqueFd tree_fd, fs::OpenDir(tree + "/usr"));
    stone::WriteOptions opts;
    opts.source_date_epoch = recipe.source_date_epoch;
    opts.threads = 1;
    const std::string file_name = StoneFileName(meta);
    const std::string out = StrCat(staging, "/", file_name);
    ONIX_RETURN_IF_ERROR_CTX(stone::WriteBinaryStone(meta, tree_fd.get(), out, opts),
                             StrCat("writing stone ", file_name));
    ONIX_ASSIGN_OR_RETURN(stone::StoneReader reader, stone::StoneReader::Open(out));
    ONIX_ASSIGN_OR_RETURN(std::string stone_bytes, ReadFile(out));
    const uint64_t size = stone_bytes.size();
    json files = json::array();
    for (const stone::LayoutEntry& e : reader.layout()) {
      json jf = {{"path", "/usr/" + e.path}, {"mode", e.mode}};
      switch (e.kind) {
        case stone::FileKind::kRegular:
          jf["kind"] = "file";
          jf["sha256"] = e.digest.Hex();
          jf["size"] = e.size;
          break;
        case stone::FileKind::kSymlink:
          jf["kind"] = "symlink";
          jf["target"] = e.target;
          break;
        case stone::FileKind::kDirectory:
          jf["kind"] = "dir";
          break;
      }
      files.push_back(jf);
    }
    packages.push_back({{"name", meta.name},
                        {"stone", file_name},
                        {"sha256", Sha256Of(stone_bytes).Hex()},
                        {"size", size},
                        {"depends", DepsJson(meta.depends)},
                        {"provides", DepsJson(meta.provides)},
                        {"files", files}});
    names.push_back(file_name);
    result.metas.push_back(meta);
  }
  manifest["packages"] = packages;
  // Replace, not throw, on invalid UTF-8: the writer refused such Meta already, and a path
  // from the build tree is not ours to trust.
  const std::string manifest_text = DumpJson(manifest, 2) + "\n";

  if (!req.check_manifest.empty()) {
    ONIX_ASSIGN_OR_RETURN(std::string committed, ReadFile(req.check_manifest));
    json want;
    try {
      want = json::parse(committed);
    } catch (const json::exception& e) {
      return InvalidArgument(StrCat("reading manifest ", req.check_manifest, ": ", e.what()));
    }
    ONIX_RETURN_IF_ERROR(CompareManifests(want, manifest, req.check_manifest));
  }
  ONIX_RETURN_IF_ERROR(WriteFile(StrCat(staging, "/manifest.json"), manifest_text));
  // Commit point: the renames into output_dir.
  ONIX_ASSIGN_OR_RETURN(UniqueFd out_fd, fs::OpenDir(req.output_dir));
  ONIX_ASSIGN_OR_RETURN(UniqueFd staging_fd, fs::OpenDir(staging));
  for (const std::string& n : names) {
    ONIX_RETURN_IF_ERROR(fs::RenameAt(staging_fd.get(), n, out_fd.get(), n));
    result.stones.push_back(StrCat(req.output_dir, "/", n));
  }
  ONIX_RETURN_IF_ERROR(
      fs::RenameAt(staging_fd.get(), "manifest.json", out_fd.get(), "manifest.json"));
  ONIX_RETURN_IF_ERROR(fs::FsyncDirAt(out_fd.get()));
  result.manifest_path = StrCat(req.output_dir, "/manifest.json");
  return result;
}

}  // namespace onix::boulder
